/**
 * WGSL of attention (src/ops/attention.ts, numerics 'exact'), generated from
 * one source per K/V type:
 *
 * - attnPartialWgsl: tiled online softmax (flash attention). One workgroup
 *   of ATTN_WG invocations per (query row, kv chunk); the chunk's visible
 *   positions go in blocks of ATTN_BLOCK, invocation t scoring position
 *   block + t (dot in increasing d, then × scale). Per block: max and Σp
 *   in fixed halving trees, α = exp(m_old − m_new), l = l·α + Σp, and each
 *   output dim d (invocation d mod ATTN_WG) acc = acc·α + Σ_j p_j·v_jd in
 *   increasing j. The [n_q, n_kv] scores never exist in memory. `final`:
 *   one chunk per row, out = acc / l (2.5-ULP division; a row that sees
 *   nothing is exactly 0). Otherwise the chunk's (m, l, acc) go to a
 *   partial buffer for attnCombineWgsl.
 * - attnCombineWgsl (decode, n_q = 1 over long caches): chunks of
 *   ATTN_CHUNK positions run in parallel workgroups; one workgroup per row
 *   combines them in chunk order 0, 1, 2, …: m = max m_c, l = Σ l_c·e^(m_c − m),
 *   out = Σ acc_c·e^(m_c − m) / l.
 * - attnScoresWgsl / attnSoftmaxWgsl: the [n_head, n_q, n_kv] scores and
 *   weights, only when the caller asks (trace stages attn_scores/attn_softmax).
 *
 * f16 K/V are read as u32 words and widened exactly with integer ops
 * (blocks.ts's f16_bits_to_f32, as the weight decoders: no shader-f16
 * needed). exp's argument below −104 gives 0 (e^-104 < 2^-149). Every
 * order is fixed by the shapes: same inputs, same bits. Error bound:
 * src/oracle/attention-bound.ts.
 */
import { WGSL_GRID } from '../context.js';
import { WGSL_F16_TO_F32 } from './blocks.js';
import { WGSL_ROW_REDUCE } from './nn-common.js';

/** Invocations per attention workgroup (and kv positions per block). */
export const ATTN_WG = 64;
export const ATTN_BLOCK = ATTN_WG;
/** kv positions per decode chunk. */
export const ATTN_CHUNK = 256;
/** Largest head_dim the kernels hold (output dims per invocation: ATTN_MAX_HEAD_DIM / ATTN_WG). */
export const ATTN_MAX_HEAD_DIM = 512;
const PER = ATTN_MAX_HEAD_DIM / ATTN_WG;

/** Parameter words shared by the kernels. */
export const ATTN_PARAMS = [
  'n_q',
  'n_kv',
  'n_head',
  'n_head_kv',
  'head_dim',
  'scale',
  'causal',
  'window',
  'chunk_len',
  'n_chunks',
] as const;

/** K (binding 2) and, with `withV`, V (binding 3) as f32 or f16 words, with k_at/v_at readers. */
function kvDecls(f16: boolean, withV = true): string {
  const names = withV ? ['k', 'v'] : ['k'];
  const ty = f16 ? 'array<u32>' : 'array<f32>';
  const read = (n: string) =>
    f16
      ? `fn ${n}_at(e: u32) -> f32 { return f16_bits_to_f32((${n}[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu); }`
      : `fn ${n}_at(e: u32) -> f32 { return ${n}[e]; }`;
  return [
    ...names.map((n, i) => `@group(0) @binding(${i + 2}) var<storage, read> ${n}: ${ty};`),
    f16 ? WGSL_F16_TO_F32 : '',
    ...names.map(read),
  ].join('\n');
}

