/**
 * One transformer block, shared by llama, qwen2 and qwen3 (llama.cpp's
 * llm_build_llama / qwen2 / qwen3): pre-norm attention with grouped-query
 * heads and a SwiGLU feed-forward, each added to the residual stream.
 *
 *   h = rms_norm(x)·attn_norm
 *   q, k, v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)           [n, heads·head_dim]
 *   qwen3: q, k = rms_norm per head over head_dim · q_norm / k_norm
 *   q, k = rope(q), rope(k)       (llama: normal mode; qwen: NeoX)
 *   cache[pos..pos+n) = k, v;  a = attention(q, cache k, cache v), causal
 *   x = x + a·Woᵀ (+bo)
 *   x = x + (silu(g)⊙u)·Wdownᵀ,  g, u = f·Wgateᵀ, f·Wupᵀ,  f = rms_norm(x)·ffn_norm
 *   (mixture-of-experts layers: x = x + moe(f), ./moe-ffn.ts)
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { KvCache } from '../ops/kv-cache.js';
import type { MatmulNumerics } from '../ops/matmul.js';
import type { Capture } from './capture.js';
import type { HParams } from './hparams.js';
import { runMoeFfn } from './moe-ffn.js';
import type { DenseFfnWeights, LayerWeights } from './weights.js';

export interface BlockContext {
  engine: Engine;
  h: HParams;
  cache: KvCache;
  numerics: MatmulNumerics;
  /** Per-pair RoPE divisors (rope_freqs.weight), if the model has them. */
  ropeFreqs?: Float32Array;
  /** Position of each token of the pass. */
  positions: Int32Array;
  capture?: Capture;
}

/** Tensors made during a step, disposed together. */
export class Scope {
  private readonly owned: Tensor[] = [];
  keep<T extends Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }
  dispose(): void {
    for (const t of this.owned.splice(0)) t.dispose();
  }
}

/** y = x·Wᵀ (+ b). */
async function linear(
  e: Engine,
  s: Scope,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  numerics: MatmulNumerics,
): Promise<Tensor> {
  const y = s.keep(await e.matmul(x, w, { numerics }));
  return b ? s.keep(await e.add(y, b)) : y;
}

/** down(silu(f·gateᵀ) ⊙ f·upᵀ), with its stages. */
async function denseFfn(
  ctx: BlockContext,
  l: number,
  w: DenseFfnWeights,
  f: Tensor,
  s: Scope,
): Promise<Tensor> {
  const { engine: e, capture: cap, numerics } = ctx;
  const g = s.keep(await e.matmul(f, w.gate, { numerics }));
  const u = s.keep(await e.matmul(f, w.up, { numerics }));
  await cap?.put('ffn_gate', l, g);
  await cap?.put('ffn_up', l, u);
  // ffn_act is its own op only when traced: the pass itself fuses it into swiglu.
  if (cap?.wants('ffn_act', l)) await cap.put('ffn_act', l, s.keep(await e.silu(g)));
  const sw = s.keep(await e.swiglu(g, u));
  await cap?.put('ffn_swiglu', l, sw);
  const down = s.keep(await e.matmul(sw, w.down, { numerics }));
  await cap?.put('ffn_out', l, down);
  return down;
}

/** Runs layer `l` on the residual stream x [n, n_embd]; returns the new stream (the caller owns it). */
export async function runBlock(ctx: BlockContext, l: number, w: LayerWeights, x: Tensor): Promise<Tensor> {
  const { engine: e, h, capture: cap, numerics } = ctx;
  const n = x.shape[0];
  const D = h.headDim;
  const eps = h.rmsEps;
  const s = new Scope();
  try {
    const hn = s.keep(await e.rmsNorm(x, w.attnNorm, { eps }));
    await cap?.put('attn_norm', l, hn);

    let q = await linear(e, s, hn, w.wq, w.bq, numerics);
    let k = await linear(e, s, hn, w.wk, w.bk, numerics);
    const v = await linear(e, s, hn, w.wv, w.bv, numerics);
    await cap?.put('q_proj', l, q);
    await cap?.put('k_proj', l, k);
    await cap?.put('v_proj', l, v);

    if (w.qNorm && w.kNorm) {
      q = s.keep(await e.rmsNorm(e.reshape(q, [n * h.nHead, D]), w.qNorm, { eps }));
      k = s.keep(await e.rmsNorm(e.reshape(k, [n * h.nHeadKv, D]), w.kNorm, { eps }));
      await cap?.put('q_norm', l, q, [n, h.nHead * D]);
      await cap?.put('k_norm', l, k, [n, h.nHeadKv * D]);
    }

    const rope = {
      mode: h.rope.mode,
      nDims: h.rope.nDims,
      freqBase: h.rope.freqBase,
      freqScale: h.rope.freqScale,
      freqFactors: ctx.ropeFreqs ?? null,
    };
    const qr = s.keep(await e.rope(e.reshape(q, [n, h.nHead, D]), ctx.positions, rope));
    const kr = s.keep(await e.rope(e.reshape(k, [n, h.nHeadKv, D]), ctx.positions, rope));
    await cap?.put('q_post_rope', l, qr, [n, h.nHead * D]);
    await cap?.put('k_post_rope', l, kr, [n, h.nHeadKv * D]);

    const pos = ctx.positions[0];
    await e.kvWrite(ctx.cache, l, pos, kr, e.reshape(v, [n, h.nHeadKv, D]));
    const cached = e.kvView(ctx.cache, l, pos + n);
    s.keep(cached.k);
    s.keep(cached.v);
    const att = await e.attention(qr, cached.k, cached.v, {
      positions: ctx.positions,
      causal: true,
      numerics,
      scores: cap?.wants('attn_scores', l),
      softmax: cap?.wants('attn_softmax', l),
    });
    s.keep(att.out);
    if (att.scores) await cap?.put('attn_scores', l, s.keep(att.scores));
    if (att.softmax) await cap?.put('attn_softmax', l, s.keep(att.softmax));
    await cap?.put('attention', l, att.out);

    const o = await linear(e, s, att.out, w.wo, w.bo, numerics);
    await cap?.put('attn_out', l, o);
    const x1 = s.keep(await e.add(x, o));
    await cap?.put('attn_residual', l, x1);

    const f = s.keep(await e.rmsNorm(x1, w.ffnNorm, { eps }));
    await cap?.put('ffn_norm', l, f);
    const down =
      w.ffn.kind === 'moe' ? await runMoeFfn(ctx, l, w.ffn, f, s) : await denseFfn(ctx, l, w.ffn, f, s);
    const out = await e.add(x1, down);
    try {
      await cap?.put('layer_output', l, out);
    } catch (err) {
      out.dispose();
      throw err;
    }
    return out;
  } finally {
    s.dispose();
  }
}
