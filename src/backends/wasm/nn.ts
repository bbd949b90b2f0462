/**
 * The nn kernels (assembly/nn) from TypeScript. Each op is described by an
 * NnCall — kernel name, how many rows (or elements) it splits over, and the
 * kernel arguments for a range [r0, r1) — so one description serves a single
 * thread (runNnCall) and the worker pool:
 *
 *   const call = rmsNormCall(x, w, y, rows, dim, eps);
 *   await pool.runRanges(call.kernel, pool.split(call.total, call.granularity),
 *     (r) => call.args(r.start, r.end));
 *
 * Every output element is computed by one call with an order that depends
 * only on the problem sizes: any split gives the same bits. Pointers are
 * byte offsets into the runtime's memory (f32 data, 4-byte aligned);
 * optional operands are 0. Shapes and attributes are validated by
 * src/ops/<op>.ts before a call is built.
 */
import { ShapeError } from '../../errors.js';
import type { RopeParams } from '../../ops/rope.js';
import { ROPE_MODE_ID } from '../../ops/rope.js';
import type { GgmlTypeInfo } from '../../types/ggml-types.js';
import { kernelCount } from './dequant.js';
import type { WasmRuntime } from './module.js';

export interface NnCall {
  kernel: string;
  /** Rows (row ops) or elements (element-wise ops) to split. */
  total: number;
  /** Split ranges at multiples of this (element-wise ops: 16 floats, a cache line). */
  granularity: number;
  args(r0: number, r1: number): number[];
}

/**
 * Largest errors of the SiLU and GELU kernels, in ulps of the result, against
 * the float64 reference (src/backends/reference/nn.ts), over NN_ERROR_SWEEP
 * (scripts/nn-error-sweep.ts; measured: SiLU 3.251 at x = −5.165, GELU tanh
 * 3.557 at x = −2.752, GELU erf 2.776 at x = 0.0152, over 3.5·10^8 inputs
 * each). An ulp is 2^(⌊log2|r|⌋ − 23), so k ulps is at most 2k·u relative
 * (u = 2^-24). exp alone: EXP_REL_ERROR (src/oracle/arithmetic.ts).
 */
export const NN_MAX_ULP = {
  silu: 3.26,
  gelu: 3.56,
  geluErf: 2.78,
} as const;

/** Absolute error of results in the subnormal range (below 2^-126), in units of 2^-149 (same sweep; measured 1.452). */
export const NN_SUBNORMAL_ABS = 1.5;

/**
 * The sweeps behind NN_MAX_ULP: every `stride`-th f32 bit pattern in `range`
 * (both signs) and every f32 whose magnitude lies in `dense` (where the
 * errors peak).
 */
export const NN_ERROR_SWEEP = {
  silu: { range: [-150, 150], stride: 8, dense: [0.5, 16] },
  gelu: { range: [-20, 20], stride: 8, dense: [0.5, 16] },
  geluErf: { range: [-20, 20], stride: 8, dense: [0.5, 16] },
} as const;

const ELEMENTS = 16;

function call(
  kernel: string,
  total: number,
  granularity: number,
  args: (r0: number, r1: number) => number[],
) {
  return { kernel, total, granularity, args };
}

export function runNnCall(rt: WasmRuntime, c: NnCall, r0 = 0, r1 = c.total): void {
  if (!(Number.isSafeInteger(r0) && Number.isSafeInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= c.total))
    throw new ShapeError(`${c.kernel}: range [${r0}, ${r1}) is outside [0, ${c.total})`);
  if (r0 < r1) rt.kernel(c.kernel)(...c.args(r0, r1));
}

/** y = (x·s)·w per row, s = 1/√(mean(x²) + eps) (nn_rms_norm). w = 0: no weight. */
export function rmsNormCall(x: number, w: number, y: number, rows: number, dim: number, eps: number): NnCall {
  return call('nn_rms_norm', rows, 1, (r0, r1) => [x, w, y, dim, eps, r0, r1]);
}

/** y = ((x − mean)·s)·w + b per row (nn_layer_norm). w, b = 0: none. */
export function layerNormCall(
  x: number,
  w: number,
  b: number,
  y: number,
  rows: number,
  dim: number,
  eps: number,
): NnCall {
  return call('nn_layer_norm', rows, 1, (r0, r1) => [x, w, b, y, dim, eps, r0, r1]);
}

