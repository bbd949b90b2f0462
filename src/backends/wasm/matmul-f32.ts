/**
 * f32 GEMM / GEMV on the wasm kernels (assembly/matmul/f32.ts): weights are
 * packed once into column panels (explicit and cached by the caller), then
 * any number of matmuls run over the packed form.
 *
 *   const w = packWeights(rt, 'f16', bytes, N, K);   // [N, K] weight, once
 *   matmulF32(rt, xPtr, w, yPtr, M);                 // y[M, N] = x[M, K] · Wᵀ
 *   matmulF32(rt, xPtr, w, yPtr, M, n0, n1, s);      // only columns [n0, n1) (one worker's share)
 *   w.dispose();
 *
 * A GEMM with M > 4 packs blocks of x into scratch: f32ScratchBytes(rt, M, K)
 * bytes that the call owns (each worker its own). matmulF32 takes it from the
 * arena for the call when none is given.
 *
 * A worker owns a column range [n0, n1) whose ends are multiples of
 * PANEL_WIDTH (n1 may be N). Every output element is computed by one call in
 * an order that depends only on K, so any split gives bit-identical results,
 * and rows computed with M = 1..4 (the GEMV path) equal the same rows of a
 * larger GEMM.
 */
import { ShapeError, SizeError, UnsupportedTypeError } from '../../errors.js';
import type { WasmRuntime } from './module.js';

/** Weight types the f32 kernels take directly (converted exactly while packing). */
export type PackedWeightType = 'f32' | 'f16' | 'bf16';

/** Output features per packed panel; column ranges start and end on multiples of it (except at N). */
export const PANEL_WIDTH = 8;

const ELEMENT_BYTES: Record<PackedWeightType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Bytes of the packed form of an [N, K] weight: ceil(N / 8) panels of K·8 f32. */
export function packedWeightBytes(N: number, K: number): number {
  return Math.ceil(N / PANEL_WIDTH) * K * PANEL_WIDTH * 4;
}

/** A weight in packed form, in the runtime's memory. */
export class PackedWeights {
  private live = true;

  constructor(
    private readonly rt: WasmRuntime,
    /** Byte offset of the packed panels in the runtime's memory. */
    readonly ptr: number,
    readonly bytes: number,
    readonly N: number,
    readonly K: number,
    /** The type the weights had before packing. */
    readonly type: PackedWeightType,
  ) {}

  get disposed(): boolean {
    return !this.live;
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    this.rt.arena.release(this.ptr);
  }
}

function checkDims(what: Record<string, number>): void {
  for (const [name, v] of Object.entries(what)) {
    if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff)
      throw new ShapeError(`${name} must be a non-negative 32-bit integer, got ${v}`);
  }
}

function checkType(type: string): asserts type is PackedWeightType {
  if (!(type in ELEMENT_BYTES))
    throw new UnsupportedTypeError(type, 'the f32 matmul takes f32, f16 or bf16 weights, not');
}

/** Packs an [N, K] weight that already lies in the runtime's memory at `src`. */
export function packWeightsAt(
  rt: WasmRuntime,
  type: PackedWeightType,
  src: number,
  N: number,
  K: number,
): PackedWeights {
  checkType(type);
  checkDims({ N, K });
  checkRange(rt, 'weights', src, N * K * ELEMENT_BYTES[type]);
  const bytes = packedWeightBytes(N, K);
  const ptr = rt.arena.alloc(bytes);
  rt.kernel(`pack_w_${type}`)(src, ptr, N, K);
  return new PackedWeights(rt, ptr, bytes, N, K, type);
}

/**
 * Packs an [N, K] weight given as bytes (f32/f16/bf16, little-endian, row-major;
 * a Float32Array for f32 works too).
 */
