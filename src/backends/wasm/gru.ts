/**
 * The GRU step kernels (assembly/scan/gru.ts) from TypeScript. A structure's
 * parameters live in wasm memory as f32 (layouts: src/ops/gru.ts); pointers
 * are byte offsets. The recurrent product splits over outputs (dense,
 * diagonal: 3H units) or gates (Monarch, butterfly: 3 units), the gates over
 * elements; any split gives the same bits.
 */
import { ShapeError } from '../../errors.js';
import { butterflyFactors, type GruStructure, monarchBlock } from '../../ops/gru.js';
import type { WorkerPool } from '../../scheduler/pool.js';
import type { WasmRuntime } from './module.js';

/** Pointers to a structure's parameters: dense/diagonal {u}, monarch {b1, b2}, butterfly {w}. */
export type WasmRecurrence =
  | { kind: 'dense' | 'diagonal'; H: number; u: number }
  | { kind: 'monarch'; H: number; b1: number; b2: number }
  | { kind: 'butterfly'; H: number; w: number };

/** Units the recurrent product splits over. */
export function gruMatvecUnits(kind: GruStructure, H: number): number {
  return kind === 'dense' || kind === 'diagonal' ? 3 * H : 3;
}

/** Bytes of scratch the recurrent product needs (Monarch: the permuted intermediate, [3H] f32). */
export function gruMatvecScratchBytes(kind: GruStructure, H: number): number {
  return kind === 'monarch' ? 3 * H * 4 : 0;
}

function checkRange(kernel: string, r0: number, r1: number, n: number): void {
  if (!(Number.isSafeInteger(r0) && Number.isSafeInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= n))
    throw new ShapeError(`${kernel}: range [${r0}, ${r1}) is outside [0, ${n})`);
}

/** y [3H] = U·h for units [r0, r1) (see gruMatvecUnits); scratch: gruMatvecScratchBytes. */
export function gruMatvec(
  rt: WasmRuntime,
  rec: WasmRecurrence,
  h: number,
  y: number,
  scratch: number,
  r0 = 0,
  r1 = gruMatvecUnits(rec.kind, rec.H),
): void {
  const H = rec.H;
  checkRange(`gru_matvec_${rec.kind}`, r0, r1, gruMatvecUnits(rec.kind, H));
  if (r0 === r1) return;
  switch (rec.kind) {
    case 'dense':
    case 'diagonal':
      rt.kernel(`gru_matvec_${rec.kind}`)(rec.u, h, y, H, r0, r1);
      return;
    case 'monarch':
      rt.kernel('gru_matvec_monarch')(rec.b1, rec.b2, h, scratch, y, H, monarchBlock(H), r0, r1);
      return;
    case 'butterfly':
      rt.kernel('gru_matvec_butterfly')(rec.w, h, y, H, butterflyFactors(H), r0, r1);
      return;
  }
}

/** out [H] = the gates for elements [i0, i1): gx, gh, bh [3H] (bh 0: none), h [H]. */
export function gruGates(
  rt: WasmRuntime,
  gx: number,
  gh: number,
  bh: number,
  h: number,
  out: number,
  H: number,
  i0 = 0,
  i1 = H,
): void {
  checkRange('gru_gates', i0, i1, H);
  if (i0 < i1) rt.kernel('gru_gates')(gx, gh, bh, h, out, H, i0, i1);
}

/** Bytes of scratch for gruScan: gh [3H], the Monarch intermediate, a zero state [H]. */
export function gruScanScratchBytes(kind: GruStructure, H: number): number {
  return 3 * H * 4 + gruMatvecScratchBytes(kind, H) + H * 4;
}

/** hs [T, H] = the GRU scan on one thread: gx [T, 3H], bh [3H] (0: none), h0 [H] (0: zeros). */
export function gruScan(
  rt: WasmRuntime,
  rec: WasmRecurrence,
  gx: number,
  bh: number,
  h0: number,
  hs: number,
  T: number,
  scratch: number,
): void {
  const H = rec.H;
  const gh = scratch;
  const ms = scratch + 3 * H * 4;
  const zero = ms + gruMatvecScratchBytes(rec.kind, H);
  if (!h0) rt.u8.fill(0, zero, zero + H * 4);
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? hs + (t - 1) * H * 4 : h0 || zero;
    gruMatvec(rt, rec, prev, gh, ms);
    gruGates(rt, gx + t * 3 * H * 4, gh, bh, prev, hs + t * H * 4, H);
  }
}

