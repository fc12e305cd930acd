/** Steps to undo, run newest first in `afterAll`; each step bounded, a failing one never skips the rest. */
export interface CleanupStack {
  defer: (name: string, run: () => Promise<unknown> | unknown) => void;
  /** Runs every step (newest first); returns the names of the steps that failed, after logging them. */
  runAll: () => Promise<string[]>;
}

const STEP_LIMIT_MS = 15_000;

export function createCleanupStack(): CleanupStack {
  const steps: Array<{ name: string; run: () => Promise<unknown> | unknown }> = [];
  return {
    defer: (name, run) => {
      steps.push({ name, run });
    },
    runAll: async () => {
      const failed: string[] = [];
      for (const step of steps.splice(0).reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(step.run),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`did not finish within ${STEP_LIMIT_MS} ms`)), STEP_LIMIT_MS);
            }),
          ]);
        } catch (error) {
          failed.push(step.name);
          console.error(`cleanup step "${step.name}" failed: ${(error as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
      return failed;
    },
  };
}