export function packWeights(
  rt: WasmRuntime,
  type: PackedWeightType,
  data: Uint8Array | Uint16Array | Float32Array,
  N: number,
  K: number,
): PackedWeights {
  checkType(type);
  checkDims({ N, K });
  const need = N * K * ELEMENT_BYTES[type];
  if (data.byteLength !== need)
    throw new SizeError(`${type} weight [${N}, ${K}] needs ${need} bytes, got ${data.byteLength}`);
  const src = rt.arena.alloc(need);
  try {
    rt.u8.set(new Uint8Array(data.buffer, data.byteOffset, need), src);
    return packWeightsAt(rt, type, src, N, K);
  } finally {
    rt.arena.release(src);
  }
}

/** Bytes of scratch a matmul of M rows of K needs (0 for GEMV, M ≤ 4; at most 256 KiB). */
export function f32ScratchBytes(rt: WasmRuntime, M: number, K: number): number {
  checkDims({ M, K });
  return rt.kernel('gemm_f32_scratch_bytes')(M, K) as number;
}

function checkRange(rt: WasmRuntime, what: string, ptr: number, bytes: number): void {
  if (!Number.isSafeInteger(ptr) || ptr < 0 || ptr + bytes > rt.memory.buffer.byteLength)
    throw new SizeError(`${what}: [${ptr}, ${ptr + bytes}) is outside the wasm memory`);
}

/**
 * y[m, n] = Σ_k x[m, k]·W[n, k] for m in [0, M) and n in [n0, n1). x is
 * [M, K] f32 at `x`, y is [M, N] f32 at `y` (pointers into the runtime's
 * memory); columns outside [n0, n1) are neither read nor written. `scratch`:
 * f32ScratchBytes(rt, M, K) bytes this call owns (allocated for the call if
 * omitted), or 0 to read x in place (slower, same bits).
 */
export function matmulF32(
  rt: WasmRuntime,
  x: number,
  w: PackedWeights,
  y: number,
  M: number,
  n0 = 0,
  n1 = w.N,
  scratch?: number,
): void {
  if (w.disposed) throw new ShapeError('the packed weights were disposed');
  const { N, K } = w;
  checkDims({ M, n0, n1 });
  if (n0 > n1 || n1 > N) throw new ShapeError(`column range [${n0}, ${n1}) is not within [0, ${N})`);
  if (n0 % PANEL_WIDTH !== 0 || (n1 % PANEL_WIDTH !== 0 && n1 !== N))
    throw new ShapeError(
      `column range [${n0}, ${n1}) must start and end on multiples of ${PANEL_WIDTH} (or at N = ${N})`,
    );
  checkRange(rt, 'x', x, M * K * 4);
  checkRange(rt, 'y', y, M * N * 4);
  if (x % 4 !== 0 || y % 4 !== 0) throw new SizeError(`x (${x}) and y (${y}) must be 4-byte aligned`);
  const scratchBytes = f32ScratchBytes(rt, M, K);
  if (scratch !== undefined && scratch !== 0) {
    checkRange(rt, 'scratch', scratch, scratchBytes);
    if (scratch % 16 !== 0) throw new SizeError(`scratch (${scratch}) must be 16-byte aligned`);
  }
  if (M === 0 || n0 === n1) return;
  const gemm = rt.kernel('gemm_f32');
  if (scratch !== undefined || scratchBytes === 0) {
    gemm(x, w.ptr, y, M, N, K, n0, n1, scratch ?? 0);
    return;
  }
  const s = rt.arena.alloc(scratchBytes);
  try {
    gemm(x, w.ptr, y, M, N, K, n0, n1, s);
  } finally {
    rt.arena.release(s);
  }
}

/** Convenience for tests and one-off calls: copies x in, runs every column, copies y out. */
export function matmulF32Array(rt: WasmRuntime, x: Float32Array, w: PackedWeights, M: number): Float32Array {
  if (x.length !== M * w.K)
    throw new ShapeError(`x has ${x.length} values, [M, K] = [${M}, ${w.K}] needs ${M * w.K}`);
  const xp = rt.arena.alloc(x.byteLength);
  const yp = rt.arena.alloc(M * w.N * 4);
  try {
    rt.f32(xp, x.length).set(x);
    matmulF32(rt, xp, w, yp, M);
    return rt.f32(yp, M * w.N).slice();
  } finally {
    rt.arena.release(yp);
    rt.arena.release(xp);
  }
}