/** Softmax of x·scale + mask row (r % maskRows) over rows of n (nn_softmax). mask = 0: none. */
export function softmaxCall(
  x: number,
  mask: number,
  y: number,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
): NnCall {
  return call('nn_softmax', rows, 1, (r0, r1) => [x, mask, y, n, Math.max(maskRows, 1), scale, r0, r1]);
}

/** RoPE over the n_tokens·n_head rows of x (nn_rope); cache from writeRopeCache. y may be x. */
export function ropeCall(x: number, cache: number, y: number, q: RopeParams): NnCall {
  return call('nn_rope', q.nTokens * q.nHead, 1, (r0, r1) => [
    x,
    cache,
    y,
    q.nHead,
    q.headDim,
    q.nDims,
    ROPE_MODE_ID[q.mode],
    r0,
    r1,
  ]);
}

/** y = a + b row r % bRows (nn_add). */
export function addCall(a: number, b: number, y: number, rows: number, dim: number, bRows: number): NnCall {
  if (!(Number.isSafeInteger(bRows) && bRows >= 1 && rows % bRows === 0))
    throw new ShapeError(`add: b has ${bRows} rows, which must divide a's ${rows}`);
  return call('nn_add', rows, 1, (r0, r1) => [a, b, y, dim, bRows, r0, r1]);
}

export type UnaryKernel = 'nn_silu' | 'nn_gelu' | 'nn_gelu_erf';

/** y = f(x) over n elements: nn_silu, nn_gelu (tanh form), nn_gelu_erf. */
export function unaryCall(kernel: UnaryKernel, x: number, y: number, n: number): NnCall {
  return call(kernel, n, ELEMENTS, (i0, i1) => [x, y, i0, i1]);
}

/** y = silu(gate)·up over n elements (nn_swiglu). */
export function swigluCall(gate: number, up: number, y: number, n: number): NnCall {
  return call('nn_swiglu', n, ELEMENTS, (i0, i1) => [gate, up, y, i0, i1]);
}

/**
 * y[t] = row ids[t] of a [nVocab, nEmbd] table of `type`, dequantized by the
 * type's dequant kernel (nn_embedding). Reads the nTokens int32 ids at `ids`
 * now and throws if one is outside [0, nVocab) (the kernel would trap).
 */
export function embeddingCall(
  rt: WasmRuntime,
  type: GgmlTypeInfo,
  table: number,
  ids: number,
  y: number,
  nTokens: number,
  nEmbd: number,
  nVocab: number,
): NnCall {
  const idv = new Int32Array(rt.memory.buffer, ids, nTokens);
  for (let t = 0; t < nTokens; t++) {
    if (idv[t] < 0 || idv[t] >= nVocab)
      throw new ShapeError(`embedding: ids[${t}] = ${idv[t]} is outside the vocabulary [0, ${nVocab})`);
  }
  const rowBytes = (nEmbd / type.blockSize) * type.typeSize;
  const count = kernelCount(type, nEmbd);
  return call('nn_embedding', nTokens, 1, (r0, r1) => [
    type.id,
    table,
    rowBytes,
    count,
    ids,
    y,
    nEmbd,
    nVocab,
    r0,
    r1,
  ]);
}

// ---- RoPE angles, computed on the host as ggml's rope_cache_init does ----

/** Bytes of the cache for nTokens tokens: per token nDims f32 (nDims/2 cosines, then nDims/2 sines). */
export function ropeCacheBytes(nTokens: number, nDims: number): number {
  return nTokens * nDims * 4;
}

const fr = Math.fround;

/**
 * cos/sin of every (token, pair) in ggml's f32 order (ggml-cpu ops.cpp,
 * rope_cache_init with ext_factor 0): θ starts at f32(p) and is multiplied,
 * in f32, by f32(freqBase^f32(−2/nDims)) once per pair; each pair uses
 * f32(freqScale · f32(θ/ff)), cos and sin of that rounded to f32, times
 * attnFactor in f32. Math.pow/cos/sin stand in for powf/cosf/sinf (ggml's
 * libm, correctly rounded in all but rare cases).
 */
