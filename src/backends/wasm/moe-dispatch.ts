/**
 * MoE dispatch and combine on the wasm kernels: routed tokens grouped by
 * expert, each expert's gated FFN down(silu(gate·x) ⊙ up·x) run as quantized
 * matmuls over its token group — `exact` numerics (./matmul-quant.ts: f32
 * activations) or `ggml` (./matmul-ggml.ts: activations quantized to the
 * weight type's vec_dot type, as llama.cpp's CPU backend computes) — then
 * out[t] = Σ_j w[t,j]·y[t,j] (+ g_t·shared(x_t)) by moe_combine
 * (assembly/moe/combine.ts) in slot order, the shared expert last.
 *
 * Expert weights are ggml 3-D tensors in GGUF layout: gate and up [E, F, D],
 * down [E, D, F]; expert e's matrix is the e-th slice, N rows of K values in
 * the type's blocks, at ptr + e·N·rowBytes. Work units: one per expert with
 * tokens (runExpert; each writes only its own rows of Y, so experts may run
 * on any workers in any order) and token ranges of the combine (combineCall):
 * results are bit-identical for any split.
 *
 *   const g = groupByExpert(route, T, k, E);    // Y: [g.offsets[E], D]; g.pos into memory as i32
 *   for (const e of g.active) runExpert(rt, ffn, x, g, e, Y, dims);
 *   runShared(...)                              // optional: S [T, D], gate [T]
 *   run combineCall(...) over token ranges
 *
 * moeFfn does all of it on the calling thread.
 */
import { ShapeError } from '../../errors.js';
import type { MoeRouteResult } from '../../ops/moe-route.js';
import { ggmlType } from '../../types/ggml-types.js';
import {
  activationBytes,
  isGgmlMatmulType,
  matmulGgml,
  quantizeActivations,
  vecDotType,
} from './matmul-ggml.js';
import { isQuantExactType, matmulQuantExact } from './matmul-quant.js';
import type { WasmRuntime } from './module.js';
import type { NnCall } from './nn.js';
import { swiglu } from './nn.js';

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

