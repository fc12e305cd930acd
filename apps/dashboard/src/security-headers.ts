import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * Helmet's headers for every answer (page, assets, API, 401s), with a CSP cut to what Bull
 * Board 9.10's UI loads: its own scripts (and a highlight worker) and styles from `/static`,
 * inline style attributes and style elements (the page template and the JSON editor write
 * them), the IBM Plex fonts from Google Fonts that its template links, `data:` images, and API
 * calls to its own origin. Its inline `<script type="application/json">` config is data, not
 * script, so `script-src 'self'` holds. Nothing may frame it.
 */
export const securityHeaders: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      scriptSrc: ["'self'"],
      scriptSrcAttr: ["'none'"],
      workerSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
      fontSrc: ["'self'", 'https://fonts.gstatic.com'],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  xFrameOptions: { action: 'deny' },
  // The board speaks plain HTTP on loopback by default; HSTS (and upgrading its requests to
  // https) belongs to the TLS proxy in front of it, which knows the public host name.
  strictTransportSecurity: false,
};
