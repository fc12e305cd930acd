import { describe, expect, it } from 'vitest';
import { OUTBOX_TYPES } from '@billing/db/schema';
import { Webhook } from 'standardwebhooks';
import { NOTIFICATION_TYPES, type BillingNotification } from './notification';
import { NotificationVerificationError, verifyNotification } from './verify-notification';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const notification: BillingNotification = {
  id: 42,
  type: 'user.access_granted',
  sequence: 1,
  subject: 'user:7',
  occurred_at: '2026-12-07T05:00:00.000Z',
  data: {
    user_id: 7,
    customer_id: 'cus_1',
    has_access: true,
    plan_slug: 'pro',
    reason: 'active',
    access_until: null,
    subscription_id: 'sub_1',
    entitlements: [],
    entitlements_complete: true,
    changes: { has_access: [false, true], plan_slug: [null, 'pro'] },
  },
};

/** Signed as the worker signs it: webhook-id = the outbox id. */
function signed(body: string, id = '42', at = new Date(), secret = SECRET): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

describe('verifyNotification', () => {
  const body = JSON.stringify(notification);

  it('returns the notification of a body signed with the secret (string, bytes, Node or Fetch headers)', () => {
    const headers = signed(body);
    expect(verifyNotification(body, headers, SECRET)).toEqual(notification);
    expect(verifyNotification(Buffer.from(body), { ...headers, 'x-other': ['a', 'b'] }, SECRET)).toEqual(notification);
    expect(verifyNotification(body, new Headers(headers), SECRET)).toEqual(notification);
  });

  it.each([
    ['a tampered body', body.replace('"pro"', '"business"'), signed(body), SECRET],
    ['another secret', body, signed(body), 'whsec_' + Buffer.from('another secret of 32 bytes......').toString('base64')],
    ['no signature', body, { 'webhook-id': '42', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) }, SECRET],
    ['a timestamp an hour old', body, signed(body, '42', new Date(Date.now() - 3_600_000)), SECRET],
    ['a webhook-id other than the body’s id', body, signed(body, '43'), SECRET],
    ['a signed body that is no notification', '{"hello":1}', signed('{"hello":1}'), SECRET],
  ])('refuses %s', (_what, payload, headers, secret) => {
    expect(() => verifyNotification(payload, headers, secret)).toThrow(NotificationVerificationError);
  });
});

describe('notification types', () => {
  it('are the outbox’s types, all 16', () => {
    expect([...NOTIFICATION_TYPES].sort()).toEqual([...OUTBOX_TYPES].sort());
    expect(NOTIFICATION_TYPES).toHaveLength(16);
  });
});
