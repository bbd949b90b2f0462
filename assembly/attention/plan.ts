// How the host sizes and splits an attention call (src/backends/wasm/attention.ts
// asks these instead of repeating the layouts): units per kernel, scratch bytes
// per thread, and the decode partials.
import { decode_scratch_bytes } from './decode';
import { flash_scratch_bytes } from './flash';
import { ggml_scratch_bytes } from './ggml';
import { n_chunks, P_HD, P_NHEAD, P_NHEADKV, P_NQ, pi, QB, rec_floats } from './params';
import { scores_scratch_bytes } from './scores';

export const K_PREFILL = 0;
export const K_DECODE = 1;
export const K_COMBINE = 2;
export const K_GGML = 3;
export const K_SCORES = 4;

/** Work units of kernel `kind` (a thread takes a range [u0, u1) of them). */
export function attn_units(params: usize, kind: i32): i32 {
  const nq = pi(params, P_NQ);
  const nhkv = pi(params, P_NHEADKV);
  if (kind == K_PREFILL) return nhkv * ((nq + QB - 1) / QB);
  if (kind == K_DECODE) return nhkv * n_chunks(params);
  if (kind == K_COMBINE) return pi(params, P_NHEAD);
  if (kind == K_GGML) return nhkv * nq;
  if (kind == K_SCORES) return pi(params, P_NHEAD) * nq;
  return 0;
}

/** Scratch bytes one thread needs for kernel `kind`. */
export function attn_scratch_bytes(params: usize, kind: i32): usize {
  const hd = pi(params, P_HD);
  const rep = pi(params, P_NHEAD) / pi(params, P_NHEADKV);
  if (kind == K_PREFILL) return flash_scratch_bytes(QB * rep, hd);
  if (kind == K_DECODE) return max(flash_scratch_bytes(rep, hd), decode_scratch_bytes(rep, hd));
  if (kind == K_GGML) return ggml_scratch_bytes(pi(params, P_NHEAD), hd);
  if (kind == K_SCORES) return scores_scratch_bytes(hd);
  return 0;
}

/** Bytes of the decode partials: [n_head, n_chunks] records of (m, l, -, -, O). */
export function attn_partials_bytes(params: usize): usize {
  return ((<usize>pi(params, P_NHEAD)) * (<usize>n_chunks(params)) * (<usize>rec_floats(pi(params, P_HD)))) << 2;
}
