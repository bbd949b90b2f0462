/**
 * Engine wiring of the nn ops and attention: the wasm engine (ops split over
 * 2 and 3 threads) must give the same bits as the kernels run on one thread
 * (their accuracy against float64 is tested per kernel in test/backends/), and
 * the reference engine must agree with the wasm engine within the op's bound.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { attention as attentionOneThread } from '../../src/backends/wasm/attention.js';
import { WasmRuntime } from '../../src/backends/wasm/module.js';
import {
  addCall,
  embeddingCall,
  type NnCall,
  rmsNormCall,
  ropeCacheBytes,
  ropeCall,
  runNnCall,
  softmaxCall,
  swigluCall,
  unaryCall,
  writeRopeCache,
} from '../../src/backends/wasm/nn.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { ContextOverflowError, ShapeError } from '../../src/errors.js';
import { validateAttention } from '../../src/ops/attention.js';
import { quantize } from '../../src/ops/quantize.js';
import { validateRope } from '../../src/ops/rope.js';
import { ggmlType } from '../../src/types/ggml-types.js';

function signal(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return new Float32Array(n).map(() => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});
async function tracked(threads: number): Promise<Engine> {
  const e = await createEngine({ backend: 'wasm', threads });
  engines.push(e);
  return e;
}
const wasm2 = tracked(2);
const wasm3 = tracked(3);
const rtP = WasmRuntime.create();

/** Runs a kernel call on one thread over inputs copied into a fresh runtime; returns `outLen` floats at y. */
async function oneThread(
  inputs: (Float32Array | Uint8Array | Int32Array)[],
  outLen: number,
  build: (rt: WasmRuntime, ptrs: number[], y: number) => NnCall,
): Promise<Float32Array> {
  const rt = await rtP;
  const ptrs = inputs.map((a) => {
    const p = rt.arena.alloc(Math.max(a.byteLength, 4));
    rt.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
    return p;
  });
  const y = rt.arena.alloc(outLen * 4);
  const c = build(rt, ptrs, y);
  runNnCall(rt, c);
  const out = rt.f32(y, outLen).slice();
  for (const p of [...ptrs, y]) rt.arena.release(p);
  return out;
}

async function bitsEqual(what: string, t: Tensor | Promise<Tensor>, want: Float32Array): Promise<void> {
  const got = await (await t).read();
  expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), what).toBe(true);
}

