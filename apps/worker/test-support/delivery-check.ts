import type { Sql } from 'postgres';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import type { NotificationHost } from './notification-host';

export interface OutboxRow {
  id: string;
  type: string;
  sequence: number;
  subject: string;
  occurred_at: string;
  data: unknown;
  delivered_at: string | null;
  enqueued_at: string | null;
}

/** The outbox rows of a test's histories (subjects `sub_<label>…`, users `<label>-…@`). */
export const outboxRowsOf = (sql: Sql, label: string) =>
  sql<OutboxRow[]>`
    select id, type, sequence, subject, occurred_at, data, delivered_at, enqueued_at from billing_outbox
    where subject like ${`sub_${label}%`} or user_id in (select id from users where email like ${`${label}-%`})
    order by id`;

/** Sent (requests the host got), delivered (rows it acknowledged), delivered twice, lost (rows never acknowledged). */
export interface FaultFigures {
  rows: number;
  sent: number;
  delivered: number;
  deliveredTwice: number;
  lost: number;
}

/**
 * Checks every delivery the host got against the outbox and returns the fault figures:
 * each body is its row; each signature verifies, and fails once the body is tampered with; per
 * subject, the rows were acknowledged in sequence order.
 */
export async function checkDeliveries(sql: Sql, label: string, host: NotificationHost, secret: string): Promise<FaultFigures> {
  const rows = await outboxRowsOf(sql, label);
  expect(rows.length).toBeGreaterThan(0);
  const byId = new Map(rows.map((row) => [Number(row.id), row]));
  const webhook = new Webhook(secret);
  const acknowledged = new Map<number, number>();
  const order = new Map<string, number[]>();
  let sent = 0;
  for (const request of host.received) {
    const body = JSON.parse(request.body) as { id: number; subject: string; sequence: number };
    const row = byId.get(body.id);
    if (!row) continue; // another test's row
    sent += 1;
    const headers = request.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(String(body.id));
    expect(webhook.verify(request.body, headers)).toEqual(body);
    expect(() => webhook.verify(request.body.replace(row.type, `${row.type}x`), headers)).toThrow();
    expect(body).toEqual({
      id: Number(row.id),
      type: row.type,
      sequence: row.sequence,
      subject: row.subject,
      occurred_at: new Date(row.occurred_at).toISOString(),
      data: row.data,
    });
    if (request.status !== undefined && request.status >= 200 && request.status < 300) {
      acknowledged.set(body.id, (acknowledged.get(body.id) ?? 0) + 1);
      if ((acknowledged.get(body.id) ?? 0) === 1) order.set(body.subject, [...(order.get(body.subject) ?? []), body.sequence]);
    }
  }
  for (const [subject, sequences] of order) expect(sequences, subject).toEqual([...sequences].sort((a, b) => a - b));
  for (const row of rows) expect(row.delivered_at, `row ${row.id} delivered`).not.toBeNull();
  const figures = {
    rows: rows.length,
    sent,
    delivered: acknowledged.size,
    deliveredTwice: [...acknowledged.values()].filter((n) => n > 1).length,
    lost: rows.filter((row) => !acknowledged.has(Number(row.id))).length,
  };
  console.info(`notifications [${label}]`, JSON.stringify(figures));
  return figures;
}