const PARAMS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> params: array<u32>;
${ATTN_PARAMS.map((n, i) => `fn p_${n}() -> u32 { return params[${i}]; }`).join('\n')}
const NEG_MAX: f32 = -3.40282346e38;
const EXP_CUTOFF: f32 = -104.0;
fn exp_neg(d: f32) -> f32 { return select(exp(d), 0.0, d < EXP_CUTOFF); }
`;

/** The kv positions [lo, hi) query i sees (src/ops/attention.ts visibleRange). */
const VISIBLE = /* wgsl */ `
fn visible(i: u32) -> vec2u {
  let p = pos[i];
  var lo = 0u;
  var hi = p_n_kv();
  if (p_causal() != 0u) {
    hi = min(p + 1u, p_n_kv());
    let w = p_window();
    if (w > 0u && p + 1u > w) { lo = p + 1u - w; }
  }
  return vec2u(lo, hi);
}
`;

/** The scaled dot of query row `row` with the K row at `kv_base`, in increasing d. */
const SCORE = /* wgsl */ `
fn score(row: u32, kv_base: u32) -> f32 {
  let hd = p_head_dim();
  var dot = 0.0;
  for (var d = 0u; d < hd; d++) { dot = dot + q[row * hd + d] * k_at(kv_base + d); }
  return dot * bitcast<f32>(p_scale());
}
fn kv_head(h: u32) -> u32 { return h / (p_n_head() / p_n_head_kv()); }
`;

/** Bindings 1 q, 2 k, 3 v, 4 pos (u32), 5 out [n_q, n_head·hd] (final) or partials [rows·n_chunks, hd + 2]. */
export function attnPartialWgsl(f16: boolean, final: boolean): string {
  return /* wgsl */ `// attention partial f16=${f16} final=${final}
${PARAMS}
@group(0) @binding(1) var<storage, read> q: array<f32>;
${kvDecls(f16)}
@group(0) @binding(4) var<storage, read> pos: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
${WGSL_GRID}
${VISIBLE}
${SCORE}
const WG: u32 = ${ATTN_WG}u;
var<workgroup> red: array<f32, ${ATTN_WG}>;
var<workgroup> p_s: array<f32, ${ATTN_BLOCK}>;
fn tree(lid: u32, x: f32, is_max: bool) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = group_index(wid, nwg);
  let n_chunks = p_n_chunks();
  let rows = p_n_q() * p_n_head();
  if (g >= rows * n_chunks) { return; }
  let row = g / n_chunks;
  let c = g % n_chunks;
  let i = row / p_n_head();
  let hk = kv_head(row % p_n_head());
  let hd = p_head_dim();
  let span = visible(i);
  let clo = max(span.x, c * p_chunk_len());
  let chi = min(span.y, (c + 1u) * p_chunk_len());
  let stride = p_n_head_kv() * hd;
  var m = NEG_MAX;
  var l = 0.0;
  var started = false;
  var acc: array<f32, ${PER}>;
  for (var b0 = clo; b0 < chi; b0 += ${ATTN_BLOCK}u) {
    let j = b0 + lid;
    let valid = j < chi;
    var s = NEG_MAX;
    if (valid) { s = score(row, j * stride + hk * hd); }
    let m_new = max(m, tree(lid, s, true));
    let alpha = select(0.0, exp_neg(m - m_new), started);
    var p = 0.0;
    if (valid) { p = exp_neg(s - m_new); }
    p_s[lid] = p;
    l = l * alpha + tree(lid, p, false);
    let nb = min(${ATTN_BLOCK}u, chi - b0);
    for (var t = 0u; t < ${PER}u; t++) {
      let d = lid + t * WG;
      if (d < hd) {
        var sum = 0.0;
        for (var jj = 0u; jj < nb; jj++) { sum = sum + p_s[jj] * v_at((b0 + jj) * stride + hk * hd + d); }
        acc[t] = acc[t] * alpha + sum;
      }
    }
    m = m_new;
    started = true;
    workgroupBarrier();
  }
