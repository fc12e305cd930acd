import type { IncomingHttpHeaders } from 'node:http';

/** Why a state-changing request was refused as possibly cross-site. */
export type CrossSiteReason = 'cross_site' | 'content_type';

export interface CrossSiteRefusal {
  reason: CrossSiteReason;
  message: string;
}

/** Methods that only read; every other method may change something and is checked. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * CSRF defence for the board's API (no tokens: Bull Board's UI could not send one).
 * A request that may change something is accepted only when the browser says it comes from the
 * board's own page:
 * 1. `Origin` names this host (the `Host` header, compared with the origin's scheme so default
 *    ports match); `Origin: null` and any other origin are refused. Without `Origin`,
 *    `Sec-Fetch-Site` must be `same-origin`; without either (curl, a script) the request is
 *    refused too: such a client sends `Origin` itself.
 * 2. `Sec-Fetch-Mode` `no-cors` or `navigate` is refused: that is the shape of a cross-site
 *    `fetch(…, { mode: 'no-cors' })` or a form post, never of the board's own XHR.
 * 3. A content type, when given, must be `application/json`: the simple types a cross-site page
 *    may send without a preflight (`text/plain`, forms, multipart) are refused, and so is a body
 *    without a content type. A request without a body needs none: the board's UI sends its
 *    retry, promote and clean requests that way.
 * Returns `undefined` when the request may go on.
 */
export function crossSiteRefusal(method: string, headers: IncomingHttpHeaders): CrossSiteRefusal | undefined {
  if (SAFE_METHODS.has(method.toUpperCase())) return undefined;

  const origin = single(headers.origin);
  const host = single(headers.host);
  if (origin !== undefined) {
    if (!sameHost(origin, host)) return { reason: 'cross_site', message: `origin ${origin.slice(0, 200)} is not this dashboard` };
  } else if (single(headers['sec-fetch-site'])?.toLowerCase() !== 'same-origin') {
    return { reason: 'cross_site', message: 'a request that changes something needs an Origin header naming this dashboard' };
  }

  const mode = single(headers['sec-fetch-mode'])?.toLowerCase();
  if (mode === 'no-cors' || mode === 'navigate') {
    return { reason: 'cross_site', message: `a ${mode} request cannot change anything` };
  }

  const contentType = single(headers['content-type']);
  if (contentType !== undefined) {
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') return { reason: 'content_type', message: 'the content type must be application/json' };
  } else if (hasBody(headers)) {
    return { reason: 'content_type', message: 'a request body must be sent as application/json' };
  }
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const parsed = new URL(origin);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    // `Host` carries no scheme: read it under the origin's, so `localhost:80` equals `http://localhost`.
    return new URL(`${parsed.protocol}//${host}`).host === parsed.host;
  } catch {
    return false;
  }
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = single(headers['content-length']);
  return length !== undefined && length.trim() !== '0';
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
