/**
 * engine.gru on the wasm backend (semantics: src/ops/gru.ts): the f32 scan
 * straight on the tensors' memory, the quantized scan on int8 codes
 * quantized here (the same codes and scales as the reference, by
 * quantizeRecurrence). Per step the recurrent product is split over its
 * output units and the gates over elements — each output is computed by one
 * call whatever the split, so the bits do not depend on the thread count.
 * Small products run on the calling thread: two pool rounds per step cost
 * more than they save there (bench/scan.bench.ts on the 2-vCPU VM: dense
 * H = 1024, 6.3 MFLOP per step, ran 2.0× faster on 2 threads; Monarch
 * H = 4096, 3.1 MFLOP split over only 3 gate units, 1.8× slower).
 */
import {
  type GruRecurrence,
  type GruStructure,
  gruNanStateError,
  quantizeRecurrence,
  recurrenceFlops,
} from '../../ops/gru.js';
import type { Int8Quantizer } from '../../ops/int8-quantizer.js';
import type { WorkerPool } from '../../scheduler/pool.js';
import {
  gruScan,
  gruScanI8,
  gruScanI8OnPool,
  gruScanI8ScratchBytes,
  gruScanOnPool,
  gruScanScratchBytes,
  type WasmInt8Recurrence,
  type WasmRecurrence,
} from './gru.js';
import type { WasmRuntime } from './module.js';

/** gru_gates_i8's state code for a NaN (assembly/scan/gru-int8.ts): outside the narrow range ±127. */
const NAN_STATE_CODE = -128;

/** Flops of one recurrent product below which the scan stays on the calling thread. */
export const GRU_POOL_MIN_FLOPS = 2 ** 22;

function gruUsesPool(pool: WorkerPool, kind: GruStructure, H: number): boolean {
  return pool.threads > 1 && recurrenceFlops(kind, H) >= GRU_POOL_MIN_FLOPS;
}

/** Pointers of one GRU call: gx [T, 3H], bh [3H] and h0 [H] (0: none), hs [T, H], gates [T, 3H] (0: none). */
export interface GruCall {
  gx: number;
  bh: number;
  h0: number;
  hs: number;
  gates: number;
  T: number;
}

/** The f32 GRU scan. */
export async function runGru(rt: WasmRuntime, pool: WorkerPool, rec: WasmRecurrence, c: GruCall) {
  const scratch = rt.arena.alloc(gruScanScratchBytes(rec.kind, rec.H));
  try {
    if (gruUsesPool(pool, rec.kind, rec.H))
      await gruScanOnPool(pool, rt, rec, c.gx, c.bh, c.h0, c.hs, c.T, scratch, c.gates);
    else gruScan(rt, rec, c.gx, c.bh, c.h0, c.hs, c.T, scratch, c.gates);
  } finally {
    rt.arena.release(scratch);
  }
}

/**
 * The quantized GRU scan: `rec` holds U's f32 values (host copies), quantized
 * per output channel by `weights` (or max-abs); h0 (host values or null) is
 * quantized by the frozen `state` quantizer; c.hs receives f32(q·s_h).
 */
export async function runGruI8(
  rt: WasmRuntime,
  pool: WorkerPool,
  rec: GruRecurrence,
  h0: ArrayLike<number> | null,
  state: Int8Quantizer,
  weights: Readonly<Record<string, Int8Quantizer>> | undefined,
  c: GruCall,
): Promise<void> {
  const H = rec.H;
  const sh = state.scales()[0];
  const q = quantizeRecurrence(rec, weights);
  const owned: number[] = [];
  const put = (bytes: Uint8Array) => {
    const p = rt.arena.alloc(Math.max(bytes.byteLength, 16));
    owned.push(p);
    rt.u8.set(bytes, p);
    return p;
  };
  const codes = (name: string) => put(new Uint8Array(q.codes[name].buffer));
  const scales = (name: string) => put(new Uint8Array(q.scales[name].buffer));
  try {
    let w: WasmInt8Recurrence;
    if (rec.kind === 'dense' || rec.kind === 'diagonal')
      w = { kind: rec.kind, H, qu: codes('u'), su: scales('u') };
    else if (rec.kind === 'monarch')
      w = { kind: 'monarch', H, q1: codes('b1'), s1: scales('b1'), q2: codes('b2'), s2: scales('b2') };
    else w = { kind: 'butterfly', H, qw: codes('w'), sw: scales('w') };
    const q0 = put(new Uint8Array(state.quantize(h0 ?? new Float32Array(H)).buffer));
    const qs = rt.arena.alloc(Math.max(c.T * H, 16));
    owned.push(qs);
    const scratch = rt.arena.alloc(gruScanI8ScratchBytes(rec.kind, H));
    owned.push(scratch);
    if (gruUsesPool(pool, rec.kind, H))
      await gruScanI8OnPool(pool, w, c.gx, c.bh, q0, sh, qs, c.T, scratch, c.gates);
    else gruScanI8(rt, w, c.gx, c.bh, q0, sh, qs, c.T, scratch, c.gates);
    // q·s_h is exact in float64 (8 × 24 bits), then rounded once to f32, as the reference's output.
    const out = rt.f32(c.hs, c.T * H);
    const bytes = new Int8Array(rt.u8.buffer, qs, c.T * H);
    // gru_gates_i8 codes a NaN −128 (no narrow-range code is): the first one is the step the
    // reference's quantizer refuses (later steps ran on it, and are dropped with the error).
    const nan = bytes.indexOf(NAN_STATE_CODE);
    if (nan >= 0) throw gruNanStateError(Math.floor(nan / H));
    for (let i = 0; i < c.T * H; i++) out[i] = bytes[i] * sh;
  } finally {
    for (const p of owned) rt.arena.release(p);
  }
}