describe('wasm engine ops give the kernels’ bits for any thread count', () => {
  const rows = 7;
  const dim = 67;
  const x = signal(rows * dim, 1, 3);
  const w = signal(dim, 2);
  it('rmsNorm, softmax (scale, mask), silu, gelu, swiglu, add', async () => {
    const mask = signal(dim, 9);
    const b = signal(dim, 4);
    const want = {
      rms: await oneThread([x, w], rows * dim, (_, [xp, wp], y) => rmsNormCall(xp, wp, y, rows, dim, 1e-5)),
      soft: await oneThread([x, mask], rows * dim, (_, [xp, mp], y) =>
        softmaxCall(xp, mp, y, rows, dim, 1, 0.5),
      ),
      silu: await oneThread([x], rows * dim, (_, [xp], y) => unaryCall('nn_silu', xp, y, rows * dim)),
      gelu: await oneThread([x], rows * dim, (_, [xp], y) => unaryCall('nn_gelu_erf', xp, y, rows * dim)),
      swiglu: await oneThread([x, x], rows * dim, (_, [g, u], y) => swigluCall(g, u, y, rows * dim)),
      add: await oneThread([x, b], rows * dim, (_, [a, bp], y) => addCall(a, bp, y, rows, dim, 1)),
    };
    for (const e of [await wasm2, await wasm3]) {
      const xt = e.tensor(x, [rows, dim]);
      await bitsEqual('rmsNorm', e.rmsNorm(xt, e.tensor(w, [dim]), { eps: 1e-5 }), want.rms);
      await bitsEqual('softmax', e.softmax(xt, { scale: 0.5, mask: e.tensor(mask, [1, dim]) }), want.soft);
      await bitsEqual('silu', e.silu(xt), want.silu);
      await bitsEqual('gelu', e.gelu(xt, { approximate: 'erf' }), want.gelu);
      await bitsEqual('swiglu', e.swiglu(xt, xt), want.swiglu);
      await bitsEqual('add', e.add(xt, e.tensor(b, [1, dim])), want.add);
    }
  });

  it('rope (neox, partial dims) and embedding of a q4_K table', async () => {
    const shape = [5, 4, 64];
    const xr = signal(5 * 4 * 64, 3);
    const positions = [0, 1, 7, 100, 4095];
    const opts = { mode: 'neox' as const, nDims: 32, freqBase: 1e6 };
    const q = validateRope({ shape, type: ggmlType('f32') }, positions, opts);
    const rope = await oneThread([xr], xr.length, (rt, [xp], y) => {
      const cache = rt.arena.alloc(ropeCacheBytes(q.nTokens, q.nDims));
      writeRopeCache(rt, cache, positions, q);
      return ropeCall(xp, cache, y, q);
    });
    const table = quantize('q4_K', signal(10 * 256, 5));
    const ids = Int32Array.of(3, 0, 9, 3);
    const emb = await oneThread([table, ids], 4 * 256, (rt, [tp, ip], y) =>
      embeddingCall(rt, ggmlType('q4_K'), tp, ip, y, 4, 256, 10),
    );
    for (const e of [await wasm2, await wasm3]) {
      await bitsEqual('rope', e.rope(e.tensor(xr, shape), positions, opts), rope);
      await bitsEqual('embedding', e.embedding(e.tensor(table, [10, 256], 'q4_K'), [...ids]), emb);
    }
  });

  it('attention from a KV cache (f32 and f16), with scores and softmax', async () => {
    const [nHead, nHeadKv, hd, nKv, nQ] = [4, 2, 64, 40, 3];
    const qv = signal(nQ * nHead * hd, 11);
    const kv = signal(nKv * nHeadKv * hd, 12);
    const vv = signal(nKv * nHeadKv * hd, 13);
    for (const type of ['f32', 'f16'] as const) {
      const outs: Float32Array[] = [];
      for (const e of [await wasm2, await wasm3]) {
        const cache = e.kvCache({ nLayer: 2, nCtx: 64, nHeadKv, headDim: hd, type });
        await e.kvWrite(cache, 1, 0, e.tensor(kv, [nKv, nHeadKv, hd]), e.tensor(vv, [nKv, nHeadKv, hd]));
        const { k, v } = e.kvView(cache, 1);
        const r = await e.attention(e.tensor(qv, [nQ, nHead, hd]), k, v, { scores: true, softmax: true });
        expect(r.scores?.shape).toEqual([nHead, nQ, nKv]);
        outs.push(await r.out.read());
        // One thread, the same inputs.
        const rt = await rtP;
        const dims = validateAttention({ shape: [nQ, nHead, hd], type: ggmlType('f32') }, k, v, {});
        const place = (a: Float32Array | Uint8Array) => {
          const p = rt.arena.alloc(a.byteLength);
          rt.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
          return p;
        };
        const kb = await k.readBytes();
        const vb = await v.readBytes();
        const ptrs = { q: place(qv), k: place(kb), v: place(vb), out: rt.arena.alloc(nQ * nHead * hd * 4) };
        attentionOneThread(rt, dims, ptrs);
        const want = rt.f32(ptrs.out, nQ * nHead * hd).slice();
        expect(Buffer.from(outs[outs.length - 1].buffer).equals(Buffer.from(want.buffer)), type).toBe(true);
        await expect(
          e.kvWrite(cache, 1, 60, e.tensor(kv, [nKv, nHeadKv, hd]), e.tensor(vv, [nKv, nHeadKv, hd])),
        ).rejects.toThrow(ShapeError); // a gap: position 60 > length 40
        await expect(
          e.kvWrite(cache, 1, 40, e.tensor(kv, [nKv, nHeadKv, hd]), e.tensor(vv, [nKv, nHeadKv, hd])),
        ).rejects.toThrow(ContextOverflowError);
        cache.dispose();
      }
    }
  });
});

