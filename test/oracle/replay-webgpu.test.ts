/**
 * Replay of traces from the WebGPU engine (Dawn; SwiftShader where no GPU):
 * its kernels compute in other orders than the wasm ones, and every stage
 * must still follow from its own inputs at its tier — a stage that does not
 * is a GPU kernel bug, named by the replay.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticModel } from '../../src/model/synthetic.js';
import { replay } from '../../src/oracle/replay.js';
import { capturePass } from '../helpers/faulty-engine.js';
import { webgpuEngine } from '../helpers/webgpu.js';

const gpu = await webgpuEngine();
afterAll(() => gpu?.dispose());

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
