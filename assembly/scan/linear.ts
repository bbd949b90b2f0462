// Linear recurrence h_t = a_t ⊙ h_{t-1} + b_t over [T, D] f32 rows (semantics:
// src/ops/scan.ts). Every step is one f32 multiply and one f32 add, each
// rounded (never fused), in SIMD lanes and scalar tails alike, so a channel's
// bits do not depend on which lanes or which call computed it: any split of
// the channels [d0, d1) gives the same bits.
//
// Chunked form over time (chunk length L, C = ⌈T/L⌉ chunks):
//   scan_chunk_reduce: per chunk, the local scan from a zero state (its end E_c)
//                      and the product P_c of the chunk's a's, left to right;
//   scan_chunk_carry:  H_c = E_c + P_c ⊙ H_{c-1} (H_{-1} = h0), in place in E;
//   scan_chunk_apply:  each chunk re-runs the recurrence from H_{c-1}.
// Chunk 0 therefore equals the sequential scan bit for bit; later chunks
// differ only by the carry entering them (the products reassociate).

// Runs the recurrence for rows [t0, t1) and channels [d0, d1): the state
// entering row t0 is the row at `init` (0: zeros), then the output's previous row.
@inline
function recur(a: usize, b: usize, init: usize, h: usize, D: i32, t0: i32, t1: i32, d0: i32, d1: i32): void {
  const row = (<usize>D) << 2;
  const zero = f32x4.splat(0);
  for (let t = t0; t < t1; t++) {
    const o = <usize>t * row;
    const prev = t > t0 ? h + o - row : init;
    let d = d0;
    for (; d + 4 <= d1; d += 4) {
      const off = (<usize>d) << 2;
      const p = prev ? v128.load(prev + off) : zero;
      v128.store(h + o + off, f32x4.add(f32x4.mul(v128.load(a + o + off), p), v128.load(b + o + off)));
    }
    for (; d < d1; d++) {
      const off = (<usize>d) << 2;
      const p: f32 = prev ? load<f32>(prev + off) : 0;
      store<f32>(h + o + off, load<f32>(a + o + off) * p + load<f32>(b + o + off));
    }
  }
}

/** h[t] = a[t]·h[t-1] + b[t] for every t in [0, T), channels [d0, d1); h0 = 0: zero initial state. */
export function scan_linear(a: usize, b: usize, h0: usize, h: usize, T: i32, D: i32, d0: i32, d1: i32): void {
  recur(a, b, h0, h, D, 0, T, d0, d1);
}

/**
 * Chunks [c0, c1) of length L, channels [d0, d1): E[c] = the chunk's scan from
 * a zero state at its last row, P[c] = the product of its a's (E, P: [C, D]).
 */
export function scan_chunk_reduce(
  a: usize,
  b: usize,
  P: usize,
  E: usize,
  T: i32,
  D: i32,
  L: i32,
  c0: i32,
  c1: i32,
  d0: i32,
  d1: i32,
): void {
  const row = (<usize>D) << 2;
  const zero = f32x4.splat(0);
  for (let c = c0; c < c1; c++) {
    const t0 = c * L;
    const t1 = min(T, t0 + L);
    const e = E + <usize>c * row;
    const p = P + <usize>c * row;
    for (let t = t0; t < t1; t++) {
      const o = <usize>t * row;
      const first = t == t0;
      let d = d0;
      for (; d + 4 <= d1; d += 4) {
        const off = (<usize>d) << 2;
        const av = v128.load(a + o + off);
        const s = first ? zero : v128.load(e + off);
        v128.store(e + off, f32x4.add(f32x4.mul(av, s), v128.load(b + o + off)));
        v128.store(p + off, first ? av : f32x4.mul(v128.load(p + off), av));
      }
      for (; d < d1; d++) {
        const off = (<usize>d) << 2;
        const av = load<f32>(a + o + off);
        const s: f32 = first ? 0 : load<f32>(e + off);
        store<f32>(e + off, av * s + load<f32>(b + o + off));
        store<f32>(p + off, first ? av : load<f32>(p + off) * av);
      }
    }
  }
}

/** H[c] = E[c] + P[c]·H[c-1] for c in [0, C), in place in E (H[-1] = h0; 0: zeros), channels [d0, d1). */
export function scan_chunk_carry(P: usize, E: usize, h0: usize, C: i32, D: i32, d0: i32, d1: i32): void {
  const row = (<usize>D) << 2;
  const zero = f32x4.splat(0);
  for (let c = 0; c < C; c++) {
    const e = E + <usize>c * row;
    const p = P + <usize>c * row;
    const prev = c > 0 ? e - row : h0;
    let d = d0;
    for (; d + 4 <= d1; d += 4) {
      const off = (<usize>d) << 2;
      const s = prev ? v128.load(prev + off) : zero;
      v128.store(e + off, f32x4.add(f32x4.mul(v128.load(p + off), s), v128.load(e + off)));
    }
    for (; d < d1; d++) {
      const off = (<usize>d) << 2;
      const s: f32 = prev ? load<f32>(prev + off) : 0;
      store<f32>(e + off, load<f32>(p + off) * s + load<f32>(e + off));
    }
  }
}

/** Chunks [c0, c1), channels [d0, d1): the recurrence re-run from H[c-1] (E after scan_chunk_carry; h0 for chunk 0). */
export function scan_chunk_apply(
  a: usize,
  b: usize,
  h0: usize,
  H: usize,
  h: usize,
  T: i32,
  D: i32,
  L: i32,
  c0: i32,
  c1: i32,
  d0: i32,
  d1: i32,
): void {
  const row = (<usize>D) << 2;
  for (let c = c0; c < c1; c++) {
    const init = c > 0 ? H + <usize>(c - 1) * row : h0;
    recur(a, b, init, h, D, c * L, min(T, c * L + L), d0, d1);
  }
}
