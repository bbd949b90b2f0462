/**
 * MoE dispatch and combine on the wasm kernels: routed tokens grouped by
 * expert (a stable counting sort), each expert's gated FFN
 * down(silu(gate·x) ⊙ up·x) run as quantized matmuls over its token group —
 * `exact` numerics (f32 activations, assembly/matmul/quant-exact.ts) or
 * `ggml` (activations quantized to the weight type's vec_dot type,
 * assembly/matmul/quant-ggml.ts, as llama.cpp's CPU backend computes) — then
 * out[t] = Σ_j w[t,j]·y[t,j] (+ g_t·shared(x_t)) by moe_combine
 * (assembly/moe/combine.ts) in slot order, the shared expert last.
 *
 * Expert weights are ggml 3-D tensors in GGUF layout: gate and up [E, F, D],
 * down [E, D, F]; expert e's matrix is the e-th slice, N rows of K values in
 * the type's blocks, at ptr + e·N·rowBytes.
 *
 * Over a pool (any KernelRunner), one layer is a few dispatches whatever the
 * number of experts:
 *   ggml only: quantize x's rows (per vec_dot type), gathered per expert after
 *   A  every active expert's gate and up over its token group, and the shared
 *      expert's over all tokens, SwiGLU fused (moe_expert_items; ./moe-items.ts
 *      deals expert × column ranges to threads by cost)
 *   ggml only: quantize the SwiGLU rows for down
 *   C  every down matmul, likewise
 *   combine over token ranges
 * Every output element is computed by one thread with an order fixed by the
 * shapes alone, so the result is bit-identical for any thread count.
 */
import { ShapeError } from '../../errors.js';
import type { MoeRouteResult } from '../../ops/moe-route.js';
import { partition, type Range } from '../../scheduler/partition.js';
import { ggmlType } from '../../types/ggml-types.js';
import { activationRowBytes, isGgmlMatmulType, type VecDotType, vecDotType } from './matmul-ggml.js';
import { isQuantExactType, matmulQuantExactScratchBytes } from './matmul-quant.js';
import type { WasmRuntime } from './module.js';
import { type MatmulJob, planItems } from './moe-items.js';
import type { NnCall } from './nn.js';

/** A ggml weight: `count` matrices (3-D: experts; 2-D: 1) of [N, K] in GGUF block layout at ptr. */
export interface QuantWeight {
  type: string;
  ptr: number;
  count: number;
  N: number;
  K: number;
}

export interface ExpertFfn {
  /** [E, F, D] */
  gate: QuantWeight;
  /** [E, F, D] */
  up: QuantWeight;
  /** [E, D, F] */
  down: QuantWeight;
}

export interface MoeDims {
  tokens: number;
  /** Model width D. */
  dim: number;
  /** Expert FFN width F. */
  hidden: number;
}

/** Tokens grouped by expert: a stable counting sort of the (token, slot) pairs. */
export interface ExpertGroups {
  experts: number;
  k: number;
  /** [E + 1]: expert e's assignments are rows offsets[e]..offsets[e+1] of Y. */
  offsets: Int32Array;
  /** [rows]: the token of each row of Y, increasing within an expert. */
  tokens: Int32Array;
  /** [T, k]: the row of Y for slot (t, j), or −1 (a dropped token). */
  pos: Int32Array;
  /** Experts with at least one token, increasing. */
  active: number[];
}

/**
 * Counting sort by expert; within an expert, tokens in increasing order
 * (slots are distinct experts, so a token appears at most once per expert).
 * Dropped tokens (switch capacity) get no row.
 */
