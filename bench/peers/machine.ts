/**
 * This machine's limits, measured from WebAssembly the way plumbline's
 * kernels see them, so reports can say "X GB/s of Y" and "X GFLOPS of Y":
 *
 * - read bandwidth: a SIMD v128.load loop (8 loads per step, 4 accumulators) over a
 *   buffer in shared wasm memory, at L2-, L3- and DRAM-sized working sets
 *   (≥ 256 MiB for DRAM), on 1 thread and on 2 worker threads that each read
 *   their own half. A matvec streams its weights exactly like this.
 * - copy bandwidth: TypedArray.prototype.set over 256 MiB (bytes read +
 *   written, the STREAM "copy" convention).
 * - f32 SIMD peak on one core: independent chains acc = acc·m + c over
 *   f32x4 (mul + add), and with f32x4.relaxed_madd where the engine has
 *   relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; without it
 *   that figure is measured in a child node started with the flag).
 *
 * The wasm is a few hand-encoded functions (no toolchain, no dependency).
 * Run alone: `node --import tsx bench/peers/machine.ts [--json]`.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

// ---------------------------------------------------------------------------
// A tiny wasm encoder: exactly the opcodes used below.

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf0: [0x0d, 0x00],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32LtU: [0x49],
  simd: (code: number) => [0xfd, ...uleb(code)],
};
const v128Load = (offset: number) => [...op.simd(0x00), 4, ...uleb(offset)]; // align 2^4
const i32x4Add = op.simd(0xae);
const i32x4Lane0 = [...op.simd(0x1b), 0];
const f32x4Splat = op.simd(0x13);
const f32x4Add = op.simd(0xe4);
const f32x4Mul = op.simd(0xe6);
const f32x4RelaxedMadd = op.simd(0x105);
const f32x4Lane0 = [...op.simd(0x1f), 0];

interface Func {
  params: number[];
  results: number[];
  locals: [count: number, type: number][];
  body: number[];
}

function encodeModule(funcs: Record<string, Func>, memoryPages?: number): Uint8Array<ArrayBuffer> {
  const names = Object.keys(funcs);
  const fs = names.map((n) => funcs[n]);
  const types = section(
    1,
    vec(fs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))])),
  );
  // Imported shared memory (flags 3: shared, with a maximum), so worker threads can share one buffer.
  const imports =
    memoryPages === undefined
      ? []
      : section(
          2,
          vec([[...name('env'), ...name('mem'), 0x02, 0x03, ...uleb(memoryPages), ...uleb(memoryPages)]]),
        );
  const funcSec = section(3, vec(fs.map((_, i) => uleb(i))));
  const exports = section(7, vec(names.map((n, i) => [...name(n), 0x00, ...uleb(i)])));
  const code = section(
    10,
    vec(
      fs.map((f) => {
        const body = [...vec(f.locals.map(([c, t]) => [...uleb(c), t])), ...f.body, ...op.end];
        return [...uleb(body.length), ...body];
      }),
    ),
  );
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...types,
    ...imports,
    ...funcSec,
    ...exports,
    ...code,
  ]);
}

/** Bytes one iteration of the read loop covers: 8 loads, so loop overhead stays small beside them. */
const READ_STEP = 128;

/** read(p, bytes, reps) → i32: sums every 16-byte lane of [p, p+bytes) reps times; bytes a multiple of READ_STEP. */
function readFunc(): Func {
  const [p, n, reps, i, end] = [0, 1, 2, 3, 4];
  const acc = [5, 6, 7, 8];
  const inner = Array.from({ length: READ_STEP / 16 }, (_, j) => {
    const a = acc[j % acc.length];
    return [...op.get(a), ...op.get(i), ...v128Load(16 * j), ...i32x4Add, ...op.set(a)];
  }).flat();
  return {
    params: [I32, I32, I32],
    results: [I32],
    locals: [
      [2, I32],
      [4, V128],
    ],
    body: [
      ...op.loop,
      ...op.get(p),
      ...op.set(i),
      ...op.get(p),
      ...op.get(n),
      ...op.i32Add,
      ...op.set(end),
      ...op.loop,
      ...inner,
      ...op.get(i),
      ...op.i32(READ_STEP),
      ...op.i32Add,
      ...op.tee(i),
      ...op.get(end),
      ...op.i32LtU,
      ...op.brIf0,
      ...op.end,
      ...op.get(reps),
      ...op.i32(1),
      ...op.i32Sub,
      ...op.tee(reps),
      ...op.brIf0,
      ...op.end,
      ...op.get(acc[0]),
      ...op.get(acc[1]),
      ...i32x4Add,
      ...op.get(acc[2]),
      ...i32x4Add,
      ...op.get(acc[3]),
      ...i32x4Add,
      ...i32x4Lane0,
    ],
  };
}

