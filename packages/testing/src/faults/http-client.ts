import http from 'node:http';
import { signatureHeader, type StripeEvent } from '@billing/stripe-simulator/events';

export const WEBHOOK_PATH = '/checkout/webhooks/stripe';

export interface HttpAnswer {
  /** The HTTP status; 0 when no response arrived (`error` says why). */
  status: number;
  body: string;
  error?: string;
  /** `performance.now()` when the request was started and when it was answered (or failed). */
  startedAt: number;
  endedAt: number;
}

export interface HttpRequest {
  port: number;
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  /** Sends the body in chunks without a content-length (chunked transfer encoding). */
  chunked?: boolean;
  /** @defaultValue the shared keep-alive agent; `false` for a connection of its own */
  agent?: http.Agent | false;
  /** @defaultValue 15000 */
  timeoutMs?: number;
}

/** Keep-alive connections to 127.0.0.1, shared by a test file's requests. */
export const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request to 127.0.0.1 that always resolves: a status, or status 0 with the error.
 * node:http rather than undici on purpose: the hostile cases send what undici refuses to send
 * (a body on GET, two signature headers, raw paths such as `//x` or `%00`, per-address agents)
 * and read a 413 that arrives while the body is still being written.
 */
export function httpRequest(options: HttpRequest): Promise<HttpAnswer> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (status: number, body: string, error?: string) => {
      if (settled) return;
      settled = true;
      resolve({ status, body, error, startedAt, endedAt: performance.now() });
    };
    const headers: http.OutgoingHttpHeaders = { ...options.headers };
    if (options.body !== undefined && !options.chunked) headers['content-length'] = Buffer.byteLength(options.body);
    let request: http.ClientRequest;
    try {
      request = http.request(
        {
          host: '127.0.0.1',
          port: options.port,
          method: options.method ?? 'POST',
          path: options.path ?? WEBHOOK_PATH,
          headers,
          agent: options.agent ?? keepAliveAgent,
          timeout: options.timeoutMs ?? 15_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => finish(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
          response.on('error', (error) => finish(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), error.message));
        },
      );
    } catch (error) {
      // Node refused to send it at all (e.g. a header it considers invalid): not the server's answer.
      finish(0, '', `not sent: ${(error as Error).message}`);
      return;
    }
    request.on('timeout', () => {
      request.destroy(new Error('timeout'));
    });
    // A server that refuses a body early (413) answers and closes while the client is still
    // writing: the write fails (EPIPE/ECONNRESET) but the answer may already be in. Wait for it briefly.
    request.on('error', (error: NodeJS.ErrnoException) => {
      setTimeout(() => finish(0, '', error.code ?? error.message), 250);
    });
    if (options.body !== undefined && options.chunked) {
      const body = Buffer.from(options.body);
      const step = 64 * 1024;
      for (let offset = 0; offset < body.length; offset += step) request.write(body.subarray(offset, offset + step));
    } else if (options.body !== undefined) {
      request.write(options.body);
    }
    request.end();
  });
}

export interface Delivery extends HttpAnswer {
  eventId: string;
  /** The ingress said the job was already in Redis. */
  duplicate: boolean;
}

/** Posts `event` signed with `secret` exactly as Stripe would (fresh timestamp). */
export async function deliver(port: number, event: StripeEvent, secret: string): Promise<Delivery> {
  const body = JSON.stringify(event);
  const answer = await httpRequest({
    port,
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signatureHeader(body, secret) },
    body,
  });
  let duplicate = false;
  if (answer.status === 200) {
    try {
      duplicate = (JSON.parse(answer.body) as { duplicate?: boolean }).duplicate === true;
    } catch {
      duplicate = false;
    }
  }
  return { ...answer, eventId: event.id, duplicate };
}