export function groupByExpert(
  route: MoeRouteResult,
  tokens: number,
  k: number,
  experts: number,
): ExpertGroups {
  const n = tokens * k;
  if (route.experts.length !== n)
    throw new ShapeError(`moe dispatch: experts has ${route.experts.length} ids, expected ${n}`);
  const live = (t: number) => !route.dropped || route.dropped[t] === 0;
  const offsets = new Int32Array(experts + 1);
  for (let i = 0; i < n; i++) {
    const e = route.experts[i];
    if (!(Number.isInteger(e) && e >= 0 && e < experts))
      throw new ShapeError(`moe dispatch: expert id ${e} at slot ${i} is outside [0, ${experts})`);
    if (live(Math.floor(i / k))) offsets[e + 1]++;
  }
  for (let e = 0; e < experts; e++) offsets[e + 1] += offsets[e];
  const next = offsets.slice(0, experts);
  const rows = offsets[experts];
  const tok = new Int32Array(rows);
  const pos = new Int32Array(n).fill(-1);
  for (let t = 0; t < tokens; t++) {
    if (!live(t)) continue;
    for (let j = 0; j < k; j++) {
      const e = route.experts[t * k + j];
      const r = next[e]++;
      tok[r] = t;
      pos[t * k + j] = r;
    }
  }
  const active: number[] = [];
  for (let e = 0; e < experts; e++) if (offsets[e + 1] > offsets[e]) active.push(e);
  return { experts, k, offsets, tokens: tok, pos, active };
}

function rowBytes(w: QuantWeight): number {
  const info = ggmlType(w.type);
  if (w.K % info.blockSize !== 0)
    throw new ShapeError(`moe: K = ${w.K} is not a multiple of ${w.type}'s block size`);
  return (w.K / info.blockSize) * info.typeSize;
}

export type MoeNumerics = 'exact' | 'ggml';

/** Float weights: exact numerics widen them exactly (moe_expert_items' float path). */
const FLOAT = new Set(['f32', 'f16', 'bf16']);

/**
 * Whether a weight type's matmul converts its activations in ggml numerics:
 * every ggml matmul type does; f32 weights take f32 activations (ggml's f32
 * vec_dot), so they run the exact float path.
 */
function convertsActivations(type: string): boolean {
  return type !== 'f32';
}

function hasGgmlKernel(type: string): boolean {
  return isGgmlMatmulType(type) || type === 'f32';
}

/** Checks the expert tensors against the dimensions and the numerics' kernels. */
function validateExpertFfn(
  ffn: ExpertFfn,
  experts: number,
  dims: MoeDims,
  numerics: MoeNumerics = 'exact',
): void {
  const want: [keyof ExpertFfn, number, number][] = [
    ['gate', dims.hidden, dims.dim],
    ['up', dims.hidden, dims.dim],
    ['down', dims.dim, dims.hidden],
  ];
  for (const [name, N, K] of want) {
    const w = ffn[name];
    if (!(numerics === 'exact' ? isQuantExactType(w.type) || FLOAT.has(w.type) : hasGgmlKernel(w.type)))
      throw new ShapeError(`moe: ${name} weights of type ${w.type} have no ${numerics}-numerics kernel`);
    if (w.count !== experts || w.N !== N || w.K !== K)
      throw new ShapeError(`moe: ${name} is [${w.count}, ${w.N}, ${w.K}], expected [${experts}, ${N}, ${K}]`);
    rowBytes(w);
  }
}

/** The e-th matrix of a weight. */
function slice(w: QuantWeight, e: number): number {
  return w.ptr + e * w.N * rowBytes(w);
}

/** A shared expert: 2-D gate/up [Fs, D], down [D, Fs]; gateInp f32 [D] (Qwen2-MoE) or 0 (added unweighted). */
export interface SharedExpert {
  ffn: ExpertFfn;
  hidden: number;
  gateInp: number;
}

/** What runs kernels: the worker pool, or callingThread(rt). Thread t owns ranges[t]; empty ranges are skipped. */
export interface KernelRunner {
  readonly threads: number;
  runRanges(
    kernel: string,
    ranges: readonly Range[],
    args: (range: Range, thread: number) => readonly number[],
  ): Promise<void>;
}

/** Runs every range on the calling thread, in order. */
export function callingThread(rt: WasmRuntime): KernelRunner {
  return {
    threads: 1,
    async runRanges(kernel, ranges, args) {
      const k = rt.kernel(kernel);
      ranges.forEach((r, i) => {
        if (r.end > r.start) k(...args(r, i));
      });
    },
  };
}

