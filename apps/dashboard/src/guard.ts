import { createHash, timingSafeEqual } from 'node:crypto';
import fastifyBasicAuth from '@fastify/basic-auth';
import type { StoreQueue as Queue } from '@billing/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LoginLimiter } from './login-limiter';
import { decide, targetOf, type ActionTarget, type OperatorAction } from './operator-policy';
import { crossSiteRefusal } from './same-origin';

/** What the audit line says about a request that may change something. */
export interface OperatorRequest {
  action?: OperatorAction;
  target: ActionTarget;
  /** Set when the dashboard refused the request itself. */
  refusal?: { reason: string; message: string };
  /** What a retry-all answered. */
  counts?: { retried: number; skipped: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The basic-auth user, once the credentials matched. */
    operator: string | undefined;
    operatorRequest: OperatorRequest | undefined;
  }
}

export interface GuardOptions {
  user: string;
  password: string;
  realm: string;
  limiter: LoginLimiter;
  queues: ReadonlyMap<string, Queue>;
}

const ERROR_FOR_STATUS: Record<number, string> = { 400: 'bad_request', 403: 'forbidden', 404: 'not_found' };

/** Marks a wrong user or password (not a missing or malformed header): the failures that count. */
class WrongCredentialsError extends Error {
  override name = 'WrongCredentialsError';
  constructor(readonly user: string) {
    super('wrong user or password');
  }
}

/**
 * One `onRequest` hook at the root, so it covers every route (board page, assets, API) and the
 * 404 handler. It answers itself: an error passed on from a hook would reach Bull Board's own
 * error handler (felixmosh/bull-board#486), which answers 500. In order:
 * 1. a client locked out after too many failed logins → 429, whatever it sends;
 * 2. basic auth → 401 (wrong credentials are counted and logged, never the password);
 * 3. a request that may change something must come from the board's own page → 403;
 * 4. only the operator actions of `operator-policy.ts` reach Bull Board → 403 (400/404 for a
 *    job in the wrong state or an unknown queue).
 */
export async function registerGuard(app: FastifyInstance, options: GuardOptions): Promise<void> {
  const { limiter, realm } = options;
  const matches = credentialsChecker(options.user, options.password);
  app.decorateRequest('operator', undefined);
  app.decorateRequest('operatorRequest', undefined);

  await app.register(fastifyBasicAuth, {
    authenticate: { realm },
    validate: async (user, password, request) => {
      if (!matches(user, password)) return new WrongCredentialsError(user);
      request.operator = user;
      return undefined;
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    // 1. Locked out.
    const lockedMs = await limiter.lockedFor(request.ip);
    if (lockedMs > 0) {
      const seconds = Math.ceil(lockedMs / 1000);
      return reply
        .code(429)
        .header('retry-after', String(seconds))
        .send({ error: 'too_many_requests', message: `too many failed logins from this address; try again in ${seconds} s` });
    }

    // 2. Credentials.
    const authError = await new Promise<Error | undefined>((resolve) => app.basicAuth(request, reply, resolve));
    if (authError !== undefined) {
      if (authError instanceof WrongCredentialsError) await countFailure(request, authError.user, limiter);
      return reply.code(401).header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`).send({ error: 'unauthorized' });
    }

    // 3. Same origin (reads need not be).
    const params = (request.params ?? {}) as Record<string, string | undefined>;
    const crossSite = crossSiteRefusal(request.method, request.headers);
    if (crossSite) {
      request.operatorRequest = { target: targetOf(params), refusal: crossSite };
      return refuse(reply, 403, crossSite.reason, crossSite.message);
    }

    // 4. An operator action.
    const decision = await decide(request.method, request.routeOptions.url, params, options.queues);
    if (decision.kind === 'read') return;
    if (decision.kind === 'refused') {
      request.operatorRequest = {
        ...(decision.action === undefined ? {} : { action: decision.action }),
        target: decision.target,
        refusal: { reason: decision.reason, message: decision.message },
      };
      return refuse(reply, decision.status, decision.reason, decision.message);
    }
    request.operatorRequest = { action: decision.action, target: decision.target };
  });
}

async function countFailure(request: FastifyRequest, user: string, limiter: LoginLimiter): Promise<void> {
  const failures = await limiter.recordFailure(request.ip);
  // The name tried, cut short (it is the sender's text); never the password.
  request.log.warn({ user: user.slice(0, 64), client: request.ip, failures, maxFailures: limiter.maxFailures }, 'dashboard login failed');
  if (failures === limiter.maxFailures) {
    request.log.warn(
      { client: request.ip, failures, windowSeconds: limiter.windowSeconds },
      'dashboard login locked: too many failed logins from this address, every request from it gets 429 until the window ends',
    );
  }
}

function refuse(reply: FastifyReply, status: number, reason: string, message: string): FastifyReply {
  return reply.code(status).send({ error: ERROR_FOR_STATUS[status] ?? 'forbidden', reason, message });
}

/**
 * Constant-time comparison of user and password (hashed first so lengths cannot leak either),
 * both always compared so the time does not say which one was wrong.
 */
function credentialsChecker(user: string, password: string): (user: string, password: string) => boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const expectedUser = digest(user);
  const expectedPassword = digest(password);
  return (givenUser, givenPassword) => {
    const userOk = timingSafeEqual(digest(givenUser), expectedUser);
    const passwordOk = timingSafeEqual(digest(givenPassword), expectedPassword);
    return userOk && passwordOk;
  };
}
