import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifyBasicAuth from '@fastify/basic-auth';
import type { Queue } from 'bullmq';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';

export interface DashboardDeps {
  /** The queues to show; the board does not close them. */
  queues: Queue[];
  /** Basic-auth user name. */
  user: string;
  /** Basic-auth password; required (the server generates one when none is configured). */
  password: string;
  /** Fastify's logger option (a pino instance, or `false` in tests). @defaultValue false */
  logger?: FastifyServerOptions['loggerInstance'] | false;
  /** Realm shown by the browser's login prompt. @defaultValue 'billing-webhooks' */
  realm?: string;
}

/**
 * Bull Board at `/`, every route (page, assets, API, 404s) behind HTTP basic auth.
 * Does not listen: `server.ts` does, tests use `inject()`.
 */
export async function buildDashboard(deps: DashboardDeps): Promise<FastifyInstance> {
  if (deps.password.length === 0) throw new Error('buildDashboard: an empty password would let anyone in');
  // The UI polls every few seconds per tab: request logs would be mostly noise.
  const app = deps.logger
    ? Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }) })
    : Fastify({ logger: false });
  // …but errors are still logged (the board's own error handler answers them without logging).
  app.addHook('onError', (request, _reply, error, done) => {
    request.log.error({ err: error, url: request.url }, 'dashboard request failed');
    done();
  });
  const realm = deps.realm ?? 'billing-webhooks';
  const matches = credentialsChecker(deps.user, deps.password);

  await app.register(fastifyBasicAuth, {
    authenticate: { realm },
    validate: async (user, password) => {
      if (!matches(user, password)) return new Error('invalid credentials');
      return undefined;
    },
  });

  // One hook at the root covers every route, including the board's assets and API and the
  // 404 handler. It answers 401 itself: an error passed on from a hook would reach the
  // board's own error handler (felixmosh/bull-board#486), which answers 500.
  app.addHook('onRequest', (request, reply, done) => {
    app.basicAuth(request, reply, (error?: Error) => {
      if (error === undefined) {
        done();
        return;
      }
      void reply
        .code(401)
        .header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`)
        .header('cache-control', 'no-store')
        .send({ error: 'unauthorized' });
    });
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({
    queues: deps.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: false, allowRetries: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'billing-webhooks' } },
  });
  await app.register(serverAdapter.registerPlugin());
  return app;
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
