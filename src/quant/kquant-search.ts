/**
 * The scale searches behind ggml's reference k-quant quantizers
 * (`make_qkx2_quants`, `make_q3_quants`, `make_qx_quants`, `nearest_int` in
 * ggml's src/ggml-quants.c), written to reproduce ggml's bytes exactly.
 *
 * ggml computes these in C `float` without FMA contraction. Every f32
 * operation here is therefore one double operation rounded with `fround`:
 * a single +, -, *, / or sqrt done in double and rounded to f32 equals the f32
 * operation. The evaluation order is C's (left to right), and comparisons keep
 * ggml's `<` / `<=` so that ties pick the same candidate.
 *
 * Blocks are addressed as (array, offset) pairs so that no subarray views are
 * allocated per block.
 */

import { nearestInt } from './rounding.js';

const f = Math.fround;

/** ggml's GROUP_MAX_EPS: a group whose largest |x| is below this is all zero. */
export const GROUP_MAX_EPS = f(1e-15);

/** C's MAX(lo, MIN(hi, l)) on integers. */
export function clamp(l: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, l));
}

/** Parameters of one `make_qkx2_quants` search (they differ per type). */
export interface Qkx2Params {
  /** Largest quant value (3 for q2_K, 15 for q4_K, 31 for q5_K). */
  readonly nmax: number;
  /** First candidate is nmax + rmin levels across the range ... */
  readonly rmin: number;
  /** ... then nstep more, each rdelta levels wider. */
  readonly rdelta: number;
  readonly nstep: number;
  /** Weighted absolute error (q2_K) instead of weighted squared error. */
  readonly useMad: boolean;
}

/**
 * `make_qkx2_quants`: an affine fit x ≈ scale·L − min with L in [0, nmax] and
 * min ≥ 0 for the `n` values at x[xo..], weighted by weights[0..n). Tries
 * nstep+1 grid spacings, refits scale and min by weighted least squares for
 * each, and keeps the first candidate with strictly lower error. As in ggml,
 * a winning candidate's min is used for the grids tried after it.
 *
 * Writes the quants to L[lo..lo+n) (laux is scratch of length ≥ n), the min
 * (as a non-negative offset) to mins[mi], and returns the scale.
 */
export function makeQkx2Quants(
  n: number,
  p: Qkx2Params,
  x: Float32Array,
  xo: number,
  weights: Float32Array,
  L: Uint8Array,
  lo: number,
  laux: Uint8Array,
  mins: Float32Array,
  mi: number,
): number {
  const { nmax, useMad } = p;
  let min = x[xo];
  let max = x[xo];
  let sumW = weights[0];
  let sumX = f(sumW * x[xo]);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i];
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    mins[mi] = -min;
    return 0;
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = clamp(nearestInt(f(iscale * f(xi - min))), 0, nmax);
    L[lo + i] = l;
    const diff = f(f(f(scale * l) + min) - xi);
    bestError = f(bestError + f(weights[i] * (useMad ? Math.abs(diff) : f(diff * diff))));
  }
  if (p.nstep < 1) {
    mins[mi] = -min;
    return scale;
  }
  for (let is = 0; is <= p.nstep; is++) {
    // `min` moves whenever a candidate wins, and ggml's later grids use the moved value.
    iscale = f(f(f(p.rmin + f(p.rdelta * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    let same = is > 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const l = clamp(nearestInt(f(iscale * f(xi - min))), 0, nmax);
      if (laux[i] !== l) {
        laux[i] = l;
        same = false;
      }
      const wl = f(weights[i] * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * xi));
    }
    // The fit depends only on the quants: a repeat of the previous candidate cannot win.
    if (same) continue;
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
    let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = f(sumXL / sumL2);
    }
    let curError = 0;
    for (let i = 0; i < n; i++) {
      const diff = f(f(f(thisScale * laux[i]) + thisMin) - x[xo + i]);
      curError = f(curError + f(weights[i] * (useMad ? Math.abs(diff) : f(diff * diff))));
    }
    if (curError < bestError) {
      for (let i = 0; i < n; i++) L[lo + i] = laux[i];
      bestError = curError;
      scale = thisScale;
      min = thisMin;
    }
  }
  mins[mi] = -min;
  return scale;
}

/**
 * Index of the element of largest |x| among x[xo..xo+n), first one on ties
 * (ggml's `if (ax > amax)` scan), or -1 when that |x| is below GROUP_MAX_EPS.
 */
