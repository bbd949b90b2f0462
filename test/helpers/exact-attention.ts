/**
 * A scalar emulation of the exact-numerics decode (n_q = 1) as
 * assembly/attention/flash.ts documents its order: exact-order dots (lane
 * l of four sums d ≡ l mod 4, then the tail), blocks of FLASH_BLOCK positions
 * inside chunks of DECODE_CHUNK, each chunk's partial (m, l, O), chunks
 * combined in order. Plain f32 steps (Math.fround after every operation, no
 * fused multiply-add: the SIMD128 build); exp is passed in (the kernel's own),
 * so everything around it is checked bit for bit.
 */
import { DECODE_CHUNK, FLASH_BLOCK } from '../../src/backends/wasm/attention.js';
import { type AttentionDims, kvHeadOf, visibleRange } from '../../src/ops/attention.js';

const fr = Math.fround;

/** (q·k)·scale in the exact order: four lane sums over d < hd4, paired, then the tail. */
export function exactDot(
  q: Float32Array,
  qo: number,
  k: Float32Array,
  ko: number,
  hd: number,
  scale: number,
) {
  const hd4 = hd & ~3;
  const lane = [0, 0, 0, 0];
  for (let d = 0; d < hd4; d++) lane[d & 3] = fr(lane[d & 3] + fr(q[qo + d] * k[ko + d]));
  let s = fr(fr(lane[0] + lane[1]) + fr(lane[2] + lane[3]));
  for (let d = hd4; d < hd; d++) s = fr(s + fr(q[qo + d] * k[ko + d]));
  return fr(s * scale);
}

/** out [n_head·head_dim] of a decode step; k and v hold the stored values (f16: widened). */
export function emulateExactDecode(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: AttentionDims,
  exp: (x: number) => number,
): Float32Array {
  const { nKv, nHead, nHeadKv, headDim: hd, scale } = dims;
  const [vlo, vhi] = visibleRange(dims, dims.positions[0]);
  const out = new Float32Array(nHead * hd);
  const row = (j: number, hk: number) => (j * nHeadKv + hk) * hd;
  for (let h = 0; h < nHead; h++) {
    const hk = kvHeadOf(dims, h);
    let M = Number.NEGATIVE_INFINITY;
    let S = 0;
    const acc = new Float64Array(hd); // holds f32 values
    for (let k0 = 0; k0 < nKv; k0 += DECODE_CHUNK) {
      const k1 = Math.min(k0 + DECODE_CHUNK, nKv);
      const lo = Math.max(vlo, k0);
      const hi = Math.min(vhi, k1);
      let m = Number.NEGATIVE_INFINITY;
      let l = 0;
      const o = new Float64Array(hd);
      for (let b0 = lo - (lo % FLASH_BLOCK); b0 < hi; b0 += FLASH_BLOCK) {
        const j0 = Math.max(lo, b0);
        const j1 = Math.min(hi, b0 + FLASH_BLOCK, k1);
        if (j0 >= j1) continue;
        const s: number[] = [];
        for (let j = j0; j < j1; j++) s.push(exactDot(q, h * hd, k, row(j, hk), hd, scale));
        const mn = Math.max(m, ...s);
        const alpha = exp(fr(m - mn));
        const p = s.map((x) => exp(fr(x - mn)));
        let ps = 0;
        for (const x of p) ps = fr(ps + x);
        l = fr(fr(l * alpha) + ps);
        m = mn;
        for (let d = 0; d < hd; d++) {
          let x = alpha !== 1 ? fr(o[d] * alpha) : o[d];
          for (let j = j0; j < j1; j++) x = fr(x + fr(p[j - j0] * v[row(j, hk) + d]));
          o[d] = x;
        }
      }
      if (l === 0) continue;
      const mn = Math.max(M, m);
      const a = exp(fr(M - mn));
      const b = exp(fr(m - mn));
      for (let d = 0; d < hd; d++) acc[d] = fr(fr(acc[d] * a) + fr(o[d] * b));
      S = fr(fr(S * a) + fr(l * b));
      M = mn;
    }
    for (let d = 0; d < hd; d++) out[h * hd + d] = S === 0 ? 0 : fr(acc[d] / S);
  }
  return out;
}
