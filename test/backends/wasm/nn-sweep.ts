/**
 * Error of the SiLU and GELU kernels over sweeps of f32 inputs, against
 * the float64 reference: max ulps for normal results, max absolute error (in
 * units of 2^-149) for subnormal ones. Used by nn-math.test.ts (strided) and
 * scripts/nn-error-sweep.ts (every f32: the figures in NN_MAX_ULP).
 */
import {
  referenceGeluErfValue,
  referenceGeluTanhValue,
  referenceSiluValue,
} from '../../../src/backends/reference/nn.js';
import type { WasmRuntime } from '../../../src/backends/wasm/module.js';
import { gelu, type NN_MAX_ULP, silu } from '../../../src/backends/wasm/nn.js';

export type SweptKernel = keyof typeof NN_MAX_ULP;

export const SWEEP: Record<
  SweptKernel,
  { reference: (x: number) => number; run: (rt: WasmRuntime, x: number, y: number, n: number) => void }
> = {
  silu: { reference: referenceSiluValue, run: (rt, x, y, n) => silu(rt, x, y, n) },
  gelu: { reference: referenceGeluTanhValue, run: (rt, x, y, n) => gelu(rt, x, y, n, 'tanh') },
  geluErf: { reference: referenceGeluErfValue, run: (rt, x, y, n) => gelu(rt, x, y, n, 'erf') },
};

const f64 = new Float64Array(1);
const f64Bits = new Uint32Array(f64.buffer);

/** ulp of f32 numbers of the magnitude of r: 2^(⌊log2|r|⌋ − 23), 2^-149 below 2^-126. */
export function f32Ulp(r: number): number {
  f64[0] = r;
  const e = ((f64Bits[1] >>> 20) & 0x7ff) - 1023; // ⌊log2|r|⌋ for normal doubles
  return e < -126 ? 2 ** -149 : 2 ** (e - 23);
}

export interface SweepResult {
  points: number;
  maxUlp: number;
  maxUlpAt: number;
  /** Largest |a − r| / 2^-149 where |r| < 2^-126. */
  maxSubnormal: number;
  /** Inputs whose reference is NaN, ±inf or beyond f32's range, where the kernel disagrees. */
  specialMismatches: number;
}

/**
 * Every `stride`-th f32 with lo ≤ x ≤ hi (by bit pattern, both signs), and
 * every f32 whose magnitude lies in the `dense` band, in chunks through wasm
 * memory.
 */
export function sweep(
  rt: WasmRuntime,
  kernel: SweptKernel,
  lo: number,
  hi: number,
  stride: number,
  dense: readonly [number, number] = [0, 0],
): SweepResult {
  const { reference, run } = SWEEP[kernel];
  const CHUNK = 1 << 18;
  const xp = rt.arena.alloc(CHUNK * 4);
  const yp = rt.arena.alloc(CHUNK * 4);
  const res: SweepResult = { points: 0, maxUlp: 0, maxUlpAt: 0, maxSubnormal: 0, specialMismatches: 0 };
  const bits = new Uint32Array(1);
  const asF32 = new Float32Array(bits.buffer);
  const patternOf = (v: number) => {
    asF32[0] = Math.abs(v);
    return bits[0];
  };
  // Runs [first, last, step] of unsigned bit patterns of one sign: magnitudes up to `top`, the
  // dense band at step 1; the sign bit is or-ed in.
  const [d0, d1] = [patternOf(dense[0]), patternOf(dense[1])];
  const runs: [number, number, number][] = [];
  const addSign = (top: number, sign: number) => {
    const t = patternOf(top);
    if (d1 > d0) {
      runs.push([sign, sign + Math.min(t, d0 - 1), stride]);
      if (t >= d0) runs.push([sign + d0, sign + Math.min(t, d1), 1]);
      if (t > d1) runs.push([sign + d1 + 1, sign + t, stride]);
    } else runs.push([sign, sign + t, stride]);
  };
  if (lo < 0) addSign(lo, 0x80000000);
  if (hi >= 0) addSign(hi, 0);
  try {
    for (const [start, end, step] of runs) {
      for (let p = start; p <= end; ) {
        const x = new Uint32Array(rt.memory.buffer, xp, CHUNK);
        let n = 0;
        for (; n < CHUNK && p <= end; n++, p += step) x[n] = p;
        run(rt, xp, yp, n);
        const xf = rt.f32(xp, n);
        const y = rt.f32(yp, n);
        for (let i = 0; i < n; i++) {
          const r = reference(xf[i]);
          const a = y[i];
          if (!Number.isFinite(Math.fround(r))) {
            // NaN, ±inf, or beyond the f32 range: the f32 result is exactly that.
            if (!(Number.isNaN(r) ? Number.isNaN(a) : a === Math.fround(r))) res.specialMismatches++;
            continue;
          }
          const d = Math.abs(a - r);
          if (Math.abs(r) < 2 ** -126) res.maxSubnormal = Math.max(res.maxSubnormal, d / 2 ** -149);
          else {
            const e = d / f32Ulp(r);
            if (e > res.maxUlp) {
              res.maxUlp = e;
              res.maxUlpAt = xf[i];
            }
          }
        }
        res.points += n;
      }
    }
  } finally {
    rt.arena.release(yp);
    rt.arena.release(xp);
  }
  return res;
}