export function ropeCache(positions: ArrayLike<number>, q: RopeParams): Float32Array {
  const half = q.nDims / 2;
  const cache = new Float32Array(positions.length * q.nDims);
  const thetaScale = fr(q.freqBase ** fr(-2 / q.nDims));
  for (let t = 0; t < positions.length; t++) {
    let theta = fr(positions[t]);
    for (let i = 0; i < half; i++) {
      const ff = q.freqFactors ? q.freqFactors[i] : 1;
      const angle = fr(q.freqScale * fr(theta / ff));
      cache[t * q.nDims + i] = fr(fr(Math.cos(angle)) * q.attnFactor);
      cache[t * q.nDims + half + i] = fr(fr(Math.sin(angle)) * q.attnFactor);
      theta = fr(theta * thetaScale);
    }
  }
  return cache;
}

/** Writes ropeCache(positions, q) at `cache` (ropeCacheBytes(nTokens, nDims) bytes). */
export function writeRopeCache(
  rt: WasmRuntime,
  cache: number,
  positions: ArrayLike<number>,
  q: RopeParams,
): void {
  rt.f32(cache, positions.length * q.nDims).set(ropeCache(positions, q));
}

// ---- single-thread wrappers: the ops over rows (elements) [r0, r1) ----

export function rmsNorm(
  rt: WasmRuntime,
  x: number,
  w: number,
  y: number,
  rows: number,
  dim: number,
  eps: number,
  r0 = 0,
  r1 = rows,
): void {
  runNnCall(rt, rmsNormCall(x, w, y, rows, dim, eps), r0, r1);
}

export function layerNorm(
  rt: WasmRuntime,
  x: number,
  w: number,
  b: number,
  y: number,
  rows: number,
  dim: number,
  eps: number,
  r0 = 0,
  r1 = rows,
): void {
  runNnCall(rt, layerNormCall(x, w, b, y, rows, dim, eps), r0, r1);
}

export function softmax(
  rt: WasmRuntime,
  x: number,
  mask: number,
  y: number,
  rows: number,
  n: number,
  maskRows: number,
  scale: number,
  r0 = 0,
  r1 = rows,
): void {
  runNnCall(rt, softmaxCall(x, mask, y, rows, n, maskRows, scale), r0, r1);
}

export function rope(
  rt: WasmRuntime,
  x: number,
  cache: number,
  y: number,
  q: RopeParams,
  r0 = 0,
  r1 = q.nTokens * q.nHead,
): void {
  runNnCall(rt, ropeCall(x, cache, y, q), r0, r1);
}

export function add(
  rt: WasmRuntime,
  a: number,
  b: number,
  y: number,
  rows: number,
  dim: number,
  bRows: number,
  r0 = 0,
  r1 = rows,
): void {
  runNnCall(rt, addCall(a, b, y, rows, dim, bRows), r0, r1);
}

export function silu(rt: WasmRuntime, x: number, y: number, n: number, i0 = 0, i1 = n): void {
  runNnCall(rt, unaryCall('nn_silu', x, y, n), i0, i1);
}

export function gelu(
  rt: WasmRuntime,
  x: number,
  y: number,
  n: number,
  approximate: 'tanh' | 'erf' = 'tanh',
  i0 = 0,
  i1 = n,
): void {
  runNnCall(rt, unaryCall(approximate === 'tanh' ? 'nn_gelu' : 'nn_gelu_erf', x, y, n), i0, i1);
}

export function swiglu(
  rt: WasmRuntime,
  gate: number,
  up: number,
  y: number,
  n: number,
  i0 = 0,
  i1 = n,
): void {
  runNnCall(rt, swigluCall(gate, up, y, n), i0, i1);
}

export function embedding(
  rt: WasmRuntime,
  type: GgmlTypeInfo,
  table: number,
  ids: number,
  y: number,
  nTokens: number,
  nEmbd: number,
  nVocab: number,
  r0 = 0,
  r1 = nTokens,
): void {
  runNnCall(rt, embeddingCall(rt, type, table, ids, y, nTokens, nEmbd, nVocab), r0, r1);
}
