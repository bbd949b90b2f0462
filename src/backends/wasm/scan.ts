/**
 * The linear-scan kernels (assembly/scan/linear.ts) from TypeScript, on one
 * runtime (a range per call) or over a WorkerPool. Pointers are byte offsets
 * of f32 data in the runtime's memory; h0 = 0 is a zero initial state.
 * Semantics and what is bit-identical: src/ops/scan.ts.
 *
 *   sequential: scanLinear over channel ranges (linearScanOnPool splits the
 *               channels; any split gives the same bits);
 *   chunked:    scanChunkReduce → scanChunkCarry → scanChunkApply, with
 *               scratch P and E of scanChunkScratchBytes / 2 each
 *               (chunkedScanOnPool splits chunks over threads for the first
 *               and last phase, channels for the carry).
 */
import { ShapeError } from '../../errors.js';
import type { WorkerPool } from '../../scheduler/pool.js';
import type { WasmRuntime } from './module.js';

function checkRange(kernel: string, what: string, r0: number, r1: number, n: number): void {
  if (!(Number.isSafeInteger(r0) && Number.isSafeInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= n))
    throw new ShapeError(`${kernel}: ${what} range [${r0}, ${r1}) is outside [0, ${n})`);
}

function checkSizes(kernel: string, T: number, D: number, L = 1): void {
  if (
    !(
      Number.isSafeInteger(T) &&
      T >= 0 &&
      Number.isSafeInteger(D) &&
      D >= 1 &&
      Number.isSafeInteger(L) &&
      L >= 1
    )
  )
    throw new ShapeError(`${kernel}: invalid sizes T ${T}, D ${D}, L ${L}`);
  if (T * D * 4 > 2 ** 32) throw new ShapeError(`${kernel}: [${T}, ${D}] does not fit 32-bit wasm memory`);
}

/** Chunks of length L over T rows. */
export function scanChunks(T: number, L: number): number {
  return Math.ceil(T / L);
}

/** Bytes of the chunked scan's scratch: P and E, [C, D] f32 each. */
export function scanChunkScratchBytes(T: number, D: number, L: number): number {
  return 2 * scanChunks(T, L) * D * 4;
}

/** h = the sequential scan of channels [d0, d1) (scan_linear). */
export function scanLinear(
  rt: WasmRuntime,
  a: number,
  b: number,
  h0: number,
  h: number,
  T: number,
  D: number,
  d0 = 0,
  d1 = D,
): void {
  checkSizes('scan_linear', T, D);
  checkRange('scan_linear', 'channel', d0, d1, D);
  if (d0 < d1) rt.kernel('scan_linear')(a, b, h0, h, T, D, d0, d1);
}

/** Phase 1: chunk ends E and chunk products P for chunks [c0, c1), channels [d0, d1). */
export function scanChunkReduce(
  rt: WasmRuntime,
  a: number,
  b: number,
  P: number,
  E: number,
  T: number,
  D: number,
  L: number,
  c0: number,
  c1: number,
  d0 = 0,
  d1 = D,
): void {
  checkSizes('scan_chunk_reduce', T, D, L);
  checkRange('scan_chunk_reduce', 'chunk', c0, c1, scanChunks(T, L));
  checkRange('scan_chunk_reduce', 'channel', d0, d1, D);
  if (c0 < c1 && d0 < d1) rt.kernel('scan_chunk_reduce')(a, b, P, E, T, D, L, c0, c1, d0, d1);
}

/** Phase 2: E becomes the state at each chunk's end, channels [d0, d1). */
export function scanChunkCarry(
  rt: WasmRuntime,
  P: number,
  E: number,
  h0: number,
  T: number,
  D: number,
  L: number,
  d0 = 0,
  d1 = D,
): void {
  checkSizes('scan_chunk_carry', T, D, L);
  checkRange('scan_chunk_carry', 'channel', d0, d1, D);
  if (d0 < d1) rt.kernel('scan_chunk_carry')(P, E, h0, scanChunks(T, L), D, d0, d1);
}

/** Phase 3: h for chunks [c0, c1), channels [d0, d1), from the carries in E. */
export function scanChunkApply(
  rt: WasmRuntime,
  a: number,
  b: number,
  h0: number,
  E: number,
  h: number,
  T: number,
  D: number,
  L: number,
  c0: number,
  c1: number,
  d0 = 0,
  d1 = D,
): void {
  checkSizes('scan_chunk_apply', T, D, L);
  checkRange('scan_chunk_apply', 'chunk', c0, c1, scanChunks(T, L));
  checkRange('scan_chunk_apply', 'channel', d0, d1, D);
  if (c0 < c1 && d0 < d1) rt.kernel('scan_chunk_apply')(a, b, h0, E, h, T, D, L, c0, c1, d0, d1);
}

/** The sequential scan over a pool: channels split on a 4-float grid. */
export async function linearScanOnPool(
  pool: WorkerPool,
  a: number,
  b: number,
  h0: number,
  h: number,
  T: number,
  D: number,
): Promise<void> {
  checkSizes('scan_linear', T, D);
  const r = pool.split(D, 4);
  await pool.runRanges('scan_linear', r, (x) => [a, b, h0, h, T, D, x.start, x.end]);
}

/** The chunked scan over a pool; `scratch` holds scanChunkScratchBytes(T, D, L) bytes. */
export async function chunkedScanOnPool(
  pool: WorkerPool,
  a: number,
  b: number,
  h0: number,
  h: number,
  scratch: number,
  T: number,
  D: number,
  L: number,
): Promise<void> {
  checkSizes('scan_chunked', T, D, L);
  const C = scanChunks(T, L);
  const P = scratch;
  const E = scratch + C * D * 4;
  const chunks = pool.split(C);
  await pool.runRanges('scan_chunk_reduce', chunks, (x) => [a, b, P, E, T, D, L, x.start, x.end, 0, D]);
  await pool.runRanges('scan_chunk_carry', pool.split(D, 4), (x) => [P, E, h0, C, D, x.start, x.end]);
  await pool.runRanges('scan_chunk_apply', chunks, (x) => [a, b, h0, E, h, T, D, L, x.start, x.end, 0, D]);
}