/** fma(reps, m, c) → f32: `chains` independent f32x4 chains acc = acc·m + c, reps steps each. */
function fmaFunc(chains: number, relaxed: boolean): Func {
  const [reps, m, c, vm, vc] = [0, 1, 2, 3, 4];
  const acc = Array.from({ length: chains }, (_, j) => 5 + j);
  const step = acc.flatMap((a) =>
    relaxed
      ? [...op.get(a), ...op.get(vm), ...op.get(vc), ...f32x4RelaxedMadd, ...op.set(a)]
      : [...op.get(a), ...op.get(vm), ...f32x4Mul, ...op.get(vc), ...f32x4Add, ...op.set(a)],
  );
  const sum = acc.slice(1).flatMap((a) => [...op.get(a), ...f32x4Add]);
  return {
    params: [I32, F32, F32],
    results: [F32],
    locals: [[2 + chains, V128]],
    body: [
      ...op.get(m),
      ...f32x4Splat,
      ...op.set(vm),
      ...op.get(c),
      ...f32x4Splat,
      ...op.set(vc),
      ...acc.flatMap((a) => [...op.get(vc), ...op.set(a)]),
      ...op.loop,
      ...step,
      ...op.get(reps),
      ...op.i32(1),
      ...op.i32Sub,
      ...op.tee(reps),
      ...op.brIf0,
      ...op.end,
      ...op.get(acc[0]),
      ...sum,
      ...f32x4Lane0,
    ],
  };
}

const CHAIN_COUNTS = [8, 10, 12, 14];

function fmaModule(relaxed: boolean): Uint8Array<ArrayBuffer> {
  return encodeModule(Object.fromEntries(CHAIN_COUNTS.map((n) => [`fma${n}`, fmaFunc(n, relaxed)])));
}

/** The measuring modules, for tests: `read` over an imported shared memory of `pages`, and the fma chains. */
export function machineModules(
  pages: number,
  relaxed = false,
): { read: Uint8Array<ArrayBuffer>; fma: Uint8Array<ArrayBuffer> } {
  return { read: encodeModule({ read: readFunc() }, pages), fma: fmaModule(relaxed) };
}

/** Chain counts of the fma module's exports (`fma${n}`). */
export const FMA_CHAINS: readonly number[] = CHAIN_COUNTS;

/** Whether this engine validates relaxed SIMD (Node 20: only with --experimental-wasm-relaxed-simd). */
export function hasRelaxedSimd(): boolean {
  return WebAssembly.validate(fmaModule(true));
}

// ---------------------------------------------------------------------------
// Measurements

export interface MachineLimits {
  cpu: string;
  cores: number;
  node: string;
  loadAverage: number[];
  /** GB/s (1e9 bytes/s) of a v128.load loop; keyed by working set, 1 and 2 threads. */
  read: { bytes: number; threads: number; gbps: number }[];
  /** GB/s of TypedArray.set over 256 MiB, bytes read + written. */
  copyGbps: number;
  /** Single-core f32 SIMD GFLOPS (mul + add = 2 flops per lane), best chain count. */
  simdPeakGflops: number;
  /** Same with f32x4.relaxed_madd; undefined when relaxed SIMD could not be measured. */
  relaxedPeakGflops?: number;
  relaxedNote?: string;
}

const MIB = 1 << 20;
const now = () => performance.now() / 1000;

function best(times: number, f: () => number): number {
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < times; r++) t = Math.min(t, f());
  return t;
}

/**
 * Calls f until `ms` have passed: V8 runs new wasm in its baseline compiler
 * (Liftoff) and swaps in the optimized code on a later call, once the
 * function has used its tier-up budget.
 */
function warm(f: () => void, ms = 300): void {
  const end = performance.now() + ms;
  while (performance.now() < end) f();
}

/** Peak single-core GFLOPS of the fma module (relaxed or not), best over chain counts. */
export function measureSimdPeak(relaxed: boolean): number {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(fmaModule(relaxed)));
  let gflops = 0;
  for (const chains of CHAIN_COUNTS) {
    const fma = inst.exports[`fma${chains}`] as (reps: number, m: number, c: number) => number;
    warm(() => fma(100_000, 0.999, 0.001), 150);
    const reps = 2_000_000;
    const s = best(5, () => {
      const t = now();
      fma(reps, 0.999, 0.001);
      return now() - t;
    });
    gflops = Math.max(gflops, (reps * chains * 4 * 2) / s / 1e9);
  }
  return gflops;
}