/**
 * The shared expert's gate sigmoid(gateInp·x_t) for each token into sgate
 * [T]: the dot in float64, rounded to f32, then the sigmoid of that f32 in
 * float64, rounded to f32.
 */
function sharedGate(rt: WasmRuntime, gateInp: number, x: number, sgate: number, T: number, D: number): void {
  const xs = rt.f32(x, T * D);
  const w = rt.f32(gateInp, D);
  const out = rt.f32(sgate, T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += xs[t * D + d] * w[d];
    out[t] = 1 / (1 + Math.exp(-Math.fround(s)));
  }
}

/** The combine (moe_combine) over tokens; pos: i32 [T, k] in memory, weights f32 [T, k]; shared/sgate 0: none. */
function combineCall(
  Y: number,
  pos: number,
  weights: number,
  shared: number,
  sgate: number,
  out: number,
  dims: MoeDims,
  k: number,
): NnCall {
  return {
    kernel: 'moe_combine',
    total: dims.tokens,
    granularity: 1,
    args: (t0, t1) => [Y, pos, weights, shared, sgate, out, dims.dim, k, t0, t1],
  };
}

/** Milliseconds per part of moeFfn, accumulated (for benchmarks and profiles). */
export interface MoeTimings {
  /** Grouping by expert, planning the work items, gathering each expert's token rows. */
  dispatch: number;
  /** ggml numerics: quantizing the activations (x, and the SwiGLU rows before down). */
  quantize: number;
  /** The expert matmuls with the fused SwiGLU (the shared expert's included). */
  experts: number;
  /** The shared expert's gate and the weighted sum. */
  combine: number;
}

export function moeTimings(): MoeTimings {
  return { dispatch: 0, quantize: 0, experts: 0, combine: 0 };
}

export interface MoeFfnOptions {
  shared?: SharedExpert | null;
  /** Expert matmul numerics (default 'exact'). */
  numerics?: MoeNumerics;
  /** Filled with the time of each part when given. */
  timings?: MoeTimings;
  /** When given: f32 [T, k, D] to fill with each slot's expert output (zeros for a dropped token). */
  slotOutputs?: number;
}

/** Quantizes rows [r0, r1) of x f32 [M, K] into the activation rows at out (quantizeActivations, by rows). */
function quantizeRows(
  runner: KernelRunner,
  vdt: VecDotType,
  x: number,
  out: number,
  M: number,
  K: number,
): Promise<void> {
  const rb = activationRowBytes(vdt, K);
  const half = vdt === 'f16' || vdt === 'bf16';
  return runner.runRanges(
    half ? `quantize_${vdt}` : `quantize_act_${vdt}`,
    partition(M, runner.threads),
    (r) =>
      half
        ? [x + r.start * K * 4, out + r.start * rb, (r.end - r.start) * K]
        : [x + r.start * K * 4, out + r.start * rb, r.end - r.start, K],
  );
}

/** Checks every weight has a kernel for the numerics and the shapes agree. */
function validate(ffn: ExpertFfn, dims: MoeDims, numerics: MoeNumerics, shared?: SharedExpert | null): void {
  if (numerics !== 'exact' && numerics !== 'ggml')
    throw new ShapeError(`moe: numerics must be 'exact' or 'ggml', got ${JSON.stringify(numerics)}`);
  validateExpertFfn(ffn, ffn.gate.count, dims, numerics);
  if (shared) validateExpertFfn(shared.ffn, 1, { ...dims, hidden: shared.hidden }, numerics);
}

/**
 * The whole MoE FFN: out [T, D] from x [T, D], a routing result (weights and
 * experts [T, k]) and the expert tensors, run by `runner` (the pool, or
 * callingThread(rt)). Returns the grouping.
 */
