/**
 * Shared benchmark plumbing: tinybench runs, median time per operation, and
 * readable tables. Every suite measures plumbline and its peers in one run.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/** The middle value of xs (the upper one of an even count); xs is left unsorted. */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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

/**
 * Results for the relaxed-SIMD build: measured here when this node validates
 * it, else by re-running `suiteUrl` in a child node started with
 * --experimental-wasm-relaxed-simd and `--relaxed-child ...childArgs` (the
 * suite prints its results as JSON in that mode). A string says why not measured.
 */
export async function measureRelaxedBuild<T>(
  here: () => Promise<T>,
  suiteUrl: string,
  childArgs: readonly string[],
  timeoutMs = 600_000,
): Promise<T | string> {
  try {
    return await here();
  } catch {
    // Not validated here (Node 20 without --experimental-wasm-relaxed-simd).
  }
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const r = spawnSync(
    process.execPath,
    [
      '--experimental-wasm-relaxed-simd',
      '--import',
      tsx,
      fileURLToPath(suiteUrl),
      '--relaxed-child',
      ...childArgs,
    ],
    { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 },
  );
  if (r.status !== 0)
    return `relaxed SIMD not measured: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`;
  return JSON.parse(r.stdout) as T;
}
