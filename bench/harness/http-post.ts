import http from 'node:http';
import { WEBHOOK_PATH } from '../settings';

/** POSTs one signed delivery to the webhook path; resolves with the status (0: no answer). */
export function postDelivery(agent: http.Agent, port: number, body: Buffer, signature: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: WEBHOOK_PATH,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'stripe-signature': signature },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });
}