export async function moeFfn(
  rt: WasmRuntime,
  runner: KernelRunner,
  x: number,
  route: MoeRouteResult,
  k: number,
  ffn: ExpertFfn,
  out: number,
  dims: MoeDims,
  opts: MoeFfnOptions = {},
): Promise<ExpertGroups> {
  const E = ffn.gate.count;
  const numerics = opts.numerics ?? 'exact';
  const sh = opts.shared ?? null;
  validate(ffn, dims, numerics, sh);
  const { tokens: T, dim: D, hidden: F } = dims;
  const ggml = numerics === 'ggml';
  const tm = opts.timings;
  let t0 = tm ? performance.now() : 0;
  /** Adds the time since the last mark to part p. */
  const mark = (p: keyof MoeTimings) => {
    if (!tm) return;
    const t = performance.now();
    tm[p] += t - t0;
    t0 = t;
  };
  const owned: number[] = [];
  const alloc = (bytes: number) => {
    const p = rt.arena.alloc(Math.max(bytes, 16));
    owned.push(p);
    return p;
  };
  try {
    const g = groupByExpert(route, T, k, E);
    const rows = g.offsets[E];
    const Fs = sh?.hidden ?? 0;
    // Activations of the first matmuls: f32 rows (exact) or each vec_dot type's rows (ggml).
    const firstTypes = [ffn.gate.type, ffn.up.type, ...(sh ? [sh.ffn.gate.type, sh.ffn.up.type] : [])];
    const inputs = new Map<string, { full: number; gathered: number; rowBytes: number }>();
    const converts = (type: string) => ggml && convertsActivations(type);
    const inputKey = (type: string) => (converts(type) ? vecDotType(type) : 'f32');
    for (const type of firstTypes) {
      const key = inputKey(type);
      if (inputs.has(key)) continue;
      const quantized = key !== 'f32';
      const rb = quantized ? activationRowBytes(key as VecDotType, D) : D * 4;
      inputs.set(key, { full: quantized ? alloc(T * rb) : x, gathered: alloc(rows * rb), rowBytes: rb });
    }
    const G = alloc(rows * F * 4);
    const U = alloc(rows * F * 4);
    const Y = alloc(rows * D * 4);
    const SG = sh ? alloc(T * Fs * 4) : 0;
    const SU = sh ? alloc(T * Fs * 4) : 0;
    const S = sh ? alloc(T * D * 4) : 0;
    const sgate = sh?.gateInp ? alloc(T * 4) : 0;
    const pos = alloc(T * k * 4);
    const w = alloc(T * k * 4);
    new Int32Array(rt.memory.buffer, pos, T * k).set(g.pos);
    rt.f32(w, T * k).set(route.weights);
    mark('dispatch');
    for (const [key, inp] of inputs)
      if (key !== 'f32') await quantizeRows(runner, key as VecDotType, x, inp.full, T, D);
    mark('quantize');
    const u8 = rt.u8;
    for (const inp of inputs.values())
      for (let r = 0; r < rows; r++) {
        const src = inp.full + g.tokens[r] * inp.rowBytes;
        u8.copyWithin(inp.gathered + r * inp.rowBytes, src, src + inp.rowBytes);
      }
    const at = (type: string, r0: number, whole: boolean) => {
      const inp = inputs.get(inputKey(type)) as { full: number; gathered: number; rowBytes: number };
      return whole ? inp.full : inp.gathered + r0 * inp.rowBytes;
    };
    type Sides = Pick<MatmulJob, 'a' | 'b'>;
    /** One job per active expert, over its rows [offsets[e], offsets[e + 1]) of the grouped tokens. */
    const perExpert = (type: string, N: number, K: number, sides: (e: number, r0: number) => Sides) =>
      g.active.map((e): MatmulJob => {
        const r0 = g.offsets[e];
        return { ggml: converts(type), M: g.offsets[e + 1] - r0, N, K, ...sides(e, r0) };
      });
    /** The shared expert's job: every token. */
    const shared = (type: string, N: number, K: number, sides: Sides): MatmulJob => ({
      ggml: converts(type),
      M: T,
      N,
      K,
      ...sides,
    });
    /** The gate (into yg) and up (into yu) of f's expert e from grouped row r0 (whole: every token). */
    const gated = (f: ExpertFfn, e: number, r0: number, whole: boolean, yg: number, yu: number): Sides => ({
      a: { type: f.gate.type, x: at(f.gate.type, r0, whole), w: slice(f.gate, e), y: yg },
      b: {
        type: f.up.type,
        ggml: converts(f.up.type),
        x: at(f.up.type, r0, whole),
        w: slice(f.up, e),
        y: yu,
      },
    });
    const gateUp = perExpert(ffn.gate.type, F, D, (e, r0) =>
      gated(ffn, e, r0, false, G + r0 * F * 4, U + r0 * F * 4),
    );
    if (sh) gateUp.push(shared(sh.ffn.gate.type, Fs, D, gated(sh.ffn, 0, 0, true, SG, SU)));
    mark('dispatch');
    await runItems(rt, runner, gateUp);
    mark('experts');
    // Inputs of down: the SwiGLU rows, as f32 or quantized to down's vec_dot type.
    let H = G;
    let hRow = F * 4;
    let SH = SG;
    let shRow = Fs * 4;
    if (converts(ffn.down.type)) {
      const vd = vecDotType(ffn.down.type);
      hRow = activationRowBytes(vd, F);
      H = alloc(rows * hRow);
      await quantizeRows(runner, vd, G, H, rows, F);
    }
    if (sh && converts(sh.ffn.down.type)) {
      const vs = vecDotType(sh.ffn.down.type);
      shRow = activationRowBytes(vs, Fs);
      SH = alloc(T * shRow);
      await quantizeRows(runner, vs, SG, SH, T, Fs);
    }
    mark('quantize');
    const down = perExpert(ffn.down.type, D, F, (e, r0) => ({
      a: { type: ffn.down.type, x: H + r0 * hRow, w: slice(ffn.down, e), y: Y + r0 * D * 4 },
    }));
    if (sh)
      down.push(
        shared(sh.ffn.down.type, D, Fs, { a: { type: sh.ffn.down.type, x: SH, w: sh.ffn.down.ptr, y: S } }),
      );
    mark('dispatch');
    await runItems(rt, runner, down);
    mark('experts');
    if (sh?.gateInp) sharedGate(rt, sh.gateInp, x, sgate, T, D);
    const c = combineCall(Y, pos, w, S, sgate, out, dims, k);
    await runner.runRanges(c.kernel, partition(T, runner.threads), (r) => c.args(r.start, r.end));
    mark('combine');
    if (opts.slotOutputs) writeSlotOutputs(rt, g, Y, opts.slotOutputs, T, k, D);
    return g;
  } finally {
    for (const p of owned) rt.arena.release(p);
  }
}