// Worker side of the 2-thread read: instantiate on the shared memory, wait for go, read its slice.
const READ_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, flag, p, n, reps } = workerData;
const read = new WebAssembly.Instance(module, { env: { mem: memory } }).exports.read;
const warmEnd = performance.now() + 300;
while (performance.now() < warmEnd) read(p, Math.min(n, 1 << 16), 16);
Atomics.add(flag, 1, 1);
Atomics.notify(flag, 1);
Atomics.wait(flag, 0, 0);
const t = performance.now();
read(p, n, reps);
parentPort.postMessage((performance.now() - t) / 1000);
`;

async function readParallel(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  base: number,
  bytes: number,
  reps: number,
  threads: number,
): Promise<number> {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const slice = bytes / threads;
  const workers = Array.from(
    { length: threads },
    (_, i) =>
      new Worker(READ_WORKER, {
        eval: true,
        workerData: { module, memory, flag, p: base + i * slice, n: slice, reps },
      }),
  );
  const times = workers.map(
    (w) =>
      new Promise<number>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
      }),
  );
  while (Atomics.load(flag, 1) < threads) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  const elapsed = Math.max(...(await Promise.all(times)));
  await Promise.all(workers.map((w) => w.terminate()));
  return elapsed;
}

/** Read bandwidth at L2-, L3- and DRAM-sized working sets, 1 and 2 threads. */
export async function measureReadBandwidth(
  sizes = [512 * 1024, 8 * MIB, 256 * MIB],
): Promise<MachineLimits['read']> {
  const total = Math.max(...sizes);
  const pages = total / 65536 + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  // Touch every page with non-zero data: untouched pages would all map the one zero page (cache-resident).
  new Uint8Array(memory.buffer).fill(0x5a);
  const module = new WebAssembly.Module(encodeModule({ read: readFunc() }, pages));
  const read = new WebAssembly.Instance(module, { env: { mem: memory } }).exports.read as (
    p: number,
    n: number,
    reps: number,
  ) => number;
  const base = 65536;
  warm(() => read(base, 64 * 1024, 16));
  const out: MachineLimits['read'] = [];
  for (const bytes of sizes) {
    const reps = Math.max(2, Math.round((1024 * MIB) / bytes)); // ≈ 1 GiB per timing
    read(base, bytes, 1);
    const s = best(5, () => {
      const t = now();
      read(base, bytes, reps);
      return now() - t;
    });
    out.push({ bytes, threads: 1, gbps: (bytes * reps) / s / 1e9 });
    if (os.availableParallelism() >= 2) {
      let s2 = Number.POSITIVE_INFINITY;
      for (let r = 0; r < 3; r++) s2 = Math.min(s2, await readParallel(module, memory, base, bytes, reps, 2));
      out.push({ bytes, threads: 2, gbps: (bytes * reps) / s2 / 1e9 });
    }
  }
  return out;
}

/** TypedArray.set of 256 MiB: GB/s counting bytes read + written. */
export function measureCopyBandwidth(bytes = 256 * MIB): number {
  const src = new Float64Array(bytes / 8).fill(1.5);
  const dst = new Float64Array(bytes / 8).fill(2.5);
  dst.set(src);
  const s = best(5, () => {
    const t = now();
    dst.set(src);
    return now() - t;
  });
  return (2 * bytes) / s / 1e9;
}

/** The relaxed-SIMD peak: here if this engine has relaxed SIMD, else in a child node started with the flag. */
export function measureRelaxedPeak(): { gflops?: number; note?: string } {
  if (hasRelaxedSimd()) return { gflops: measureSimdPeak(true) };
  const self = fileURLToPath(import.meta.url);
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const r = spawnSync(
    process.execPath,
    ['--experimental-wasm-relaxed-simd', '--import', tsx, self, '--relaxed-peak'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const gflops = Number.parseFloat(r.stdout);
  if (r.status === 0 && Number.isFinite(gflops)) {
    return { gflops, note: 'relaxed peak measured in a child node with --experimental-wasm-relaxed-simd' };
  }
  return { note: `relaxed SIMD unavailable: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}` };
}

export async function measureMachine(): Promise<MachineLimits> {
  const read = await measureReadBandwidth();
  const copyGbps = measureCopyBandwidth();
  const simdPeakGflops = measureSimdPeak(false);
  const relaxed = measureRelaxedPeak();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    loadAverage: os.loadavg(),
    read,
    copyGbps,
    simdPeakGflops,
    relaxedPeakGflops: relaxed.gflops,
    relaxedNote: relaxed.note,
  };
}

export function formatMachine(m: MachineLimits): string[] {
  const size = (b: number) => (b >= MIB ? `${b / MIB} MiB` : `${b / 1024} KiB`);
  return [
    `machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, load average ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
    `  wasm v128 read GB/s: ${m.read.map((r) => `${size(r.bytes)} ${r.threads}T ${r.gbps.toFixed(1)}`).join(', ')}`,
    `  copy (TypedArray.set, 256 MiB, read+write) ${m.copyGbps.toFixed(1)} GB/s`,
    `  f32 SIMD peak, 1 core: ${m.simdPeakGflops.toFixed(1)} GFLOPS (mul+add), ${
      m.relaxedPeakGflops === undefined
        ? 'relaxed n/a'
        : `${m.relaxedPeakGflops.toFixed(1)} GFLOPS (relaxed_madd)`
    }${m.relaxedNote ? ` [${m.relaxedNote}]` : ''}`,
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--relaxed-peak')) {
    console.log(measureSimdPeak(true));
  } else {
    const m = await measureMachine();
    console.log(process.argv.includes('--json') ? JSON.stringify(m, null, 2) : formatMachine(m).join('\n'));
  }
}
