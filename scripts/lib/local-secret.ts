import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where `npm start` keeps the webhook signing secret it generated for local use, so
 * `npm run demo` (another terminal, another process) can sign with it. Git-ignored.
 */
export const LOCAL_SECRET_FILE = fileURLToPath(new URL('../../.local/webhook-secret', import.meta.url));

/** The local secret, or `undefined` when `npm start` has not written one yet. */
export function readLocalWebhookSecret(file = LOCAL_SECRET_FILE): string | undefined {
  try {
    const secret = readFileSync(file, 'utf8').trim();
    return /^whsec_\S+$/.test(secret) ? secret : undefined;
  } catch {
    return undefined;
  }
}

/** The local secret, generated and written (mode 600) the first time; reused afterwards. */
export function ensureLocalWebhookSecret(file = LOCAL_SECRET_FILE): { secret: string; created: boolean } {
  const existing = readLocalWebhookSecret(file);
  if (existing) return { secret: existing, created: false };
  const secret = `whsec_${randomBytes(24).toString('base64url').replace(/[-_]/g, '0')}`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret, created: true };
}

/**
 * The secret `npm run demo` signs with: STRIPE_WEBHOOK_SECRET (the first one when several are
 * configured for a rotation), else the one `npm start` generated.
 */
export function demoWebhookSecret(fromEnv: string | undefined, file = LOCAL_SECRET_FILE): { secret: string; source: string } | undefined {
  const first = fromEnv?.split(',')[0]?.trim();
  if (first) return { secret: first, source: 'STRIPE_WEBHOOK_SECRET' };
  const local = readLocalWebhookSecret(file);
  return local ? { secret: local, source: '.local/webhook-secret (written by npm start)' } : undefined;
}

/** Where `npm start` keeps the queue signing key it generated (the ingress signs jobs, the worker checks them). */
export const LOCAL_QUEUE_KEY_FILE = fileURLToPath(new URL('../../.local/queue-signing-key', import.meta.url));

/**
 * The local queue signing key, generated (mode 600) the first time and reused afterwards, so
 * jobs queued in an earlier run (a failed one kept for an operator, say) still verify.
 */
export function ensureLocalQueueKey(file = LOCAL_QUEUE_KEY_FILE): { key: string; created: boolean } {
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return { key: existing, created: false };
  } catch {
    // not written yet
  }
  const key = randomBytes(32).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, created: true };
}
