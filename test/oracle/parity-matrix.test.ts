import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { PARITY_OPS, parityMatrix } from '../../src/oracle/parity-matrix.js';

describe('parity matrix', () => {
  let wasm: Engine;
  let reference: Engine;
  beforeAll(async () => {
    wasm = await createEngine({ backend: 'wasm' });
    reference = await createEngine({ backend: 'reference' });
  });
  afterAll(async () => {
    await wasm?.dispose();
    await reference?.dispose();
  });

  it('every row passes on the wasm backend, every op covered', async () => {
    const rows = await parityMatrix(wasm);
    const failing = rows.filter((r) => !r.pass).map((r) => `${r.op} ${r.dtype} ${r.shape}: ${r.reason}`);
    expect(failing).toEqual([]);
    expect(new Set(rows.map((r) => r.op))).toEqual(new Set(PARITY_OPS));
    // Bound rows must measure something: a ratio of 0 everywhere would mean nothing was checked.
    expect(rows.filter((r) => r.op === 'matmul').every((r) => (r.worstRatio ?? 0) > 0)).toBe(true);
  });

  it('a backend off by a relative 1e-3 in one element of one op fails at exactly that op', async () => {
    const ref = reference;
    // The reference engine, with rms_norm's element 5 scaled by 1 + 1e-3.
    const perturbedRmsNorm: Engine['rmsNorm'] = async (x, w, opts) => {
      const out = await ref.rmsNorm(x, w, opts);
      const data = await out.read();
      out.dispose();
      data[5] *= 1 + 1e-3;
      return ref.tensor(data, out.shape);
    };
    const wrong = new Proxy(ref, {
      get(target, prop) {
        if (prop === 'rmsNorm') return perturbedRmsNorm;
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Engine;
    const rows = await parityMatrix(wrong);
    const failing = rows.filter((r) => !r.pass);
    expect(failing.length).toBeGreaterThan(0);
    expect(failing.every((r) => r.op === 'rms_norm')).toBe(true);
    expect(rows.filter((r) => r.op === 'rms_norm').every((r) => !r.pass)).toBe(true);
    for (const r of failing) {
      expect(r.worstIndex).toBe(5);
      expect(r.worstRatio).toBeGreaterThan(1);
    }
  });

  it('covers layer_norm, the scan methods, the exact-selection MoE schemes and attention over f16 K/V', async () => {
    const rows = await parityMatrix(wasm, { ops: ['layer_norm', 'scan', 'moe_route', 'attention'] });
    expect(rows.every((r) => r.pass && r.basis === 'bound' && (r.worstRatio ?? 0) > 0)).toBe(true);
    expect(rows.filter((r) => r.op === 'layer_norm').length).toBe(2);
    expect(new Set(rows.filter((r) => r.op === 'scan').map((r) => r.numerics))).toEqual(
      new Set(['sequential', 'chunked']),
    );
    expect(new Set(rows.filter((r) => r.op === 'moe_route').map((r) => r.numerics))).toEqual(
      new Set(['mixtral', 'qwen2-moe', 'topk-softmax']),
    );
    const f16 = rows.filter((r) => r.op === 'attention' && r.dtype === 'f16');
    expect(f16.map((r) => r.numerics).sort()).toEqual(['exact', 'exact', 'ggml', 'ggml']);
  });

  it('a router that swaps the order of two experts fails at moe_route, on the expert ids', async () => {
    const ref = reference;
    const swapped: Engine['moeRoute'] = async (logits, opts) => {
      const r = await ref.moeRoute(logits, opts);
      const ids = await r.experts.read();
      [ids[0], ids[1]] = [ids[1], ids[0]];
      const shape = r.experts.shape;
      r.experts.dispose();
      return { ...r, experts: ref.tensor(ids, shape) };
    };
    const wrong = new Proxy(ref, {
      get(target, prop) {
        if (prop === 'moeRoute') return swapped;
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Engine;
    const rows = await parityMatrix(wrong, { ops: ['moe_route', 'scan'] });
    const failing = rows.filter((r) => !r.pass);
    expect(failing.length).toBe(rows.filter((r) => r.op === 'moe_route').length);
    expect(failing.every((r) => r.op === 'moe_route')).toBe(true);
  });
});
