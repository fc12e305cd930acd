/**
 * The Node flags every app process runs with — `npm start`, the image (`NODE_OPTIONS` in the
 * Dockerfile, checked equal to this by tests/image-files.int.test.ts) and the bench.
 *
 * `--max-semi-space-size=16`: the young generation Node 20 had. Node 22+ (V8 12) sizes it up to
 * 64 MiB per semi-space on a machine with memory to spare, which the apps fill before each
 * scavenge: on Node 24 the worker's peak RSS in a 20,000-event drain read 338 MiB with the default
 * and 233 MiB with 16 (190 with 8), the ingress under load 256 → 180 MiB; drain throughput against
 * pgbench's rate in the same run did not move beyond noise, CPU per event ≈ +10 % (more frequent,
 * smaller scavenges). docs/performance.md has the runs.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