describe('the reference engine computes the same ops', () => {
  it('agrees with the wasm engine to a few f32 ulps on rmsNorm, rope, swiglu, attention', async () => {
    const ref = await createEngine({ backend: 'reference' });
    const e = await wasm2;
    const x = signal(3 * 4 * 32, 21);
    const close = async (what: string, a: Promise<Tensor>, b: Promise<Tensor>, rel: number) => {
      const [av, bv] = [await (await a).read(), await (await b).read()];
      const scale = Math.max(...bv.map(Math.abs));
      av.forEach((v, i) => {
        if (!(Math.abs(v - bv[i]) <= rel * scale))
          expect.fail(`${what}[${i}]: wasm ${v} vs reference ${bv[i]}`);
      });
    };
    const run = (en: Engine) => {
      const t = en.tensor(x, [3, 4, 32]);
      return {
        rms: en.rmsNorm(en.reshape(t, [12, 32]), null, { eps: 1e-6 }),
        rope: en.rope(t, [0, 5, 9], { mode: 'normal' }),
        swiglu: en.swiglu(t, t),
        att: en.attention(t, t, t).then((r) => r.out),
      };
    };
    const [a, b] = [run(e), run(ref)];
    // 2^-20 of the largest value: far above f32 roundoff of these short computations, far below any wiring error.
    for (const k of ['rms', 'rope', 'swiglu', 'att'] as const) await close(k, a[k], b[k], 2 ** -20);
  });
});

describe('engine.scan', () => {
  it('sequential: bit-identical for 2 and 3 threads; chunked within the f32 bound; reference agrees', async () => {
    const { referenceLinearScan } = await import('../../src/backends/reference/scan.js');
    const { linearScanBound } = await import('../../src/ops/scan.js');
    const [T, D] = [300, 24];
    const a = signal(T * D, 31).map((v) => 0.9 + 0.1 * v);
    const b = signal(T * D, 32);
    const h0 = signal(D, 33);
    const ref = referenceLinearScan(a, b, h0, T, D);
    const outs: Float32Array[] = [];
    for (const e of [await wasm2, await wasm3]) {
      const args = [e.tensor(a, [T, D]), e.tensor(b, [T, D]), e.tensor(h0, [D])] as const;
      outs.push(await (await e.scan(...args, { method: 'sequential' })).read());
      const chunked = await (await e.scan(...args, { method: 'chunked' })).read();
      for (let i = 0; i < T * D; i++) {
        const t = Math.floor(i / D);
        const bound = linearScanBound(t, ref.magnitude[i]);
        if (!(Math.abs(chunked[i] - ref.h[i]) <= bound))
          expect.fail(`chunked h[${i}] ${chunked[i]} vs ${ref.h[i]}`);
        if (!(Math.abs(outs[outs.length - 1][i] - ref.h[i]) <= bound)) expect.fail(`sequential h[${i}]`);
      }
    }
    expect(Buffer.from(outs[0].buffer).equals(Buffer.from(outs[1].buffer))).toBe(true);
    const r = await createEngine({ backend: 'reference' });
    const rs = await (await r.scan(r.tensor(a, [T, D]), r.tensor(b, [T, D]), r.tensor(h0, [D]))).read();
    expect(rs).toEqual(Float32Array.from(ref.h));
  });
});

describe('engine.moeRoute', () => {
  it('every scheme: the same experts as the reference engine, bit-identical for 2 and 3 threads', async () => {
    const ref = await createEngine({ backend: 'reference' });
    const [T, E] = [37, 16];
    const logits = signal(T * E, 41, 4);
    const schemes = [
      { scheme: 'mixtral', k: 2 },
      { scheme: 'qwen3-moe', k: 4 },
      { scheme: 'qwen2-moe', k: 4 },
      { scheme: 'topk-softmax', k: 2 },
      { scheme: 'switch', k: 1, capacityFactor: 1 },
    ] as const;
    for (const opts of schemes) {
      const r = await ref.moeRoute(ref.tensor(logits, [T, E]), opts);
      const want = await r.experts.read();
      const bits: Float32Array[] = [];
      for (const e of [await wasm2, await wasm3]) {
        const got = await e.moeRoute(e.tensor(logits, [T, E]), opts);
        expect(await got.experts.read(), opts.scheme).toEqual(want);
        expect(got.droppedCount).toBe(r.droppedCount);
        bits.push(await got.weights.read());
      }
      expect(Buffer.from(bits[0].buffer).equals(Buffer.from(bits[1].buffer)), opts.scheme).toBe(true);
    }
  });
});
