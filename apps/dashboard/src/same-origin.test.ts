import { describe, expect, it } from 'vitest';
import { crossSiteRefusal } from './same-origin';

// The pure rule; lockdown.test.ts shows it on the board's routes.
describe('crossSiteRefusal', () => {
  it.each([
    ['a read, from anywhere', 'GET', { host: 'h:3001', origin: 'https://evil.example' }],
    ['the board: Origin, no body', 'PUT', { host: 'h:3001', origin: 'http://h:3001' }],
    ['a default port in Host', 'PUT', { host: 'localhost:80', origin: 'http://localhost' }],
    ['https behind a proxy that keeps Host', 'PUT', { host: 'board.example.com', origin: 'https://board.example.com' }],
    ['an IPv6 host', 'PUT', { host: '[::1]:3001', origin: 'http://[::1]:3001' }],
    ['Host in capitals', 'PUT', { host: 'BOARD.test:3001', origin: 'http://board.test:3001' }],
    ['Sec-Fetch-Site without Origin', 'PUT', { host: 'h', 'sec-fetch-site': 'same-origin' }],
    [
      'JSON with a charset',
      'POST',
      { host: 'h', origin: 'http://h', 'content-type': 'application/json; charset=utf-8', 'content-length': '2' },
    ],
  ])('lets through %s', (_label, method, headers) => {
    expect(crossSiteRefusal(method, headers)).toBeUndefined();
  });

  it.each([
    ['a lookalike host', { host: 'h:3001', origin: 'http://h:3001.evil.example' }, 'cross_site'],
    ['another scheme on the same host', { host: 'h:3001', origin: 'ftp://h:3001' }, 'cross_site'],
    ['an origin that is no URL', { host: 'h', origin: 'not a url' }, 'cross_site'],
    ['no Host', { origin: 'http://h' }, 'cross_site'],
    [
      'a cross-site no-cors POST',
      { host: 'h', origin: 'https://evil.example', 'sec-fetch-mode': 'no-cors', 'sec-fetch-site': 'cross-site' },
      'cross_site',
    ],
    ['a chunked body without a content type', { host: 'h', origin: 'http://h', 'transfer-encoding': 'chunked' }, 'content_type'],
    ['an empty text/plain body', { host: 'h', origin: 'http://h', 'content-type': 'text/plain', 'content-length': '0' }, 'content_type'],
  ])('refuses %s', (_label, headers, reason) => {
    expect(crossSiteRefusal('POST', headers)?.reason).toBe(reason);
  });
});
