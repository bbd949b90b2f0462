/**
 * The GRU step kernels (assembly/scan/gru.ts) from TypeScript. A structure's
 * parameters live in wasm memory as f32 (layouts: src/ops/gru.ts); pointers
 * are byte offsets. The recurrent product splits over outputs (dense,
 * diagonal: 3H units) or gates (Monarch, butterfly: 3 units), the gates over
 * elements; any split gives the same bits. The int8 kernels
 * (assembly/scan/gru-int8.ts) take int8 codes with per-row scales.
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
  checkRange(`gru_matvec_${rec.kind}`, r0, r1, gruMatvecUnits(rec.kind, rec.H));
  if (r0 < r1) rt.kernel(`gru_matvec_${rec.kind}`)(...matvecArgs(rec, h, y, scratch, r0, r1));
}

/** out [H] = the gates for elements [i0, i1): gx, gh, bh [3H] (bh 0: none), h [H]; gates [3H] (0: none) gets r, z, n. */
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
  gates = 0,
): void {
  checkRange('gru_gates', i0, i1, H);
  if (i0 < i1) rt.kernel('gru_gates')(gx, gh, bh, h, out, gates, H, i0, i1);
}

/** Bytes of scratch for gruScan: gruScanI8's (gh [3H], the Monarch intermediate), then a zero state [H]. */
export function gruScanScratchBytes(kind: GruStructure, H: number): number {
  return gruScanI8ScratchBytes(kind, H) + H * 4;
}

/**
 * A GRU scan's operands after the runtime (or pool): gx [T, 3H], bh [3H] (0:
 * none), h0 [H] (0: zeros), hs [T, H] gets every state; scratch:
 * gruScanScratchBytes; gates [T, 3H] (0: none) gets each step's r, z, n.
 */
export type GruScanArgs = [
  rec: WasmRecurrence,
  gx: number,
  bh: number,
  h0: number,
  hs: number,
  T: number,
  scratch: number,
  gates?: number,
];

/** Scratch of a scan: gh [3H], then the product's intermediate; f32 scans: then a zero state [H]. */
function scanScratch(kind: GruStructure, H: number, scratch: number) {
  return { gh: scratch, ms: scratch + 3 * H * 4, zero: scratch + gruScanI8ScratchBytes(kind, H) };
}

/** The f32 scan's scratch, and its first state: h0, or the zeros it writes to scratch. */
function startScan(rt: WasmRuntime, rec: WasmRecurrence, h0: number, scratch: number) {
  const { gh, ms, zero } = scanScratch(rec.kind, rec.H, scratch);
  if (!h0) rt.u8.fill(0, zero, zero + rec.H * 4);
  return { gh, ms, first: h0 || zero };
}

/** hs [T, H] = the GRU scan on one thread (operands: GruScanArgs). */
export function gruScan(rt: WasmRuntime, ...[rec, gx, bh, h0, hs, T, scratch, gates = 0]: GruScanArgs): void {
  const H = rec.H;
  const { gh, ms, first } = startScan(rt, rec, h0, scratch);
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? hs + (t - 1) * H * 4 : first;
    gruMatvec(rt, rec, prev, gh, ms);
    gruGates(rt, gx + t * 3 * H * 4, gh, bh, prev, hs + t * H * 4, H, 0, H, gates && gates + t * 3 * H * 4);
  }
}

/**
 * gruScan over a pool: per step, the recurrent product split over its units,
 * then the gates split over elements (16-float grid); the same bits as gruScan.
 */
export async function gruScanOnPool(
  pool: WorkerPool,
  rt: WasmRuntime,
  ...[rec, gx, bh, h0, hs, T, scratch, gates = 0]: GruScanArgs
): Promise<void> {
  const H = rec.H;
  const { gh, ms, first } = startScan(rt, rec, h0, scratch);
  const units = pool.split(gruMatvecUnits(rec.kind, H));
  const elems = pool.split(H, 16);
  const kernel = `gru_matvec_${rec.kind}`;
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? hs + (t - 1) * H * 4 : first;
    await pool.runRanges(kernel, units, (r) => matvecArgs(rec, prev, gh, ms, r.start, r.end));
    await pool.runRanges('gru_gates', elems, (r) => [
      gx + t * 3 * H * 4,
      gh,
      bh,
      prev,
      hs + t * H * 4,
      gates && gates + t * 3 * H * 4,
      H,
      r.start,
      r.end,
    ]);
  }
}

/** gru_matvec_<kind>'s arguments for units [r0, r1). */
function matvecArgs(rec: WasmRecurrence, h: number, y: number, scratch: number, r0: number, r1: number) {
  const H = rec.H;
  switch (rec.kind) {
    case 'dense':
    case 'diagonal':
      return [rec.u, h, y, H, r0, r1];
    case 'monarch':
      return [rec.b1, rec.b2, h, scratch, y, H, monarchBlock(H), r0, r1];
    case 'butterfly':
      return [rec.w, h, y, H, butterflyFactors(H), r0, r1];
  }
}

