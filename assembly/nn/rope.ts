// Rotary position embedding (ggml-cpu ops.cpp, rope_flt / rotate_pairs) over
// x [n_tokens, n_head, head_dim]: pair i of the first n_dims dims is rotated
// by the angle of its token's cache entry,
//   y0 = x0·cos − x1·sin,  y1 = x0·sin + x1·cos   (f32 products, then the sum)
// normal mode (0): pair i is (x[2i], x[2i+1]); NeoX mode (2): (x[i], x[i + n_dims/2]).
// Dims ≥ n_dims pass through. The cache (built by the host, src/backends/wasm/nn.ts,
// as ggml builds it) holds per token n_dims/2 cosines then n_dims/2 sines.
import { load_partial, store_partial } from './vec';

const SIGN_ALT: v128 = f32x4(-1, 1, -1, 1);

/** Normal mode, two adjacent pairs v = (a0, b0, a1, b1) with c = (c0, c0, c1, c1), s likewise. */
@inline
function rotate2(v: v128, c: v128, s: v128): v128 {
  return f32x4.add(f32x4.mul(v, c), f32x4.mul(f32x4.mul(f32x4.shuffle(v, v, 1, 0, 3, 2), s), SIGN_ALT));
}

/** Normal mode, one row: pairs (x[2i], x[2i+1]), four pairs per step, then two, then one. */
@inline
function rotate_adjacent(x: usize, cs: usize, sn: usize, y: usize, half: i32): void {
  let i = 0;
  for (; i + 4 <= half; i += 4) {
    const c4 = v128.load(cs + ((<usize>i) << 2));
    const s4 = v128.load(sn + ((<usize>i) << 2));
    const p = (<usize>i) << 3;
    v128.store(y + p, rotate2(v128.load(x + p), f32x4.shuffle(c4, c4, 0, 0, 1, 1), f32x4.shuffle(s4, s4, 0, 0, 1, 1)));
    v128.store(y + p, rotate2(v128.load(x + p, 16), f32x4.shuffle(c4, c4, 2, 2, 3, 3), f32x4.shuffle(s4, s4, 2, 2, 3, 3)), 16);
  }
  if (i + 2 <= half) {
    const c2 = v128.load64_zero(cs + ((<usize>i) << 2));
    const s2 = v128.load64_zero(sn + ((<usize>i) << 2));
    const p = (<usize>i) << 3;
    v128.store(y + p, rotate2(v128.load(x + p), f32x4.shuffle(c2, c2, 0, 0, 1, 1), f32x4.shuffle(s2, s2, 0, 0, 1, 1)));
    i += 2;
  }
  if (i < half) {
    const c = load<f32>(cs + ((<usize>i) << 2));
    const s = load<f32>(sn + ((<usize>i) << 2));
    const x0 = load<f32>(x + ((<usize>i) << 3));
    const x1 = load<f32>(x + ((<usize>i) << 3), 4);
    store<f32>(y + ((<usize>i) << 3), x0 * c - x1 * s);
    store<f32>(y + ((<usize>i) << 3), x0 * s + x1 * c, 4);
  }
}

/** NeoX mode, four pairs (x[i], x[i + half]) of one row with their cos c and sin s. */
@inline
function rotate4(lo: v128, hi: v128, c: v128, s: v128, y: usize, hb: usize, off: usize, k: i32): void {
  const ylo = f32x4.sub(f32x4.mul(lo, c), f32x4.mul(hi, s));
  const yhi = f32x4.add(f32x4.mul(lo, s), f32x4.mul(hi, c));
  if (k == 4) {
    v128.store(y + off, ylo);
    v128.store(y + hb + off, yhi);
  } else {
    store_partial(y + off, ylo, k);
    store_partial(y + hb + off, yhi, k);
  }
}

/** NeoX mode, one row: pairs (x[i], x[i + half]), four pairs per step. */
@inline
function rotate_halves(x: usize, cs: usize, sn: usize, y: usize, half: i32): void {
  const hb = (<usize>half) << 2;
  let i = 0;
  for (; i + 4 <= half; i += 4) {
    const off = (<usize>i) << 2;
    rotate4(v128.load(x + off), v128.load(x + hb + off), v128.load(cs + off), v128.load(sn + off), y, hb, off, 4);
  }
  if (i < half) {
    const off = (<usize>i) << 2;
    const k = half - i;
    const lo = load_partial(x + off, k, 0);
    const hi = load_partial(x + hb + off, k, 0);
    rotate4(lo, hi, load_partial(cs + off, k, 0), load_partial(sn + off, k, 0), y, hb, off, k);
  }
}

/**
 * Rows [r0, r1) of the n_tokens·n_head rows (row r: token r / nHead). cache:
 * [n_tokens][nDims] f32 (cosines, then sines). mode: 0 normal, 2 NeoX.
 * y may be x (in place).
 */
export function nn_rope(
  x: usize,
  cache: usize,
  y: usize,
  nHead: i32,
  headDim: i32,
  nDims: i32,
  mode: i32,
  r0: i32,
  r1: i32,
): void {
  const half = nDims >> 1;
  const rowBytes = (<usize>headDim) << 2;
  const rotBytes = (<usize>nDims) << 2;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    const cs = cache + <usize>(r / nHead) * rotBytes;
    const sn = cs + ((<usize>half) << 2);
    if (mode == 2) rotate_halves(xr, cs, sn, yr, half);
    else rotate_adjacent(xr, cs, sn, yr, half);
    if (yr != xr && nDims < headDim) memory.copy(yr + rotBytes, xr + rotBytes, rowBytes - rotBytes);
  }
}
