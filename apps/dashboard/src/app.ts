import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifyHelmet from '@fastify/helmet';
import type { StoreQueue } from '@billing/queue';
import type { Queue } from 'bullmq';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerAuditLog } from './audit-log';
import { registerGuard } from './guard';
import { createLoginLimiter, type LoginLimitOptions } from './login-limiter';
import { MIN_PASSWORD_LENGTH } from './password-policy';
import { securityHeaders } from './security-headers';

export interface DashboardDeps {
  /** The queues to show (either backend); the board does not close them. */
  queues: StoreQueue[];
  /** Basic-auth user name. */
  user: string;
  /** Basic-auth password, at least `MIN_PASSWORD_LENGTH` characters (the server generates one when none is configured). */
  password: string;
  /** Fastify's logger option (a pino instance, or `false` in tests). @defaultValue false */
  logger?: FastifyServerOptions['loggerInstance'] | false;
  /** Realm shown by the browser's login prompt. @defaultValue 'billing-webhooks' */
  realm?: string;
  /** Failed-login lockout per client address. @defaultValue 10 failures per 900 s */
  loginLimit?: LoginLimitOptions;
}

/**
 * Bull Board at `/`, locked down: every route (page, assets, API, 404s) behind HTTP basic auth
 * with a failed-login lockout, security headers on every answer, `no-store` on everything but
 * the static assets, and only the operator actions of `operator-policy.ts` (read, retry,
 * promote, clean), from the board's own origin, each one audit-logged.
 * Does not listen: `server.ts` does, tests use `inject()`.
 */
export async function buildDashboard(deps: DashboardDeps): Promise<FastifyInstance> {
  if (deps.password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(`buildDashboard: a password shorter than ${MIN_PASSWORD_LENGTH} characters is too easy to guess`);
  }
  // The UI polls every few seconds per tab: request logs would be mostly noise.
  const app = deps.logger
    ? Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }) })
    : Fastify({ logger: false });
  // …but errors are still logged (the board's own error handler answers them without logging).
  app.addHook('onError', (request, _reply, error, done) => {
    request.log.error({ err: error, url: request.url }, 'dashboard request failed');
    done();
  });

  await app.register(fastifyHelmet, securityHeaders);
  app.addHook('onSend', async (request, reply, payload) => {
    // Job data and errors are personal data: no cache keeps them. Assets are hashed and public.
    if (request.routeOptions.url !== '/static/*') void reply.header('cache-control', 'no-store');
    return payload;
  });

  await registerGuard(app, {
    user: deps.user,
    password: deps.password,
    realm: deps.realm ?? 'billing-webhooks',
    limiter: createLoginLimiter(deps.loginLimit),
    queues: new Map(deps.queues.map((queue) => [queue.name, queue])),
  });
  registerAuditLog(app);

  // `allowCompletedRetries: false` hides the retry of completed jobs, which the policy refuses
  // (BaseAdapter reads it; BullMQAdapter's option type leaves it out). Bull Board has no switch to
  // hide add, edit, pause or obliterate short of `readOnlyMode`, which hides retry, promote and
  // clean too: those buttons stay, and answer 403.
  const adapterOptions = { readOnlyMode: false, allowRetries: true, allowCompletedRetries: false };
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({
    // The adapter is typed for the Redis backend; it uses only the backend-neutral Queue API (bull-board#1316).
    queues: deps.queues.map((queue) => new BullMQAdapter(queue as unknown as Queue, adapterOptions)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'billing-webhooks' } },
  });
  await app.register(serverAdapter.registerPlugin());
  return app;
}
