/**
 * engine.matmul on WebGPU against the float64 reference.
 *
 * exact numerics: weights decoded to their exact f32 values (bit-identical to dequantize()),
 * f32 activations, f32 sums of K correctly rounded products in a fixed tree, so every element
 * is within γ(K, 2^-24)·Σ|x||w| of the float64 dot (Higham; any summation tree of K terms),
 * plus 2K·2^-126 because WGSL may flush subnormal results to zero: each of the K products and
 * K sums loses less than 2^-126 (absolute) that way. Inputs flushed to zero lose |x|·|w|
 * instead; the only subnormal inputs here are bf16 weights against |x| < 1, below that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../../src/backends/reference/matmul.js';
import { QUANT_EXACT_TYPES } from '../../../src/backends/wasm/matmul-quant.js';
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
import type { Tensor } from '../../../src/engine/tensor.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { dotBound, UNIT_ROUNDOFF } from '../../../src/oracle/tiers.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { normals } from '../../helpers/ggml-inputs.js';
import { exactWeights } from '../../helpers/quant-exact-checks.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { values } from '../wasm/matmul-f32-checks.js';

const gpu = await webgpuEngine();
const FUSED = ['q4_0', 'q8_0', 'q4_K', 'q5_K', 'q6_K'] as const;

function boundFailures(
  label: string,
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
): string[] {
  const ref = referenceMatmul(x, w, M, N, K);
  const out: string[] = [];
  for (let i = 0; i < M * N; i++) {
    const bound = dotBound(K, UNIT_ROUNDOFF.f32, ref.magnitude[i], 1, 2 * K * 2 ** -126);
    const ok = Number.isFinite(ref.y[i]) ? Math.abs(y[i] - ref.y[i]) <= bound : Object.is(y[i], ref.y[i]);
    if (!ok) {
      out.push(
        `${label}: y[${Math.floor(i / N)}, ${i % N}] = ${y[i]}, reference ${ref.y[i]}, bound ${bound}`,
      );
      if (out.length >= 3) break;
    }
  }
  return out;
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

afterAll(() => gpu?.dispose());

describe.skipIf(!gpu)('WebGPU matmul, exact numerics', () => {
  const e = gpu!;

  async function run(
    x: Float32Array,
    w: Float32Array | Uint8Array,
    M: number,
    N: number,
    K: number,
    type = 'f32',
  ): Promise<Float32Array> {
    const xt = e.tensor(x, [M, K]);
    const wt = e.tensor(w, [N, K], type);
    let yt: Tensor | undefined;
    try {
      yt = await e.matmul(xt, wt);
      return await yt.read();
    } finally {
      yt?.dispose();
      xt.dispose();
      wt.dispose();
    }
  }

  /** Runs fn once with the device's subgroups and once with the workgroup-memory reduction. */
  async function bothReductions(fn: (label: string) => Promise<void>): Promise<void> {
    const features = e.host.ctx.features;
    const had = features.subgroups;
    try {
      for (const sg of had ? [true, false] : [false]) {
        features.subgroups = sg;
        await fn(sg ? 'subgroups' : 'shared');
      }
    } finally {
      features.subgroups = had;
    }
  }

  it('f32: ragged shapes, matvec (M ≤ 8) and tiled (M > 8), within the f32 bound', async () => {
    const failures: string[] = [];
    await bothReductions(async (how) => {
      for (const [M, N, K] of [
        [1, 1, 1],
        [1, 7, 33],
        [3, 33, 100],
        [8, 65, 17],
        [9, 1, 7],
        [17, 33, 257],
        [70, 65, 40],
        [65, 130, 16],
      ]) {
        for (const wide of [false, true]) {
          const x = values(M * K, M * 31 + K, wide);
          const w = values(N * K, N * 17 + K + 1, wide);
          const y = await run(x, w, M, N, K);
          failures.push(...boundFailures(`${how} ${M}x${N}x${K}`, y, x, w, M, N, K));
        }
      }
    });
    expect(failures).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });

  it('f16 and bf16 weights (subnormal, largest, signed-zero halves) within the bound of their exact values', async () => {
    const failures: string[] = [];
    for (const type of ['f16', 'bf16'] as const) {
      const toBits = type === 'f16' ? f32ToF16 : f32ToBf16;
      const toF32 = type === 'f16' ? f16ToF32 : bf16ToF32;
      for (const [M, N, K] of [
        [1, 33, 100],
        [3, 7, 33],
        [17, 33, 65],
      ]) {
        const x = values(M * K, M + N + K);
        const bits = Uint16Array.from(values(N * K, N * K + 3, true), toBits);
        const specials = type === 'f16' ? [0x0001, 0x83ff, 0x7bff, 0x8000] : [0x0001, 0x807f, 0x4000, 0x8000];
        specials.forEach((h, i) => {
          bits[(i * 7919) % bits.length] = h;
        });
        const w = Float32Array.from(bits, toF32);
        const y = await run(x, new Uint8Array(bits.buffer), M, N, K, type);
        failures.push(...boundFailures(`${type} ${M}x${N}x${K}`, y, x, w, M, N, K));
      }
    }
    expect(failures).toEqual([]);
  });

  // The fused types (and the float ones above) take both kernels, both reductions; the others the
  // matvec kernel (the same w4 decoder; the tiled kernel's staging does not depend on the type,
  // and each tiled pipeline costs SwiftShader about a second to build).
  it.each(QUANT_EXACT_TYPES)('%s weights, decoded in place, within the f32 bound', async (type) => {
    const bs = GGML_TYPES[type].blockSize;
    const fused = (FUSED as readonly string[]).includes(type);
    const failures: string[] = [];
    let seed = 1;
    const Ks = bs === 32 ? [32, 96, 256] : [256, 512];
    const shapes: [number, number, number][] = [
      [1, 7, Ks[0]],
      [3, 33, Ks[1]],
    ];
    if (fused) shapes.push([17, 7, Ks[Ks.length - 1]]);
    const check = async (how: string) => {
      for (const [M, N, K] of shapes) {
        for (const raw of [false, true]) {
          const x = normals(M * K, seed++);
          const wq = exactWeights(type, N, K, seed++, raw);
          const y = await run(x, wq, M, N, K, type);
          const w = dequantize(type, wq, N * K);
          failures.push(
            ...boundFailures(`${how} ${type} ${raw ? 'raw ' : ''}${M}x${N}x${K}`, y, x, w, M, N, K),
          );
        }
      }
    };
    if (fused) await bothReductions(check);
    else await check('device reduction');
    expect(failures).toEqual([]);
    expect(e.opReport().matmul.cpu).toBe(0);
  });

  it('NaN in x row m makes row m NaN, NaN in W row n column n; K = 0 gives zeros; M = 0 an empty y', async () => {
    for (const [M, N, K] of [
      [3, 9, 40],
      [12, 9, 40],
    ]) {
      const x = values(M * K, 41);
      const w = values(N * K, 42);
      x[1 * K + 7] = Number.NaN;
      w[4 * K + K - 1] = Number.NaN;
      const y = await run(x, w, M, N, K);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) expect(Number.isNaN(y[m * N + n])).toBe(m === 1 || n === 4);
      expect(await run(new Float32Array(0), new Float32Array(0), M, N, 0)).toEqual(new Float32Array(M * N));
    }
    expect(await run(new Float32Array(0), values(3 * 8, 1), 0, 3, 8)).toEqual(new Float32Array(0));
  });

  it('deterministic: the same bits on a second run (matvec and tiled)', async () => {
    for (const [M, N, K, type] of [
      [1, 33, 512, 'q4_K'],
      [3, 17, 256, 'q8_0'],
      [20, 9, 100, 'f32'],
    ] as const) {
      const x = normals(M * K, 5);
      const w = type === 'f32' ? values(N * K, 6) : exactWeights(type, N, K, 6, true);
      const a = await run(x, w, M, N, K, type);
      const b = await run(x, w, M, N, K, type);
      expect(bitsEqual(a, b)).toBe(true);
    }
  });
});

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
