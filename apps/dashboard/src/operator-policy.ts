import type { StoreQueue as Queue } from '@billing/queue';
import type { JobState } from 'bullmq';

/** What an operator may do to jobs (docs/design.md: read, retry, promote and clean; nothing else). */
export type OperatorAction = 'retry' | 'retry-all' | 'promote' | 'promote-all' | 'clean' | 'clean-all';

/** The request's target, as the audit line names it. */
export interface ActionTarget {
  queue?: string;
  job?: string;
  /** The job state a `…-all` action applies to. */
  status?: string;
}

export type PolicyDecision =
  | { kind: 'read' }
  | { kind: 'action'; action: OperatorAction; target: ActionTarget }
  | { kind: 'refused'; action?: OperatorAction; target: ActionTarget; status: 400 | 403 | 404; reason: RefusalReason; message: string };

export type RefusalReason = 'not_allowed' | 'wrong_state' | 'queue_not_found';

export const NOT_ALLOWED_MESSAGE = 'the dashboard lets operators read, retry, promote and clean jobs, nothing else';

/**
 * Bull Board 9.10's read routes, by the route pattern Fastify matched (so no spelling of a path
 * can reach another handler than the one checked). A route that is neither here nor in
 * `ACTION_ROUTES` is refused, so a route added by a Bull Board upgrade is refused until it is
 * reviewed and listed.
 */
const READ_ROUTES: ReadonlySet<string> = new Set([
  '/',
  '/metrics-history',
  '/job-schedulers',
  '/queue/:queueName',
  '/queue/:queueName/:jobId',
  '/static/*',
  '/api/redis/stats',
  '/api/queues',
  '/api/job-schedulers',
  '/api/queues/:queueName/metrics',
  '/api/queues/:queueName/default-job-options',
  '/api/queues/:queueName/workers',
  '/api/queues/:queueName/rate-limit',
  '/api/queues/:queueName/job-data-schema',
  '/api/queues/:queueName/:jobId/logs',
  '/api/queues/:queueName/:jobId/flow',
  '/api/queues/:queueName/:jobId',
]);

interface ActionRoute {
  action: OperatorAction;
  /** The statuses a `…-all` action may name. */
  statuses?: readonly string[];
  /** The states the job must be in, for a one-job action; the answer when it is not. */
  jobStates?: { allowed: readonly JobState[]; otherwise: 400 | 403 };
}

/** `PUT` routes only: Bull Board's job actions are all `PUT`; its `POST`/`PATCH`/`DELETE` routes add or edit. */
const ACTION_ROUTES: ReadonlyMap<string, ActionRoute> = new Map<string, ActionRoute>([
  // Completed jobs are not retried: their event is in the ledger already, so a retry changes
  // nothing but the job's history (and the UI hides that button: `allowCompletedRetries: false`).
  ['/api/queues/:queueName/retry/:queueStatus', { action: 'retry-all', statuses: ['failed'] }],
  ['/api/queues/:queueName/:jobId/retry', { action: 'retry', jobStates: { allowed: ['failed'], otherwise: 400 } }],
  ['/api/queues/:queueName/promote', { action: 'promote-all' }],
  ['/api/queues/:queueName/:jobId/promote', { action: 'promote', jobStates: { allowed: ['delayed'], otherwise: 400 } }],
  // Cleaning a waiting, delayed or active job would drop an event the ingress acknowledged.
  ['/api/queues/:queueName/clean/:queueStatus', { action: 'clean-all', statuses: ['completed', 'failed'] }],
  ['/api/queues/:queueName/:jobId/clean', { action: 'clean', jobStates: { allowed: ['completed', 'failed'], otherwise: 403 } }],
]);

/**
 * Decides whether a request (already authenticated and same-origin) may reach Bull Board.
 * `route` is Fastify's matched route pattern, `undefined` when nothing matched (its 404 answers).
 */
export async function decide(
  method: string,
  route: string | undefined,
  params: Record<string, string | undefined>,
  queues: ReadonlyMap<string, Queue>,
): Promise<PolicyDecision> {
  const verb = method.toUpperCase();
  const target = targetOf(params);
  if (route === undefined) {
    return verb === 'GET' || verb === 'HEAD' ? { kind: 'read' } : refused(target, 403, 'not_allowed', NOT_ALLOWED_MESSAGE);
  }
  if (verb === 'GET' || verb === 'HEAD') {
    return READ_ROUTES.has(route) ? { kind: 'read' } : refused(target, 403, 'not_allowed', NOT_ALLOWED_MESSAGE);
  }
  const rule = verb === 'PUT' ? ACTION_ROUTES.get(route) : undefined;
  if (rule === undefined) return refused(target, 403, 'not_allowed', NOT_ALLOWED_MESSAGE);

  const { action } = rule;
  if (rule.statuses && !rule.statuses.includes(target.status ?? '')) {
    return refused(target, 403, 'not_allowed', `${action} applies to ${rule.statuses.join(' or ')} jobs only`, action);
  }
  if (rule.jobStates) {
    const queue = queues.get(target.queue ?? '');
    if (!queue) return refused(target, 404, 'queue_not_found', 'no such queue on this dashboard', action);
    const state = await queue.getJobState(target.job ?? '');
    // A missing job goes on to Bull Board, which answers 404 in its own words.
    if (state !== 'unknown' && !rule.jobStates.allowed.includes(state)) {
      const message = `${action} applies to ${rule.jobStates.allowed.join(' or ')} jobs only; this one is ${state}`;
      return refused(target, rule.jobStates.otherwise, 'wrong_state', message, action);
    }
  }
  return { kind: 'action', action, target };
}

/** The queue, job and status a route's parameters name. */
export function targetOf(params: Record<string, string | undefined>): ActionTarget {
  return {
    ...(params.queueName === undefined ? {} : { queue: params.queueName }),
    ...(params.jobId === undefined ? {} : { job: params.jobId }),
    ...(params.queueStatus === undefined ? {} : { status: params.queueStatus }),
  };
}

function refused(
  target: ActionTarget,
  status: 400 | 403 | 404,
  reason: RefusalReason,
  message: string,
  action?: OperatorAction,
): PolicyDecision {
  return { kind: 'refused', ...(action === undefined ? {} : { action }), target, status, reason, message };
}