/** Runs one phase's matmul jobs as work items over the runner. */
async function runItems(rt: WasmRuntime, runner: KernelRunner, jobs: MatmulJob[]): Promise<void> {
  const plan = planItems(jobs, runner.threads);
  const table = rt.arena.alloc(plan.table.byteLength);
  const per = Math.ceil(matmulQuantExactScratchBytes(rt, plan.maxM) / 64) * 64;
  const scratch = rt.arena.alloc(per * runner.threads);
  try {
    new Int32Array(rt.memory.buffer, table, plan.table.length).set(plan.table);
    await runner.runRanges('moe_expert_items', plan.ranges, (r, i) => [
      table,
      r.start,
      r.end,
      scratch + i * per,
    ]);
  } finally {
    rt.arena.release(table);
    rt.arena.release(scratch);
  }
}

/** Each slot's expert output row (zeros for a dropped token) into dst [T, k, D]. */
function writeSlotOutputs(
  rt: WasmRuntime,
  g: ExpertGroups,
  Y: number,
  dst: number,
  T: number,
  k: number,
  D: number,
): void {
  const y = rt.f32(Y, g.offsets[g.experts] * D);
  const o = rt.f32(dst, T * k * D);
  for (let s = 0; s < T * k; s++) {
    const r = g.pos[s];
    if (r < 0) o.fill(0, s * D, (s + 1) * D);
    else o.set(y.subarray(r * D, (r + 1) * D), s * D);
  }
}