/**
 * int8 GRU weights in wasm memory: int8 codes and f32 scales, one scale per
 * output channel (row) of each array — dense qu [3H, H], diagonal qu [3H]
 * (su [3H] each); Monarch q1, q2 [3, β, β, β] with s1, s2 [3H]; butterfly
 * qw [3, ℓ, H/2, 4] with sw [3, ℓ, H/2, 2].
 */
export type WasmInt8Recurrence =
  | { kind: 'dense' | 'diagonal'; H: number; qu: number; su: number }
  | { kind: 'monarch'; H: number; q1: number; s1: number; q2: number; s2: number }
  | { kind: 'butterfly'; H: number; qw: number; sw: number };

/** gru_matvec_<kind>_i8's arguments for units [r0, r1) (gruMatvecUnits). */
function matvecI8Args(
  rec: WasmInt8Recurrence,
  qh: number,
  sh: number,
  y: number,
  scratch: number,
  r0: number,
  r1: number,
) {
  const H = rec.H;
  switch (rec.kind) {
    case 'dense':
    case 'diagonal':
      return [rec.qu, rec.su, qh, sh, y, H, r0, r1];
    case 'monarch':
      return [rec.q1, rec.s1, rec.q2, rec.s2, qh, sh, scratch, y, H, monarchBlock(H), r0, r1];
    case 'butterfly':
      return [rec.qw, rec.sw, qh, sh, y, H, butterflyFactors(H), r0, r1];
  }
}

/**
 * gh [3H] f32 = U·h from int8 weights and state codes qh [H] with scale sh,
 * units [r0, r1) (gruMatvecUnits); scratch: gruMatvecScratchBytes (Monarch).
 */
export function gruMatvecI8(
  rt: WasmRuntime,
  rec: WasmInt8Recurrence,
  qh: number,
  sh: number,
  y: number,
  scratch = 0,
  r0 = 0,
  r1 = gruMatvecUnits(rec.kind, rec.H),
): void {
  checkRange(`gru_matvec_${rec.kind}_i8`, r0, r1, gruMatvecUnits(rec.kind, rec.H));
  if (r0 < r1) rt.kernel(`gru_matvec_${rec.kind}_i8`)(...matvecI8Args(rec, qh, sh, y, scratch, r0, r1));
}

/** qout [H] int8 = the new state codes for elements [i0, i1); gates [3H] (0: none) gets r, z, n. */
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
  gates = 0,
): void {
  checkRange('gru_gates_i8', i0, i1, H);
  if (i0 < i1) rt.kernel('gru_gates_i8')(gx, gh, bh, qh, sh, qout, gates, H, i0, i1);
}

/** Bytes of scratch for gruScanI8: gh [3H] f32 and the Monarch intermediate. */
export function gruScanI8ScratchBytes(kind: GruStructure, H: number): number {
  return 3 * H * 4 + gruMatvecScratchBytes(kind, H);
}

/**
 * The quantized scan's operands after the runtime (or pool): gx [T, 3H], bh
 * [3H] (0: none), q0 [H] int8 codes, sh the state scale, qs [T, H] gets every
 * state's codes; scratch: gruScanI8ScratchBytes; gates [T, 3H] (0: none).
 */
export type GruScanI8Args = [
  rec: WasmInt8Recurrence,
  gx: number,
  bh: number,
  q0: number,
  sh: number,
  qs: number,
  T: number,
  scratch: number,
  gates?: number,
];

/** qs [T, H] int8 = the quantized GRU scan's state codes on one thread (operands: GruScanI8Args). */
export function gruScanI8(
  rt: WasmRuntime,
  ...[rec, gx, bh, q0, sh, qs, T, scratch, gates = 0]: GruScanI8Args
): void {
  const H = rec.H;
  const { gh, ms } = scanScratch(rec.kind, H, scratch);
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? qs + (t - 1) * H : q0;
    gruMatvecI8(rt, rec, prev, sh, gh, ms);
    gruGatesI8(rt, gx + t * 3 * H * 4, gh, bh, prev, sh, qs + t * H, H, 0, H, gates && gates + t * 3 * H * 4);
  }
}

/** gruScanI8 over a pool (product split by units, gates by elements): the same bits. */
export async function gruScanI8OnPool(
  pool: WorkerPool,
  ...[rec, gx, bh, q0, sh, qs, T, scratch, gates = 0]: GruScanI8Args
): Promise<void> {
  const H = rec.H;
  const { gh, ms } = scanScratch(rec.kind, H, scratch);
  const units = pool.split(gruMatvecUnits(rec.kind, H));
  const elems = pool.split(H, 16);
  const kernel = `gru_matvec_${rec.kind}_i8`;
  for (let t = 0; t < T; t++) {
    const prev = t > 0 ? qs + (t - 1) * H : q0;
    await pool.runRanges(kernel, units, (r) => matvecI8Args(rec, prev, sh, gh, ms, r.start, r.end));
    await pool.runRanges('gru_gates_i8', elems, (r) => [
      gx + t * 3 * H * 4,
      gh,
      bh,
      prev,
      sh,
      qs + t * H,
      gates && gates + t * 3 * H * 4,
      H,
      r.start,
      r.end,
    ]);
  }
}
