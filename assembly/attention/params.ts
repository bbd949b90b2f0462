// The parameter block every attention kernel reads (written by
// src/backends/wasm/attention.ts): 32 little-endian words at `params`.
//
//   q        [n_q, n_head, head_dim] f32
//   k, v     [n_kv, n_head_kv, head_dim] f32 or f16 (row j = kv position j)
//   out      [n_q, n_head·head_dim] f32
//   pos      [n_q] i32: the position of each query
//   partials decode only: [n_head, n_chunks, REC] f32 (m, l, -, -, O[head_dim])
//   scores, softmax: [n_head, n_q, n_kv] f32, or 0 when not requested
//   numerics 0: exact (flash.ts), 1: ggml (ggml.ts)
//
// Query i at position p sees kv positions j in [lo, hi):
//   causal:     hi = min(p + 1, n_kv), lo = window > 0 ? max(0, p − window + 1) : 0
//   not causal: [0, n_kv)
// Head h reads kv head h / (n_head / n_head_kv).

export const P_Q = 0;
export const P_K = 1;
export const P_V = 2;
export const P_OUT = 3;
export const P_POS = 4;
export const P_NQ = 5;
export const P_NKV = 6;
export const P_NHEAD = 7;
export const P_NHEADKV = 8;
export const P_HD = 9;
export const P_SCALE = 10; // f32
export const P_WINDOW = 11;
export const P_CAUSAL = 12;
export const P_KV_F16 = 13;
export const P_PARTIALS = 14;
export const P_SCORES = 15;
export const P_SOFTMAX = 16;
export const P_NUMERICS = 17; // 0 exact, 1 ggml
export const PARAM_WORDS = 32;

/** kv positions per block of the online softmax (one max/rescale step per block). */
export const TK: i32 = 16;
/** Queries per prefill unit (their rows share every K/V block read). */
export const QB: i32 = 4;
/** kv positions per decode chunk: a function of nothing, so chunks do not depend on the worker count. */
export const CH: i32 = 256;

@inline
export function pi(params: usize, w: i32): i32 {
  return load<i32>(params + ((<usize>w) << 2));
}

@inline
export function pp(params: usize, w: i32): usize {
  return <usize>load<u32>(params + ((<usize>w) << 2));
}

@inline
export function pf(params: usize, w: i32): f32 {
  return load<f32>(params + ((<usize>w) << 2));
}

/** head_dim rounded up to 4: the f32 stride of scratch rows, so every scratch row is 16-byte aligned. */
@inline
export function hd_pad(hd: i32): i32 {
  return (hd + 3) & ~3;
}

/** First visible kv position of a query at `p`. */
@inline
export function vis_lo(params: usize, p: i32): i32 {
  const window = pi(params, P_WINDOW);
  if (pi(params, P_CAUSAL) == 0 || window <= 0) return 0;
  return max(0, p - window + 1);
}

/** One past the last visible kv position of a query at `p`. */
@inline
export function vis_hi(params: usize, p: i32): i32 {
  const nkv = pi(params, P_NKV);
  if (pi(params, P_CAUSAL) == 0) return nkv;
  return p < 0 ? 0 : min(p + 1, nkv);
}

@inline
export function query_pos(params: usize, i: i32): i32 {
  return load<i32>(pp(params, P_POS) + ((<usize>i) << 2));
}

/** Decode chunks over n_kv positions. */
@inline
export function n_chunks(params: usize): i32 {
  return (pi(params, P_NKV) + CH - 1) / CH;
}

/** f32 per partial record: m, l, two pad words, then O[head_dim] (padded to 4). */
@inline
export function rec_floats(hd: i32): i32 {
  return 4 + hd_pad(hd);
}

/** Byte offset of row (i, h) in q or out. */
@inline
export function q_off(params: usize, i: i32, h: i32): usize {
  return ((<usize>i) * (<usize>pi(params, P_NHEAD)) + (<usize>h)) * (<usize>pi(params, P_HD)) << 2;
}

/** Byte stride between consecutive kv positions of one kv head. */
@inline
export function kv_stride(params: usize): usize {
  return ((<usize>pi(params, P_NHEADKV)) * (<usize>pi(params, P_HD))) << (pi(params, P_KV_F16) ? 1 : 2);
}

/** Byte offset of kv head hk at position 0. */
@inline
export function kv_head_off(params: usize, hk: i32): usize {
  return ((<usize>hk) * (<usize>pi(params, P_HD))) << (pi(params, P_KV_F16) ? 1 : 2);
}
