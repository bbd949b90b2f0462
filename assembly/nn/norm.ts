// RMSNorm and LayerNorm over rows of dim f32s, in ggml's operation order
// (ggml-cpu ops.cpp, rms_norm_f32 / norm_f32): squares and deviations in f32,
// their sums in f64 (row_sum's fixed lane order where ggml sums sequentially:
// the f64 sums differ by ~n·2^-53 relative, invisible once rounded to f32 in
// all but rare ties), mean and 1/√(· + eps) in f32, then y = ((x·s)·w) + b.
// Each row is computed by one call: rows may be split across workers freely.
import { load_partial, row_sum, store_partial } from './vec';

@final class Square {
  @inline get stores(): bool { return false; }
  @inline map(v: v128, c: v128): v128 { return v; }
  @inline term(m: v128): v128 { return f32x4.mul(m, m); }
}

@final class Identity {
  @inline get stores(): bool { return false; }
  @inline map(v: v128, c: v128): v128 { return v; }
  @inline term(m: v128): v128 { return m; }
}

/** Stores v − mean (c = splat(mean)) and sums its squares. */
@final class Centered {
  @inline get stores(): bool { return true; }
  @inline map(v: v128, c: v128): v128 { return f32x4.sub(v, c); }
  @inline term(m: v128): v128 { return f32x4.mul(m, m); }
}

/** ((v·s)·w) + b, the weight and bias optional. */
@inline
function affine(v: v128, s: v128, w: v128, b: v128, hasW: bool, hasB: bool): v128 {
  let y = f32x4.mul(v, s);
  if (hasW) y = f32x4.mul(y, w);
  if (hasB) y = f32x4.add(y, b);
  return y;
}

/** y = ((x·s)·w) + b over n floats; w, b optional (0). */
@inline
function scale_row(x: usize, w: usize, b: usize, y: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  const zero = f32x4.splat(0);
  const hasW = w != 0;
  const hasB = b != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    const wv = hasW ? v128.load(w + off) : zero;
    const bv = hasB ? v128.load(b + off) : zero;
    v128.store(y + off, affine(v128.load(x + off), sv, wv, bv, hasW, hasB));
  }
  if (i < n) {
    const off = (<usize>i) << 2;
    const k = n - i;
    const wv = hasW ? load_partial(w + off, k, 0) : zero;
    const bv = hasB ? load_partial(b + off, k, 0) : zero;
    store_partial(y + off, affine(load_partial(x + off, k, 0), sv, wv, bv, hasW, hasB), k);
  }
}

/**
 * RMSNorm of rows [r0, r1): y = (x·s)·w, s = 1/√(mean(x²) + eps) with x² in
 * f32 (as ggml: overflows to +inf for |x| ≥ 2^64, giving y = 0), the sum in
 * f64, mean = f32(sum/dim). w = 0: no weight.
 */
export function nn_rms_norm(x: usize, w: usize, y: usize, dim: i32, eps: f32, r0: i32, r1: i32): void {
  const rowBytes = (<usize>dim) << 2;
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rowBytes;
    const sum = row_sum<Square>(xr, 0, dim, 0, zero);
    const mean = <f32>(sum / <f64>dim);
    scale_row(xr, w, 0, y + <usize>r * rowBytes, dim, <f32>1 / sqrt<f32>(mean + eps));
  }
}

/**
 * LayerNorm of rows [r0, r1): mean = f32(Σx)/dim in f32, v = x − mean in f32,
 * var = f32(Σv²/dim) with v² in f32 and the sums in f64, y = ((v·s)·w) + b,
 * s = 1/√(var + eps). w, b = 0: none. y holds v between the passes.
 */
export function nn_layer_norm(
  x: usize,
  w: usize,
  b: usize,
  y: usize,
  dim: i32,
  eps: f32,
  r0: i32,
  r1: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    const mean = <f32>row_sum<Identity>(xr, 0, dim, 0, zero) / <f32>dim;
    const variance = <f32>(row_sum<Centered>(xr, yr, dim, mean, f32x4.splat(mean)) / <f64>dim);
    scale_row(yr, w, b, yr, dim, <f32>1 / sqrt<f32>(variance + eps));
  }
}
