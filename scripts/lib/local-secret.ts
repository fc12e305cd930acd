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

/** Where `npm start` keeps the embedded Postgres's superuser password (with no DATABASE_URL and no Redis variable). */
export const LOCAL_POSTGRES_PASSWORD_FILE = fileURLToPath(new URL('../../.local/postgres-password', import.meta.url));

/**
 * The embedded Postgres's password, generated (mode 600) the first time and reused afterwards:
 * the cluster under `.local/postgres` is created with it, so it must outlive each run.
 */
export function ensureLocalPostgresPassword(file = LOCAL_POSTGRES_PASSWORD_FILE): { password: string; created: boolean } {
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 16) return { password: existing, created: false };
  } catch {
    // not written yet
  }
  const password = randomBytes(24).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { password, created: true };
}

/**
 * Where `npm start`'s embedded profile writes the URL of its database (password included, mode
 * 600), so `npm run demo` finds it when DATABASE_URL is unset.
 */
export const LOCAL_DATABASE_URL_FILE = fileURLToPath(new URL('../../.local/database-url', import.meta.url));

export function writeLocalDatabaseUrl(url: string, file = LOCAL_DATABASE_URL_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${url}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The embedded profile's database URL, or `undefined` when `npm start` has not run it. */
export function readLocalDatabaseUrl(file = LOCAL_DATABASE_URL_FILE): string | undefined {
  try {
    const url = readFileSync(file, 'utf8').trim();
    return /^postgres(ql)?:\/\//.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
