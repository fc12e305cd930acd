import { expect } from 'vitest';
import { EVENTS } from './sentinel-failover';
import type { ScenarioOutcome } from './sentinel-failover';

/** With a replica acknowledgement: no acknowledged job missing after the failover, each applied once, refusals only 503, recovered without restarts. */
export function expectNothingAcknowledgedLost(outcome: ScenarioOutcome): void {
  expect(outcome.minReplicasAck).toBe(1);
  expect(outcome.missingFromNewPrimary).toEqual([]); // never 200 for a job the new primary does not hold
  expect(outcome.figures.sent).toBeGreaterThanOrEqual(EVENTS);
  expect(outcome.figures).toMatchObject({ acknowledged: outcome.figures.sent, applied: outcome.figures.sent, appliedTwice: 0, lost: 0 });
  expect(Object.keys(outcome.refusedAfterFault).length).toBeGreaterThan(0); // the failover was really hit…
  expect(Object.keys(outcome.refusedAfterFault)).toEqual(['503']); // …and answered 503, so Stripe retries
  expect(Number.isFinite(outcome.outageMs)).toBe(true); // 200 again after the failover…
  expect(outcome.pidsUnchanged && outcome.alive).toBe(true); // …by the same processes
  expect(outcome.readyAfter).toBe(200);
  expect(outcome.settled).toBe(true);
  expect(outcome.stateDifferences).toEqual([]);
}

/** Without it, the loss is the figure (reported, not asserted); the processes must still recover by themselves. */
export function reportWithoutAck(outcome: ScenarioOutcome): void {
  expect(outcome.minReplicasAck).toBe(0);
  expect(outcome.pidsUnchanged && outcome.alive).toBe(true);
  expect(outcome.figures.appliedTwice).toBe(0);
}
