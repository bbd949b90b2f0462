/**
 * Shared benchmark plumbing: tinybench runs, median time per operation, and
 * readable tables. Every suite measures plumbline and its peers in one run.
 */
import { Bench } from 'tinybench';

export interface Measured {
  name: string;
  /** Median seconds per call of the measured function. */
  seconds: number;
  /** Relative margin of error of the mean, in percent. */
  rme: number;
}

/** Runs each function for ~`timeMs` and returns its median seconds per call (divided by `repeat`). */
export async function measure(
  cases: { name: string; fn: () => void; repeat?: number }[],
  timeMs = 400,
): Promise<Measured[]> {
  const bench = new Bench({ time: timeMs, warmupTime: 100 });
  for (const c of cases) bench.add(c.name, c.fn);
  await bench.run();
  return bench.tasks.map((t, i) => {
    const r = t.result as unknown as {
      latency?: { p50: number; rme: number };
      state?: string;
      error?: Error;
    };
    if (!r.latency) throw new Error(`benchmark ${t.name} failed: ${r.error?.message ?? r.state}`);
    return { name: t.name, seconds: r.latency.p50 / 1000 / (cases[i].repeat ?? 1), rme: r.latency.rme };
  });
}

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const w = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export interface SuiteResult {
  suite: string;
  notes: string[];
  header: string[];
  rows: (string | number)[][];
}
