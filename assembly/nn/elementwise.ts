// Element-wise kernels over [i0, i1) of flat f32 arrays (any split gives the
// same bits: each element depends only on its own inputs), and the row-wise
// broadcast add. Math in ./math.
import { gelu_erf4, gelu_tanh4, silu4 } from './math';
import { load_partial, map2_range, map_range, store_partial } from './vec';

@final class Silu { @inline apply(v: v128): v128 { return silu4(v); } }
@final class GeluTanh { @inline apply(v: v128): v128 { return gelu_tanh4(v); } }
@final class GeluErf { @inline apply(v: v128): v128 { return gelu_erf4(v); } }
/** silu(gate)·up, one rounding for the product. */
@final class Swiglu { @inline apply2(g: v128, u: v128): v128 { return f32x4.mul(silu4(g), u); } }

export function nn_silu(x: usize, y: usize, i0: i32, i1: i32): void {
  map_range<Silu>(x, y, i0, i1);
}

export function nn_gelu(x: usize, y: usize, i0: i32, i1: i32): void {
  map_range<GeluTanh>(x, y, i0, i1);
}

export function nn_gelu_erf(x: usize, y: usize, i0: i32, i1: i32): void {
  map_range<GeluErf>(x, y, i0, i1);
}

export function nn_swiglu(gate: usize, up: usize, y: usize, i0: i32, i1: i32): void {
  map2_range<Swiglu>(gate, up, y, i0, i1);
}

/**
 * y = a + b over rows [r0, r1) of a [rows, dim]; b is [bRows, dim] and row r
 * adds b row r % bRows (bRows = rows: residual add; 1: a bias).
 */
export function nn_add(a: usize, b: usize, y: usize, dim: i32, bRows: i32, r0: i32, r1: i32): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = r0; r < r1; r++) {
    const ar = a + <usize>r * rowBytes;
    const br = b + <usize>(r % bRows) * rowBytes;
    const yr = y + <usize>r * rowBytes;
    let i = 0;
    for (; i + 4 <= dim; i += 4) {
      const off = (<usize>i) << 2;
      v128.store(yr + off, f32x4.add(v128.load(ar + off), v128.load(br + off)));
    }
    if (i < dim) {
      const off = (<usize>i) << 2;
      const k = dim - i;
      store_partial(yr + off, f32x4.add(load_partial(ar + off, k, 0), load_partial(br + off, k, 0)), k);
    }
  }
}