function signedMaxIndex(n: number, x: Float32Array, xo: number): number {
  let amax = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      at = xo + i;
    }
  }
  return amax < GROUP_MAX_EPS ? -1 : at;
}

/**
 * `make_q3_quants` with do_rmse (the only form q3_K's reference uses): a
 * symmetric fit x ≈ scale·(L − nmax), L in [0, 2·nmax), weights x². Starts from
 * the grid set by the largest |x|, then up to 5 passes of coordinate descent
 * that move one L at a time while the weighted fit improves.
 *
 * Writes L[lo..lo+n) (all 0 for an all-zero group) and returns the scale.
 */
export function makeQ3Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  L: Int8Array,
  lo: number,
): number {
  const at = signedMaxIndex(n, x, xo);
  if (at < 0) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = f(-nmax / x[at]);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = clamp(nearestInt(f(iscale * xi)), -nmax, nmax - 1);
    L[lo + i] = l;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const w = f(xi * xi);
      const li = L[lo + i];
      let slx = f(sumlx - f(f(w * xi) * li));
      if (!(slx > 0)) continue;
      let sl2 = f(suml2 - f(f(w * li) * li));
      const nl = clamp(nearestInt(f(f(xi * sl2) / slx)), -nmax, nmax - 1);
      if (nl === li) continue;
      slx = f(slx + f(f(w * xi) * nl));
      sl2 = f(sl2 + f(f(w * nl) * nl));
      if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
        L[lo + i] = nl;
        sumlx = slx;
        suml2 = sl2;
        changed++;
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] += nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

/**
 * Weighted sums Σw·x·l and Σw·l² (w = x²) for the grid `iscale`, clamping l to
 * [−nmax, nmax); optionally stores l + nmax to L. Returns them via `sums`.
 */
function qxSums(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  iscale: number,
  L: Uint8Array | null,
  lo: number,
  sums: Float64Array,
): void {
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = clamp(nearestInt(f(iscale * xi)), -nmax, nmax - 1);
    if (L) L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  sums[0] = sumlx;
  sums[1] = suml2;
}

/**
 * `make_qx_quants` with rmse_type 1 and no importance weights (q6_K's
 * reference): a symmetric fit x ≈ scale·(L − nmax), L in [0, 2·nmax), weights
 * x². Tries 18 grids around the one set by the largest |x| and keeps the one
 * with the best weighted least-squares fit (strictly better only).
 *
 * Writes L[lo..lo+n) (all 0 for an all-zero group) and returns the scale.
 * `sums` is scratch of length ≥ 2.
 */
export function makeQxQuants(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  L: Uint8Array,
  lo: number,
  sums: Float64Array,
): number {
  const at = signedMaxIndex(n, x, xo);
  if (at < 0) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const max = x[at];
  qxSums(n, nmax, x, xo, f(-nmax / max), L, lo, sums);
  let scale = sums[1] !== 0 ? f(sums[0] / sums[1]) : 0;
  let best = f(scale * sums[0]);
  const tenth = f(0.1);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    const iscale = f(-f(nmax + f(tenth * is)) / max);
    qxSums(n, nmax, x, xo, iscale, null, lo, sums);
    const sumlx = sums[0];
    const suml2 = sums[1];
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      qxSums(n, nmax, x, xo, iscale, L, lo, sums);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/**
 * Packs 8 six-bit (scale, min) pairs into q4_K/q5_K's 12 scale bytes at
 * out[o..o+12): the inverse of ggml's `get_scale_min_k4`.
 */
export function packScaleMinK4(ls: Uint8Array, lm: Uint8Array, out: Uint8Array, o: number): void {
  for (let j = 0; j < 4; j++) {
    out[o + j] = ls[j];
    out[o + j + 4] = lm[j];
  }
  for (let j = 4; j < 8; j++) {
    out[o + j + 4] = (ls[j] & 0xf) | ((lm[j] & 0xf) << 4);
    out[o + j - 4] |= (ls[j] >> 4) << 6;
    out[o + j] |= (lm[j] >> 4) << 6;
  }
}

/** ggml's `get_scale_min_k4`: the 6-bit scale of sub-block j from 12 packed bytes at q[o..]. */
export function scaleK4(j: number, q: Uint8Array, o: number): number {
  return j < 4 ? q[o + j] & 63 : (q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4);
}

/** ggml's `get_scale_min_k4`: the 6-bit min of sub-block j from 12 packed bytes at q[o..]. */
export function minK4(j: number, q: Uint8Array, o: number): number {
  return j < 4 ? q[o + j + 4] & 63 : (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4);
}
