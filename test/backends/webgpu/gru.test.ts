/**
 * engine.gru on WebGPU (f32, every structure): each GPU step replayed in
 * float64 from the GPU's own previous state lies within gpuGruStepBound —
 * the reference step bound with WGSL's numerics (1 ULP per + − × since no
 * rounding mode is fixed, exp (3 + 2|x|) ULP, 2.5-ULP division); the gates
 * r, z, n within their bounds. The quantized GRU runs on the CPU engine
 * (the report says why) and gives that engine's bits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { gpuGruStepBound } from '../../../src/backends/webgpu/ops/gru-bound.js';
import { createEngine, type Engine } from '../../../src/engine/engine.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { type GruRecurrence, type GruStructure, type GruWeights, gruShapes } from '../../../src/ops/gru.js';
import { Int8Quantizer } from '../../../src/ops/int8-quantizer.js';
import { randomRecurrence } from '../../helpers/gru-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();

function weights(e: Engine, rec: GruRecurrence): GruWeights<Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, shape] of Object.entries(gruShapes(rec.kind, rec.H)))
    out[name] = e.tensor(
      Float32Array.from((rec as unknown as Record<string, ArrayLike<number>>)[name]),
      shape,
    );
  return { kind: rec.kind, ...out } as GruWeights<Tensor>;
}

const SIZES: Record<GruStructure, number[]> = {
  dense: [1, 8, 33],
  diagonal: [5, 64],
  monarch: [4, 9, 64],
  butterfly: [2, 16, 64],
};

describe.skipIf(!gpu)('gru on WebGPU', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  it('every structure: each step within the derived bound from the GPU’s own previous state, gates too', async () => {
    for (const kind of Object.keys(SIZES) as GruStructure[])
      for (const H of SIZES[kind])
        for (const withOptional of [true, false]) {
          const T = 6;
          const scale = kind === 'dense' ? 1 / Math.sqrt(H) : kind === 'diagonal' ? 0.9 : 0.6;
          const rec = randomRecurrence(kind, H, H + 3, scale);
          const gx = uniform(T * 3 * H, H + 4, 2);
          const bh = withOptional ? uniform(3 * H, H + 5, 0.3) : null;
          const h0 = withOptional ? uniform(H, H + 6, 0.9) : null;
          const r = await e.gru(e.tensor(gx, [T, 3 * H]), weights(e, rec), {
            bh: bh && e.tensor(bh, [3 * H]),
            h0: h0 && e.tensor(h0, [H]),
            gates: true,
          });
          const h = await r.h.read();
          const gates = await r.gates!.read();
          expect(r.h.shape).toEqual([T, H]);
          let prev: ArrayLike<number> = h0 ?? new Float32Array(H);
          const problems: string[] = [];
          for (let t = 0; t < T; t++) {
            const ref = gpuGruStepBound(rec, gx.subarray(t * 3 * H, (t + 1) * 3 * H), bh, prev);
            const cur = h.subarray(t * H, (t + 1) * H);
            const g = gates.subarray(t * 3 * H, (t + 1) * 3 * H);
            for (let i = 0; i < H; i++)
              if (!(Math.abs(cur[i] - ref.h[i]) <= ref.bound[i]))
                problems.push(`t ${t} h[${i}] ${cur[i]} vs ${ref.h[i]} (bound ${ref.bound[i]})`);
            for (let i = 0; i < 3 * H; i++)
              if (!(Math.abs(g[i] - ref.gates[i]) <= ref.gateBound[i]))
                problems.push(`t ${t} gate ${i} ${g[i]} vs ${ref.gates[i]} (bound ${ref.gateBound[i]})`);
            prev = cur;
          }
          expect(problems.slice(0, 3), `${kind} H ${H}`).toEqual([]);
        }
    expect(e.opReport().gru.cpu).toBe(0);
  });

  it('the quantized GRU runs on the CPU engine, says why, and gives its bits', async () => {
    const [H, T] = [16, 5];
    const rec = randomRecurrence('dense', H, 7, 0.25);
    const gx = uniform(T * 3 * H, 8, 2);
    const state = new Int8Quantizer({
      granularity: 'per-tensor',
      range: 'narrow',
      calibration: { method: 'max-abs' },
    });
    state.observe([1]);
    state.freeze();
    const cpu = await createEngine({ backend: 'wasm', threads: 1 });
    try {
      const want = await cpu.gru!(cpu.tensor(gx, [T, 3 * H]), weights(cpu, rec), { int8: { state } });
      const got = await e.gru(e.tensor(gx, [T, 3 * H]), weights(e, rec), { int8: { state } });
      expect(await got.h.read()).toEqual(await want.h.read());
      expect(e.opReport().gru.cpu).toBe(1);
      expect(e.opReport().gru.why).toMatch(/int8/);
    } finally {
      await cpu.dispose();
    }
  });
});
