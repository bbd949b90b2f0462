/**
 * engine.matmul on WebGPU, ggml numerics: the activation quantizers byte-identical to quantize(),
 * every block type bit-identical to the wasm engine's ggml matmul (the same integer dots and f32
 * scaling order), f16/bf16 weights within the f32 bound of the half-rounded activations
 * (test/helpers/webgpu-matmul.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuTensor } from '../../../src/backends/webgpu/tensor.js';
import { GGML_FUSED, type GgmlFusedType } from '../../../src/backends/webgpu/wgsl/matmul-ggml.js';
import {
  ACT_BLOCK_SIZE,
  ACT_BLOCK_WORDS,
  type ActivationType,
  QUANTIZE_WG,
  quantizeWgsl,
} from '../../../src/backends/webgpu/wgsl/matmul-ggml-quantize.js';
import { createEngine, type Engine } from '../../../src/engine/engine.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { normals } from '../../helpers/ggml-inputs.js';
import { exactWeights } from '../../helpers/quant-exact-checks.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { bitsEqual, boundFailures } from '../../helpers/webgpu-matmul.js';
import { values } from '../wasm/matmul-f32-checks.js';

const gpu = await webgpuEngine();

afterAll(() => gpu?.dispose());

describe.skipIf(!gpu)('WebGPU matmul, ggml numerics', () => {
  const e = gpu!;
  let wasm: Engine;
  beforeAll(async () => {
    wasm = await createEngine({ backend: 'wasm', threads: 1 });
  });
  afterAll(() => wasm?.dispose());

  /** The ggml bytes of q8_0 / q8_K blocks from the kernel's word layout (matmul-ggml-quantize.ts). */
  function ggmlBytes(act: ActivationType, words: Uint32Array, blocks: number): Uint8Array {
    const size = GGML_TYPES[act].typeSize;
    const out = new Uint8Array(blocks * size);
    const v = new DataView(out.buffer);
    const per = ACT_BLOCK_WORDS[act];
    for (let b = 0; b < blocks; b++) {
      const wb = words.subarray(b * per, (b + 1) * per);
      const codes = new Uint8Array(wb.buffer, wb.byteOffset + 4, act === 'q8_K' ? 256 : 32);
      if (act !== 'q8_K') {
        // q8_0: d; q8_1: d, s (the two halves of the first word).
        v.setUint16(b * size, wb[0] & 0xffff, true);
        if (act === 'q8_1') v.setUint16(b * size + 2, wb[0] >>> 16, true);
        out.set(codes, b * size + (act === 'q8_1' ? 4 : 2));
      } else {
        v.setUint32(b * size, wb[0], true);
        out.set(codes, b * size + 4);
        for (let j = 0; j < 16; j++) v.setInt16(b * size + 260 + 2 * j, wb[65 + j] | 0, true);
      }
    }
    return out;
  }

  it.each(['q8_0', 'q8_K'] as const)(
    'the %s activation quantizer writes the bytes of quantize()',
    async (act) => {
      const { ctx } = e.host;
      const K = 512;
      const M = 4;
      const x = normals(M * K, 77);
      // A wide range of block scales, ties (values on k/2 against amax 127), zero blocks, −0.
      for (let i = 0; i < K; i++) x[i] *= 2 ** ((i % 61) - 30);
      for (let i = K; i < 2 * K; i++) x[i] = i % 32 === 0 ? 127 : Math.floor(normals(1, i)[0] * 60) / 2;
      x.fill(0, 2 * K, 2 * K + 256);
      x.fill(-0, 2 * K + 256, 2 * K + 320);
      const blocks = (M * K) / ACT_BLOCK_SIZE[act];
      const xt = e.tensor(x, [M, K]) as GpuTensor;
      const out = ctx.buffer(blocks * ACT_BLOCK_WORDS[act] * 4, 'test activations');
      ctx.run(quantizeWgsl(act), [M, K, 0], [xt.binding, out], Math.ceil(blocks / QUANTIZE_WG));
      const bytes = await ctx.read(out, blocks * ACT_BLOCK_WORDS[act] * 4);
      out.destroy();
      xt.dispose();
      const got = ggmlBytes(
        act,
        new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
        blocks,
      );
      expect(Buffer.from(got).equals(Buffer.from(quantize(act, x)))).toBe(true);
    },
  );

  it.each(Object.keys(GGML_FUSED) as GgmlFusedType[])(
    '%s: bit-identical to the wasm engine, M ∈ {1, 3, 17}, N ∈ {1, 7, 33}',
    async (type) => {
      const bs = GGML_TYPES[type].blockSize;
      const failures: string[] = [];
      let seed = 300;
      const shapes: [number, number, number][] = [];
      for (const M of [1, 3, 17]) for (const N of [1, 7, 33]) shapes.push([M, N, bs === 32 ? 96 : 512]);
      shapes.push([2, 3, 65 * bs]); // more blocks than the workgroup has invocations: two chunks
      let differsFromExact = false;
      for (const [M, N, K] of shapes)
        for (const raw of [false, true]) {
          const x = normals(M * K, seed++);
          const wq = exactWeights(type, N, K, seed++, raw);
          const [g, c] = await Promise.all(
            [e, wasm].map(async (engine) => {
              const xt = engine.tensor(x, [M, K]);
              const wt = engine.tensor(wq, [N, K], type);
              const yt = await engine.matmul(xt, wt, { numerics: 'ggml' });
              const y = await yt.read();
              for (const t of [xt, wt, yt]) t.dispose();
              return y;
            }),
          );
          if (!differsFromExact) {
            const xt = e.tensor(x, [M, K]);
            const wt = e.tensor(wq, [N, K], type);
            const yt = await e.matmul(xt, wt);
            differsFromExact = !bitsEqual(await yt.read(), g);
            for (const t of [xt, wt, yt]) t.dispose();
          }
          if (!bitsEqual(g, c)) {
            const i = g.findIndex((v, j) => !Object.is(v, c[j]));
            failures.push(`${type}${raw ? ' raw' : ''} ${M}x${N}x${K}: y[${i}] = ${g[i]}, wasm ${c[i]}`);
          }
        }
      expect(failures).toEqual([]);
      expect(differsFromExact).toBe(true); // the activations were quantized
      expect(e.opReport().matmul.cpu).toBe(0);
    },
  );

  it('f16 and bf16 weights: x rounded to the half type as ggml does, then within γ(K)·Σ|x̂||w|', async () => {
    const failures: string[] = [];
    for (const type of ['f16', 'bf16'] as const) {
      const round = (v: number) => (type === 'f16' ? f16ToF32(f32ToF16(v)) : bf16ToF32(f32ToBf16(v)));
      for (const [M, N, K] of [
        [1, 7, 100],
        [3, 33, 64],
        [17, 7, 33],
      ]) {
        const x = values(M * K, M * 7 + K, true);
        // Ties of the half rounding: values halfway between two halves.
        for (let i = 0; i < x.length; i += 5)
          x[i] = type === 'f16' ? 1 + 2 ** -11 : 1 + 2 ** -8 + 2 ** -9 * (i % 2);
        const wv = values(N * K, N + K);
        const w = type === 'f16' ? quantize('f16', wv) : quantize('bf16', wv);
        const xt = e.tensor(x, [M, K]);
        const wt = e.tensor(w, [N, K], type);
        const yt = await e.matmul(xt, wt, { numerics: 'ggml' });
        const y = await yt.read();
        for (const t of [xt, wt, yt]) t.dispose();
        const xr = x.map(round);
        failures.push(
          ...boundFailures(`ggml ${type} ${M}x${N}x${K}`, y, xr, dequantize(type, w, N * K), M, N, K),
        );
        // And not within it of the unrounded x (the rounding happened).
        if (boundFailures('', y, x, dequantize(type, w, N * K), M, N, K).length === 0)
          failures.push(`ggml ${type} ${M}x${N}x${K}: x was not rounded`);
      }
    }
    expect(failures).toEqual([]);
  });
});
