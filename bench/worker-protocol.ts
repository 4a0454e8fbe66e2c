/** Messages between the benchmark's main thread (the host) and its load worker (the agents). */
import type { LoadResult } from './load.js';

export interface SecretTarget {
  socketPath: string;
  name: string;
  expected: string;
}

export type WorkerCommand =
  | ({ kind: 'first-get' } & SecretTarget)
  | ({ kind: 'sequential'; n: number; warmup: number } & SecretTarget)
  | ({ kind: 'concurrent'; clients: number; ms: number; warmupMs: number } & SecretTarget)
  | { kind: 'echo-sequential'; path: string; n: number; warmup: number }
  | { kind: 'echo-concurrent'; path: string; clients: number; ms: number };

export interface WorkerRequest {
  id: number;
  cmd: WorkerCommand;
}

export type WorkerReply = { id: number; ok: true; result: WorkerResult } | { id: number; ok: false; error: string };

/** LoadResult with latencies as a transferable array; `extraOps` counts deliveries outside the window (warm-up). */
export interface WorkerResult extends Omit<LoadResult, 'latenciesNs'> {
  latenciesNs: Float64Array;
  extraOps: number;
  pendingSeen?: boolean;
}
