// Quantized GRU step kernels (semantics: src/ops/gru.ts, "Quantized GRU"):
// int8 weights with one f32 scale per output channel, the state as int8
// codes q_h with a frozen f32 scale s_h (h = q_h·s_h).
//   product: gh[o] = (s_w[o]·s_h)·f32(Σ_j q_w[o, j]·q_h[j]), the integer sum
//            exact in i32 (|Σ| ≤ 127²·H), so any order gives the same bits;
//   gates:   the f32 gates of ./gru.ts on h = f32(q_h)·s_h, then the new code
//            q = clamp(nearest(h'/s_h), −127, 127) (nearest: ties to even).
import { gate4 } from './gru';

/** gh[o] for outputs [o0, o1) of 3H: dense int8 U [3H, H], scales su [3H]. */
export function gru_matvec_dense_i8(qu: usize, su: usize, qh: usize, sh: f32, y: usize, H: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    const row = qu + <usize>o * <usize>H;
    let acc = i32x4.splat(0);
    let j = 0;
    for (; j + 16 <= H; j += 16) {
      const w = v128.load(row + <usize>j);
      const x = v128.load(qh + <usize>j);
      acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w, x)));
      acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w, x)));
    }
    let s =
      i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    for (; j < H; j++) s += <i32>load<i8>(row + <usize>j) * <i32>load<i8>(qh + <usize>j);
    store<f32>(y + ((<usize>o) << 2), (load<f32>(su + ((<usize>o) << 2)) * sh) * <f32>s);
  }
}

/** gh[o] = (su[o]·s_h)·f32(qu[o]·q_h[o mod H]) for outputs [o0, o1) of 3H. */
export function gru_matvec_diagonal_i8(qu: usize, su: usize, qh: usize, sh: f32, y: usize, H: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    const p = <i32>load<i8>(qu + <usize>o) * <i32>load<i8>(qh + <usize>(o % H));
    store<f32>(y + ((<usize>o) << 2), (load<f32>(su + ((<usize>o) << 2)) * sh) * <f32>p);
  }
}

@inline
function ld(p: usize, scalar: bool): v128 {
  return scalar ? f32x4.splat(load<f32>(p)) : v128.load(p);
}

@inline
function ldq(p: usize, scalar: bool): v128 {
  if (scalar) return f32x4.splat(<f32>load<i8>(p));
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

/**
 * New state codes for elements [i0, i1) of H: gx, gh, bh [3H] f32 (bh 0:
 * none), qh [H] int8 codes of the previous state, qout [H] int8.
 */
export function gru_gates_i8(gx: usize, gh: usize, bh: usize, qh: usize, sh: f32, qout: usize, H: i32, i0: i32, i1: i32): void {
  const G = (<usize>H) << 2;
  const zero = f32x4.splat(0);
  const vs = f32x4.splat(sh);
  let i = i0;
  while (i < i1) {
    const scalar = i + 4 > i1;
    const o = (<usize>i) << 2;
    const h = f32x4.mul(ldq(qh + <usize>i, scalar), vs);
    const v = gate4(
      ld(gx + o, scalar),
      ld(gx + G + o, scalar),
      ld(gx + 2 * G + o, scalar),
      ld(gh + o, scalar),
      ld(gh + G + o, scalar),
      ld(gh + 2 * G + o, scalar),
      bh ? ld(bh + o, scalar) : zero,
      bh ? ld(bh + G + o, scalar) : zero,
      bh ? ld(bh + 2 * G + o, scalar) : zero,
      h,
    );
    const q = f32x4.min(f32x4.max(f32x4.nearest(f32x4.div(v, vs)), f32x4.splat(-127)), f32x4.splat(127));
    const qi = i32x4.trunc_sat_f32x4_s(q);
    if (scalar) {
      store<i8>(qout + <usize>i, <i8>i32x4.extract_lane(qi, 0));
      i++;
    } else {
      const n16 = i16x8.narrow_i32x4_s(qi, qi);
      v128.store32_lane(qout + <usize>i, i8x16.narrow_i16x8_s(n16, n16), 0);
      i += 4;
    }
  }
}
