/**
 * Replay of traces from the WebGPU engine (Dawn; SwiftShader where no GPU):
 * its kernels compute in other orders than the wasm ones, and every stage
 * must still follow from its own inputs at its tier — a stage that does not
 * is a GPU kernel bug, named by the replay.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticModel } from '../../src/model/synthetic.js';
import { replay } from '../../src/oracle/replay.js';
import { capturePass, faultyEngine } from '../helpers/faulty-engine.js';
import { webgpuEngine } from '../helpers/webgpu.js';

const gpu = await webgpuEngine();
const gpuF16 = await webgpuEngine({ matmulPrecision: 'f16' });
afterAll(async () => {
  await gpu?.dispose();
  await gpuF16?.dispose();
});

const SPEC = { arch: 'llama', nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 96, nVocab: 340 } as const;
const TOKENS = [9, 2, 6, 5, 3, 5];

describe.skipIf(!gpu)('replay of WebGPU traces', () => {
  for (const [type, numerics] of [
    ['f32', 'exact'],
    ['q8_0', 'ggml'],
  ] as const) {
    it(`${type} weights, ${numerics} numerics: every stage follows from its inputs`, async () => {
      const gguf = syntheticModel({ ...SPEC, type, seed: 11 });
      const { bytes } = await capturePass(gpu!, gguf, TOKENS, numerics);
      const r = await replay(gguf, bytes, { reference: 'none' });
      expect(r.candidate.backend).toMatch(/webgpu/);
      const bad = r.stages
        .filter((s) => s.verdict !== 'ok')
        .map((s) => `${s.name}: ${s.verdict} ${s.reason}`);
      expect(bad).toEqual([]);
    });
  }
});

describe.skipIf(!gpuF16)('replay of WebGPU traces with f16 matmul operands', () => {
  const gguf = syntheticModel({ ...SPEC, type: 'q4_K', nEmbd: 256, nFf: 256, seed: 12 });
  const notOk = (r: Awaited<ReturnType<typeof replay>>) =>
    r.stages.filter((s) => s.verdict !== 'ok').map((s) => `${s.name}: ${s.verdict}`);

  it('the trace says so, and every stage follows from its inputs at the f16 tier', async () => {
    const { bytes, meta } = await capturePass(gpuF16!, gguf, TOKENS, 'exact');
    expect(meta.extra).toEqual({ matmul_precision: 'f16' });
    const r = await replay(gguf, bytes, { reference: 'none' });
    expect(notOk(r)).toEqual([]);
    const q = r.stages.find((s) => s.name === 'blk.0.q_proj');
    expect(q?.comparison?.tier).toBe('f16');
    // Held to f32 operands the first matmul is the fault: f16 rounding is not f32 rounding.
    const f32 = await replay(gguf, bytes, { reference: 'none', matmulPrecision: 'f32' });
    expect(f32.firstFault?.name).toBe('blk.0.q_proj');
  });

  it('a wrong matmul kernel is still named: one element of layer 1 ffn_up off by 5% of the output range', async () => {
    // matmul calls per layer: q, k, v, o, gate, up, down
    const wrong = faultyEngine(
      gpuF16!,
      'matmul',
      (d) => {
        const range = d.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        d[3] += 0.05 * range;
      },
      [7 + 5],
    );
    const { bytes } = await capturePass(wrong, gguf, TOKENS, 'exact');
    const r = await replay(gguf, bytes, { reference: 'none' });
    expect(r.stages.filter((s) => s.verdict === 'fault').map((s) => s.name)).toEqual(['blk.1.ffn_up']);
  });
});
