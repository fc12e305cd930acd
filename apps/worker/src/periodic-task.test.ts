import { describe, expect, it, vi } from 'vitest';
import { periodicTask } from './periodic-task';

const logger = { warn: vi.fn() } as unknown as Parameters<typeof periodicTask>[1]['logger'];

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('periodicTask', () => {
  it('runs one at a time: a call while a run is under way joins it, the next call runs again', async () => {
    const g = gate();
    let runs = 0;
    const task = periodicTask(
      async () => {
        runs += 1;
        await g.opened;
        return runs;
      },
      { everyMs: 0, logger, failure: 'failed' },
    );
    const first = task.runOnce();
    const joined = task.runOnce();
    g.open();
    expect(await Promise.all([first, joined])).toEqual([1, 1]);
    expect(await task.runOnce()).toBe(2);
  });

  it('runs on its interval, logs a failed run and goes on; stop waits for the run under way', async () => {
    vi.useFakeTimers();
    try {
      const warn = vi.fn();
      let calls = 0;
      const task = periodicTask(
        async () => {
          calls += 1;
          if (calls === 1) throw new Error('boom');
        },
        { everyMs: 1_000, logger: { warn } as unknown as typeof logger, failure: 'the task failed' },
      );
      await vi.advanceTimersByTimeAsync(999);
      expect(calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(1);
      expect(warn).toHaveBeenCalledWith({ err: new Error('boom') }, 'the task failed');
      await vi.advanceTimersByTimeAsync(1_000);
      expect(calls).toBe(2);
      await task.stop();
      await vi.advanceTimersByTimeAsync(5_000);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('with everyMs 0 runs only when asked', async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const task = periodicTask(async () => void (calls += 1), { everyMs: 0, logger, failure: 'failed' });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(calls).toBe(0);
      await task.runOnce();
      expect(calls).toBe(1);
      await task.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