/**
 * gruScan over a pool: per step, the recurrent product split over its units,
 * then the gates split over elements (16-float grid); the same bits as gruScan.
 */
export async function gruScanOnPool(
  pool: WorkerPool,
  rt: WasmRuntime,
  rec: WasmRecurrence,
  gx: number,
  bh: number,
  h0: number,
  hs: number,
  T: number,
  scratch: number,
): Promise<void> {
  const H = rec.H;
  const gh = scratch;
  const ms = scratch + 3 * H * 4;
  const zero = ms + gruMatvecScratchBytes(rec.kind, H);
  if (!h0) rt.u8.fill(0, zero, zero + H * 4);
  const units = pool.split(gruMatvecUnits(rec.kind, H));
  const elems = pool.split(H, 16);
  const kernel = `gru_matvec_${rec.kind}`;
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? hs + (t - 1) * H * 4 : h0 || zero;
    await pool.runRanges(kernel, units, (r) => {
      switch (rec.kind) {
        case 'dense':
        case 'diagonal':
          return [rec.u, prev, gh, H, r.start, r.end];
        case 'monarch':
          return [rec.b1, rec.b2, prev, ms, gh, H, monarchBlock(H), r.start, r.end];
        case 'butterfly':
          return [rec.w, prev, gh, H, butterflyFactors(H), r.start, r.end];
      }
    });
    await pool.runRanges('gru_gates', elems, (r) => [
      gx + t * 3 * H * 4,
      gh,
      bh,
      prev,
      hs + t * H * 4,
      H,
      r.start,
      r.end,
    ]);
  }
}

/** int8 GRU weights in wasm memory: codes qu (dense [3H, H], diagonal [3H]) and f32 scales su [3H]. */
export interface WasmInt8Recurrence {
  kind: 'dense' | 'diagonal';
  H: number;
  qu: number;
  su: number;
}

/** gh [3H] f32 = U·h from int8 weights and state codes qh [H] with scale sh, outputs [o0, o1). */
export function gruMatvecI8(
  rt: WasmRuntime,
  rec: WasmInt8Recurrence,
  qh: number,
  sh: number,
  y: number,
  o0 = 0,
  o1 = 3 * rec.H,
): void {
  checkRange(`gru_matvec_${rec.kind}_i8`, o0, o1, 3 * rec.H);
  if (o0 < o1) rt.kernel(`gru_matvec_${rec.kind}_i8`)(rec.qu, rec.su, qh, sh, y, rec.H, o0, o1);
}

/** qout [H] int8 = the new state codes for elements [i0, i1). */
export function gruGatesI8(
  rt: WasmRuntime,
  gx: number,
  gh: number,
  bh: number,
  qh: number,
  sh: number,
  qout: number,
  H: number,
  i0 = 0,
  i1 = H,
): void {
  checkRange('gru_gates_i8', i0, i1, H);
  if (i0 < i1) rt.kernel('gru_gates_i8')(gx, gh, bh, qh, sh, qout, H, i0, i1);
}

/** qs [T, H] int8 = the quantized GRU scan's state codes from q0 [H] (int8 codes); gh: [3H] f32 scratch. */
export function gruScanI8(
  rt: WasmRuntime,
  rec: WasmInt8Recurrence,
  gx: number,
  bh: number,
  q0: number,
  sh: number,
  qs: number,
  T: number,
  gh: number,
): void {
  const H = rec.H;
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? qs + (t - 1) * H : q0;
    gruMatvecI8(rt, rec, prev, sh, gh);
    gruGatesI8(rt, gx + t * 3 * H * 4, gh, bh, prev, sh, qs + t * H, H);
  }
}
