// Softmax over rows, in ggml's order (ggml-cpu ops.cpp, soft_max_f32):
// w = x·scale (+ mask), m = max w, e = exp(w − m) in f32 (./exp.ts), Σe in f64,
// y = e·f32(1/Σe). A row whose entries are all −inf gives zeros (the limit
// of a fully masked row, as ggml's flash attention returns); a NaN or +inf
// anywhere in a row gives a NaN row.
import { exp_v128 } from './exp';
import { hmax, lane_mask, load_partial, row_sum, store_partial } from './vec';

const NEG_INF: f32 = -Infinity;

/** e = exp(w − max), stored and summed. */
@final class ExpShifted {
  @inline get stores(): bool { return true; }
  @inline map(v: v128, c: v128): v128 { return exp_v128(f32x4.sub(v, c)); }
  @inline term(m: v128): v128 { return m; }
}

/** w = x·scale + mask row into y (mask = 0: none); returns max w. */
@inline
function scaled_max(x: usize, m: usize, y: usize, n: i32, scale: f32): f32 {
  const sv = f32x4.splat(scale);
  let mx = f32x4.splat(NEG_INF);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    let w = f32x4.mul(v128.load(x + off), sv);
    if (m) w = f32x4.add(w, v128.load(m + off));
    v128.store(y + off, w);
    mx = f32x4.max(mx, w);
  }
  if (i < n) {
    const off = (<usize>i) << 2;
    const k = n - i;
    let w = f32x4.mul(load_partial(x + off, k, 0), sv);
    if (m) w = f32x4.add(w, load_partial(m + off, k, 0));
    store_partial(y + off, w, k);
    mx = f32x4.max(mx, v128.bitselect(w, f32x4.splat(NEG_INF), lane_mask(k)));
  }
  return hmax(mx);
}

/** y = y·s over n floats. */
@inline
function scale_in_place(y: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, f32x4.mul(v128.load(y + off), sv));
  }
  if (i < n) {
    const off = (<usize>i) << 2;
    store_partial(y + off, f32x4.mul(load_partial(y + off, n - i, 0), sv), n - i);
  }
}

/**
 * Rows [r0, r1) of x [rows, n] → y; mask (0: none) is [maskRows, n], row r
 * adding mask row r % maskRows (one mask shared by all heads). x and y may be
 * the same buffer.
 */
export function nn_softmax(
  x: usize,
  mask: usize,
  y: usize,
  n: i32,
  maskRows: i32,
  scale: f32,
  r0: i32,
  r1: i32,
): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = r0; r < r1; r++) {
    const yr = y + <usize>r * rowBytes;
    const mr = mask ? mask + <usize>(r % maskRows) * rowBytes : 0;
    const mx = scaled_max(x + <usize>r * rowBytes, mr, yr, n, scale);
    if (mx == NEG_INF) {
      memory.fill(yr, 0, rowBytes);
      continue;
    }
    const sum = row_sum<ExpShifted>(yr, yr, n, NEG_INF, f32x4.splat(mx));
    scale_in_place(yr, n, <f32>(1.0 / sum));
  }
}
