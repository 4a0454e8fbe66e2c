/** Timing and summary helpers for the benchmark. All samples are nanoseconds (process.hrtime.bigint). */

export function now(): bigint {
  return process.hrtime.bigint();
}

/** Nanoseconds since `start`, as a number. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

export interface Summary {
  n: number;
  /** microseconds */
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises nanosecond samples in microseconds. */
export function summarize(samplesNs: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samplesNs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const us = (ns: number): number => ns / 1000;
  return {
    n: sorted.length,
    p50: us(percentile(sorted, 50)),
    p99: us(percentile(sorted, 99)),
    mean: us(sorted.length ? sum / sorted.length : NaN),
    min: us(sorted[0] ?? NaN),
    max: us(sorted[sorted.length - 1] ?? NaN),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}

/** "87 µs", "1.24 ms", "2.31 s" */
export function formatDuration(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  if (us < 1000) return `${us.toFixed(us < 10 ? 1 : 0)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export function formatRate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} /s`;
}
