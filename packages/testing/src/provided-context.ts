// What the global setup hands every test file through `inject()`. Imported (type-only) by the
// helpers that call `inject`, so any package typechecking its tests sees these keys.
declare module 'vitest' {
  export interface ProvidedContext {
    /** A Postgres URL with rights to create databases. */
    adminDatabaseUrl: string;
    /** The Redis the tests use, or `''` when the run has none (then `describeWithRedis` skips). */
    redisUrl: string;
  }
}

export {};
