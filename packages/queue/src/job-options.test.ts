import { describe, expect, it } from 'vitest';
import { eventJobOptions, postgresEventJobOptions } from './job-options';

describe('event job retention by backend', () => {
  it('keeps completed jobs 4 days on both; only Redis caps their count (a count cap costs every Postgres completion a scan)', () => {
    expect(eventJobOptions.removeOnComplete).toEqual({ age: 4 * 86_400, count: 250_000 });
    expect(postgresEventJobOptions.removeOnComplete).toEqual({ age: 4 * 86_400 });
    expect({ ...postgresEventJobOptions, removeOnComplete: undefined }).toEqual({ ...eventJobOptions, removeOnComplete: undefined });
  });
});