${
  final
    ? `  for (var t = 0u; t < ${PER}u; t++) {
    let d = lid + t * WG;
    if (d < hd) { out[row * hd + d] = select(0.0, acc[t] / l, started); }
  }`
    : `  let base = g * (hd + 2u);
  if (lid == 0u) { out[base] = m; out[base + 1u] = l; }
  for (var t = 0u; t < ${PER}u; t++) {
    let d = lid + t * WG;
    if (d < hd) { out[base + 2u + d] = acc[t]; }
  }`
}
}
`;
}

/** Bindings 1 partials [rows·n_chunks, hd + 2], 2 out [n_q, n_head·hd]. One workgroup per row. */
export function attnCombineWgsl(): string {
  return /* wgsl */ `// attention combine
${PARAMS}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${WGSL_GRID}
@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p_n_q() * p_n_head()) { return; }
  let hd = p_head_dim();
  let n_chunks = p_n_chunks();
  let w = hd + 2u;
  var m = NEG_MAX;
  for (var c = 0u; c < n_chunks; c++) {
    let b = (row * n_chunks + c) * w;
    if (part[b + 1u] > 0.0) { m = max(m, part[b]); }
  }
  var l = 0.0;
  for (var c = 0u; c < n_chunks; c++) {
    let b = (row * n_chunks + c) * w;
    if (part[b + 1u] > 0.0) { l = l + part[b + 1u] * exp_neg(part[b] - m); }
  }
  for (var d = lid; d < hd; d += ${ATTN_WG}u) {
    var o = 0.0;
    for (var c = 0u; c < n_chunks; c++) {
      let b = (row * n_chunks + c) * w;
      if (part[b + 1u] > 0.0) { o = o + part[b + 2u + d] * exp_neg(part[b] - m); }
    }
    out[row * hd + d] = select(0.0, o / l, l > 0.0);
  }
}
`;
}

/** Bindings 1 q, 2 k, 3 scores [n_head, n_q, n_kv] (every kv position, before the mask): one invocation per score. */
export function attnScoresWgsl(f16: boolean): string {
  return /* wgsl */ `// attention scores f16=${f16}
${PARAMS}
@group(0) @binding(1) var<storage, read> q: array<f32>;
${kvDecls(f16, false)}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${WGSL_GRID}
${SCORE}
@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = group_index(wid, nwg) * ${ATTN_WG}u + lid;
  let n_kv = p_n_kv();
  let n_q = p_n_q();
  if (e >= p_n_head() * n_q * n_kv) { return; }
  let j = e % n_kv;
  let i = (e / n_kv) % n_q;
  let h = e / (n_kv * n_q);
  let hd = p_head_dim();
  out[e] = score(i * p_n_head() + h, (j * p_n_head_kv() + kv_head(h)) * hd);
}
`;
}

/** Bindings 1 scores [n_head, n_q, n_kv], 2 pos, 3 weights: one row workgroup (nn-common) per (head, query). */
export function attnSoftmaxWgsl(): string {
  return /* wgsl */ `// attention softmax
${PARAMS}
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${WGSL_GRID}
${WGSL_ROW_REDUCE}
${VISIBLE}
@compute @workgroup_size(ROW_WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = group_index(wid, nwg);
  let n_q = p_n_q();
  let n_kv = p_n_kv();
  if (r >= p_n_head() * n_q) { return; }
  let span = visible(r % n_q);
  let o = r * n_kv;
  var m = NEG_MAX;
  for (var j = span.x + lid; j < span.y; j += ROW_WG) { m = max(m, scores[o + j]); }
  m = row_max(lid, m);
  var acc = 0.0;
  for (var j = span.x + lid; j < span.y; j += ROW_WG) { acc = acc + exp_neg(scores[o + j] - m); }
  let l = row_sum(lid, acc);
  for (var j = lid; j < n_kv; j += ROW_WG) {
    var y = 0.0;
    if (j >= span.x && j < span.y) { y = exp_neg(scores[o + j] - m) / l; }
    out[o + j] = y;
  }
}
`;
}
