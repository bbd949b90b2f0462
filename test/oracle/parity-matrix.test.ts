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
});