/** Checks the expert tensors against the dimensions and the numerics' kernels. */
export function validateExpertFfn(
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
    if (!(numerics === 'exact' ? isQuantExactType(w.type) : isGgmlMatmulType(w.type)))
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

/**
 * One expert's FFN over its token group into its rows of Y [rows, D]:
 * gather x rows, gate and up matmuls, silu(gate)·up, down matmul.
 * Scratch is taken from the arena and released.
 */
export function runExpert(
  rt: WasmRuntime,
  ffn: ExpertFfn,
  x: number,
  g: ExpertGroups,
  e: number,
  Y: number,
  dims: MoeDims,
  numerics: MoeNumerics = 'exact',
  timings?: MoeTimings,
): void {
  const r0 = g.offsets[e];
  const c = g.offsets[e + 1] - r0;
  if (c === 0) return;
  const { dim: D, hidden: F } = dims;
  const t0 = timings ? performance.now() : 0;
  const xg = rt.arena.alloc(c * D * 4);
  const gate = rt.arena.alloc(c * F * 4);
  const up = rt.arena.alloc(c * F * 4);
  try {
    const src = rt.f32(x, dims.tokens * D);
    const dst = rt.f32(xg, c * D);
    for (let i = 0; i < c; i++) {
      const t = g.tokens[r0 + i];
      dst.set(src.subarray(t * D, (t + 1) * D), i * D);
    }
    const t1 = timings ? performance.now() : 0;
    ffnRows(rt, ffn, e, xg, gate, up, Y + r0 * D * 4, c, D, F, numerics);
    if (timings) {
      const t2 = performance.now();
      timings.gather += t1 - t0;
      timings.experts += t2 - t1;
    }
  } finally {
    rt.arena.release(xg);
    rt.arena.release(gate);
    rt.arena.release(up);
  }
}

/** y [c, D] = down_e(silu(gate_e·x) ⊙ up_e·x) for c contiguous rows x; gate and up: [c, F] scratch. */
function ffnRows(
  rt: WasmRuntime,
  ffn: ExpertFfn,
  e: number,
  x: number,
  gate: number,
  up: number,
  y: number,
  c: number,
  D: number,
  F: number,
  numerics: MoeNumerics,
): void {
  const mm = numerics === 'exact' ? matmulQuantExact : matmulQuantized;
  mm(rt, ffn.gate.type, x, slice(ffn.gate, e), gate, c, F, D);
  mm(rt, ffn.up.type, x, slice(ffn.up, e), up, c, F, D);
  swiglu(rt, gate, up, gate, c * F);
  mm(rt, ffn.down.type, gate, slice(ffn.down, e), y, c, D, F);
}

/** ggml numerics: quantize the M activation rows to the weight's vec_dot type, then the integer-dot matmul. */
function matmulQuantized(
  rt: WasmRuntime,
  type: string,
  x: number,
  w: number,
  y: number,
  M: number,
  N: number,
  K: number,
): void {
  const vdt = vecDotType(type);
  const xq = rt.arena.alloc(activationBytes(vdt, M, K));
  try {
    quantizeActivations(rt, vdt, x, xq, M, K);
    matmulGgml(rt, type, xq, w, y, M, N, K);
  } finally {
    rt.arena.release(xq);
  }
}

/** A shared expert: 2-D gate/up [Fs, D], down [D, Fs]; gateInp f32 [D] (Qwen2-MoE) or 0 (added unweighted). */
export interface SharedExpert {
  ffn: ExpertFfn;
  hidden: number;
  gateInp: number;
}

/**
 * The shared expert over all T tokens into S [T, D], and (with gateInp) its
 * gate sigmoid(gateInp·x_t) into sgate [T]: the dot in float64, rounded to
 * f32, then the sigmoid of that f32 in float64, rounded to f32.
 */
export function runShared(
  rt: WasmRuntime,
  sh: SharedExpert,
  x: number,
  S: number,
  sgate: number,
  dims: MoeDims,
  numerics: MoeNumerics = 'exact',
): void {
  validateExpertFfn(sh.ffn, 1, { ...dims, hidden: sh.hidden }, numerics);
  const { tokens: T, dim: D } = dims;
  const gate = rt.arena.alloc(T * sh.hidden * 4);
  const up = rt.arena.alloc(T * sh.hidden * 4);
  try {
    ffnRows(rt, sh.ffn, 0, x, gate, up, S, T, D, sh.hidden, numerics);
  } finally {
    rt.arena.release(gate);
    rt.arena.release(up);
  }
  if (!sh.gateInp) return;
  const xs = rt.f32(x, T * D);
  const w = rt.f32(sh.gateInp, D);
  const out = rt.f32(sgate, T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += xs[t * D + d] * w[d];
    out[t] = 1 / (1 + Math.exp(-Math.fround(s)));
  }
}

/** The combine (moe_combine) over tokens; pos: i32 [T, k] in memory, weights f32 [T, k]; shared/sgate 0: none. */
export function combineCall(
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
  /** groupByExpert and the buffers. */
  group: number;
  /** Copying each expert's token rows together. */
  gather: number;
  /** The experts' matmuls and SwiGLU. */
  experts: number;
  shared: number;
  combine: number;
}

export function moeTimings(): MoeTimings {
  return { group: 0, gather: 0, experts: 0, shared: 0, combine: 0 };
}

export interface MoeFfnOptions {
  shared?: SharedExpert | null;
  /** Expert matmul numerics (default 'exact'). */
  numerics?: MoeNumerics;
  /** Filled with the time of each part when given. */
  timings?: MoeTimings;
}

/**
 * The whole MoE FFN on the calling thread: out [T, D] from x [T, D], a
 * routing result (weights and experts [T, k]) and the expert tensors.
 */
export function moeFfn(
  rt: WasmRuntime,
  x: number,
  route: MoeRouteResult,
  k: number,
  ffn: ExpertFfn,
  out: number,
  dims: MoeDims,
  opts: MoeFfnOptions = {},
): ExpertGroups {
  const E = ffn.gate.count;
  const numerics = opts.numerics ?? 'exact';
  validateExpertFfn(ffn, E, dims, numerics);
  const { tokens: T, dim: D } = dims;
  const tm = opts.timings;
  let t0 = tm ? performance.now() : 0;
  /** Adds the time since the last mark to part p. */
  const mark = (p: keyof MoeTimings) => {
    if (!tm) return;
    const t = performance.now();
    tm[p] += t - t0;
    t0 = t;
  };
  const g = groupByExpert(route, T, k, E);
  const rows = g.offsets[E];
  const Y = rt.arena.alloc(Math.max(rows, 1) * D * 4);
  const pos = rt.arena.alloc(T * k * 4);
  const w = rt.arena.alloc(T * k * 4);
  const sh = opts.shared;
  const S = sh ? rt.arena.alloc(T * D * 4) : 0;
  const sgate = sh?.gateInp ? rt.arena.alloc(T * 4) : 0;
  try {
    new Int32Array(rt.memory.buffer, pos, T * k).set(g.pos);
    rt.f32(w, T * k).set(route.weights);
    mark('group');
    for (const e of g.active) runExpert(rt, ffn, x, g, e, Y, dims, numerics, tm);
    t0 = tm ? performance.now() : 0;
    if (sh) runShared(rt, sh, x, S, sgate, dims, numerics);
    mark('shared');
    const c = combineCall(Y, pos, w, S, sgate, out, dims, k);
    if (T > 0) rt.kernel(c.kernel)(...c.args(0, T));
    mark('combine');
  } finally {
    for (const p of [Y, pos, w, S, sgate]) if (p) rt.arena.release(p);
  }
  return g;
}
