/**
 * GPU dequantization (GpuTensor.read of a ggml-typed tensor) against ggml's
 * to_float on the conformance corpus and the CPU engine: bit-identical for
 * every type, compared as u32 bits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { gpuDecode } from '../../../src/backends/webgpu/ops/dequant.js';
import type { GpuTensor } from '../../../src/backends/webgpu/tensor.js';
import { wgslBlocks } from '../../../src/backends/webgpu/wgsl/blocks.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES, type GgmlTypeName } from '../../../src/types/ggml-types.js';
import {
  arrayBytes,
  arrayF32,
  conformanceAvailable,
  describeF32Mismatch,
  firstBitMismatch,
  loadManifest,
} from '../../helpers/conformance.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();
const have = conformanceAvailable();

function expectBits(what: string, want: Float32Array, got: Float32Array): void {
  expect(got.length, what).toBe(want.length);
  const i = firstBitMismatch(want, got);
  if (i >= 0) expect.fail(describeF32Mismatch(what, i, want, got));
}

describe.skipIf(!gpu)('WebGPU dequantization', () => {
  const e = gpu!;
  afterAll(() => e.dispose());

  /** Dequantizes bytes of `type` on the GPU through GpuTensor.read. */
  async function onGpu(type: GgmlTypeName, bytes: Uint8Array, count: number): Promise<Float32Array> {
    const t = e.tensor(bytes, [count], type);
    try {
      return await t.read();
    } finally {
      t.dispose();
    }
  }

  describe.skipIf(!have)('bit-identical to ggml to_float (conformance corpus)', () => {
    const types = have ? loadManifest().types : {};
    for (const [name, spec] of Object.entries(types)) {
      const c = spec.cases.find((k) => k.name === 'c4096') ?? spec.cases[0];
      it(`${name} ${c.name}`, async () => {
        const quant = arrayBytes(spec.file, c.arrays.quant);
        const want = arrayF32(spec.file, c.arrays.dequant);
        expectBits(name, want, await onGpu(name as GgmlTypeName, quant, c.rows * c.cols));
      });
      // The activation types (q8_0, q8_1, q8_K) from the vec_dot_type's reference quantizer.
      if (c.arrays.act_quant_ref && spec.vec_dot_type && !['f16', 'bf16'].includes(name)) {
        it(`${spec.vec_dot_type} (activations of ${name})`, async () => {
          const quant = arrayBytes(spec.file, c.arrays.act_quant_ref);
          const want = arrayF32(spec.file, c.arrays.act_dequant_ref);
          const vdt = spec.vec_dot_type as GgmlTypeName;
          expectBits(vdt, want, await onGpu(vdt, quant, want.length));
        });
      }
    }

    it('f16 → f32 for all 65536 patterns (subnormals, inf, NaN payloads)', async () => {
      const m = loadManifest().f16_bf16_special;
      const want = arrayF32(m.file, m.f16_all_to_f32);
      const all = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
      expectBits('f16', want, await onGpu('f16', all, 65536));
    });
  });

  it('bf16 and f32 keep every bit pattern (subnormals and NaN payloads included)', async () => {
    const h = new Uint16Array(65536).map((_, i) => i);
    const want = new Float32Array(new Uint32Array(65536).map((_, i) => i << 16).buffer);
    expectBits('bf16', want, await onGpu('bf16', new Uint8Array(h.buffer), 65536));
    // Odd counts: the last word is half used.
    expectBits('bf16 odd', want.subarray(0, 7), await onGpu('bf16', new Uint8Array(h.buffer, 0, 14), 7));
    const f = new Uint32Array([1, 0x807fffff, 0x7fc01234, 0xff800001, 0x00800000, 0x80000000, 3]);
    const t = e.tensor(new Uint8Array(f.buffer), [7], 'f32');
    expectBits('f32', new Float32Array(f.buffer), await t.read());
    t.dispose();
  });

  it('random bytes of every type: the same bits as the CPU engine (finite scales)', async () => {
    // Random codes and scales in every field; f16/f32 scales made finite (a NaN's payload is the device's).
    let s = 0x9e3779b9;
    const rnd = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    for (const type of GGML_TYPE_NAMES) {
      const info = GGML_TYPES[type];
      const nb = 37;
      const bytes = new Uint8Array(nb * info.typeSize).map(() => rnd() & 0xff);
      const scaleFields: Partial<Record<GgmlTypeName, number[]>> = {
        q4_0: [0],
        q4_1: [0, 2],
        q5_0: [0],
        q5_1: [0, 2],
        q8_0: [0],
        q8_1: [0, 2],
        iq4_nl: [0],
        q2_K: [80, 82],
        q3_K: [108],
        q4_K: [0, 2],
        q5_K: [0, 2],
        q6_K: [208],
        iq4_xs: [0],
      };
      for (let b = 0; b < nb; b++) {
        for (const o of scaleFields[type] ?? []) bytes[b * info.typeSize + o + 1] &= 0x7b; // f16 exponent < 31
        if (type === 'q8_K') bytes[b * info.typeSize + 3] &= 0x7e; // f32 exponent < 255 (some tiny, some subnormal)
      }
      if (type === 'f16') for (let i = 1; i < bytes.length; i += 2) bytes[i] &= 0xfb;
      if (type === 'bf16' || type === 'f32') continue; // bit copies, covered above
      const count = nb * info.blockSize;
      expectBits(type, dequantize(type, bytes, count), await onGpu(type, bytes, count));
    }
  });

  it('q8_K with tiny and subnormal f32 scales: exact products, no flushing', async () => {
    // d = 2^-140 (subnormal results), the smallest subnormal, a subnormal near 2^-127, 2^-118 (the last
    // exponent on the rescaled path), and 1.1·2^-120 (results straddle 2^-126: rounding at the boundary).
    const ds = [2 ** -140, 2 ** -149, 5.5e-39, 2 ** -118, 1.1 * 2 ** -120, -3 * 2 ** -135];
    const bytes = new Uint8Array(ds.length * 292);
    const view = new DataView(bytes.buffer);
    ds.forEach((d, b) => {
      view.setFloat32(b * 292, d, true);
      for (let j = 0; j < 256; j++) view.setInt8(b * 292 + 4 + j, ((j * 37 + b) % 256) - 128);
    });
    const got = await onGpu('q8_K', bytes, ds.length * 256);
    // The expected product in f64 rounded once to f32 (exact: |q| ≤ 128 times a 24-bit significand).
    const want = new Float32Array(ds.length * 256);
    ds.forEach((d, b) => {
      const df = Math.fround(d);
      for (let j = 0; j < 256; j++) want[b * 256 + j] = df * view.getInt8(b * 292 + 4 + j);
    });
    expectBits('q8_K tiny d', want, got);
    expectBits('q8_K tiny d vs CPU', dequantize('q8_K', bytes, ds.length * 256), got);
    expect(got.some((x) => x !== 0 && Math.abs(x) < 2 ** -126)).toBe(true);
  });

  it('non-finite f16 scales: inf and NaN where the CPU has them, other values bit-identical', async () => {
    // WGSL leaves a NaN's payload to the device (SwiftShader happens to keep the CPU's bits); the
    // positions of NaN, and every non-NaN value (±inf included), must match.
    for (const [type, size, at, half] of [
      ['q8_0', 34, 0, 0x7e01],
      ['q8_0', 34, 0, 0xfc00],
      ['q4_1', 20, 2, 0x7c00],
      ['q4_K', 144, 0, 0x7e55],
      ['q6_K', 210, 208, 0xfc00],
    ] as const) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 13) & 0xff);
      bytes[at] = half & 0xff;
      bytes[at + 1] = half >> 8;
      if (type === 'q4_K') bytes.set([0, 0x3c], 2); // dmin = 1
      const n = GGML_TYPES[type].blockSize;
      const want = dequantize(type, bytes, n);
      const got = await onGpu(type, bytes, n);
      const wb = new Uint32Array(want.buffer);
      const gb = new Uint32Array(got.buffer);
      for (let i = 0; i < n; i++) {
        expect(Number.isNaN(got[i]), `${type} ${i}`).toBe(Number.isNaN(want[i]));
        if (!Number.isNaN(want[i])) expect(gb[i], `${type} ${i}`).toBe(wb[i]);
      }
      expect(want.some((x) => !Number.isFinite(x))).toBe(true);
    }
  });

  it('an all-zero block of every type gives ±0 as ggml does (q4_0: (0 − 8)·0 = −0)', async () => {
    for (const type of GGML_TYPE_NAMES) {
      const { blockSize, typeSize } = GGML_TYPES[type];
      const bytes = new Uint8Array(typeSize * 3);
      expectBits(type, dequantize(type, bytes, blockSize * 3), await onGpu(type, bytes, blockSize * 3));
    }
  });

  it('reads in chunks (a result larger than one binding): the same bits', async () => {
    for (const type of ['q4_0', 'q6_K', 'f16'] as const) {
      const { typeSize, blockSize } = GGML_TYPES[type];
      const n = 256 * 9 + (type === 'q6_K' ? 0 : blockSize * 3); // a partial last chunk
      const bytes = new Uint8Array((n / blockSize) * typeSize).map((_, i) => (i * 29 + 3) & 0xff);
      for (let b = 0; b < n / blockSize; b++) bytes[b * typeSize + (type === 'q6_K' ? 209 : 1)] &= 0x7b;
      const t = e.tensor(bytes, [n], type) as GpuTensor;
      expectBits(`${type} chunked`, dequantize(type, bytes, n), await gpuDecode(t, 512));
      t.dispose();
    }
  });

  it('runs on the GPU: a view reads through the same kernel', async () => {
    const bytes = new Uint8Array(GGML_TYPES.q4_K.typeSize * 2).map((_, i) => (i * 7) & 0xff);
    bytes[1] = 0x3c;
    bytes[3] = 0x3c;
    const t = e.tensor(bytes, [2, 256], 'q4_K');
    const v = e.reshape(t, [512]);
    expectBits('view', dequantize('q4_K', bytes, 512), await v.read());
    t.dispose();
  });

  it('the scalar dq_T of every type, read through a prefixed second reader, matches dq4', async () => {
    // A kernel with two block readers (the second one prefixed, as a kernel reading two ggml buffers
    // would have): out[e] = w_dq_T(e) from buffer w, which must equal dq4_T's values of buffer src.
    const ctx = e.host.ctx;
    let s = 7;
    for (const type of GGML_TYPE_NAMES) {
      const { blockSize, typeSize, quantized } = GGML_TYPES[type];
      const nb = quantized ? 5 : 64;
      const bytes = new Uint8Array(nb * typeSize).map(() => {
        s = (s * 1103515245 + 12345) >>> 0;
        return s >>> 24;
      });
      if (!quantized) continue; // the float types' scalar forms run in the embedding tests (odd rows)
      // Finite scales: f16 d (exponent < 31), q8_K's f32 d (exponent < 255).
      const scales: Record<string, number> = { q2_K: 80, q3_K: 108, q6_K: 208, q8_K: 2 };
      for (let b = 0; b < nb; b++)
        bytes[b * typeSize + (scales[type] ?? 0) + 1] &= type === 'q8_K' ? 0x7e : 0x7b;
      const n = nb * blockSize;
      const code = `
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<u32>;
${wgslBlocks([type], { buffer: 'w', prefix: 'w_' })}
${wgslBlocks([type], { common: false })}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= params[0]) { return; }
  let blk = e / ${blockSize}u;
  let i = e % ${blockSize}u;
  let one = w_dq_${type}(blk * ${typeSize}u, i);
  let four = dq4_${type}(blk * ${typeSize}u, i & ~3u)[i & 3u];
  out[e] = select(0xdeadbeefu, bitcast<u32>(one), bitcast<u32>(one) == bitcast<u32>(four));
}`;
      const w = ctx.upload(bytes, 'w');
      const out = ctx.buffer(n * 4, 'out');
      ctx.run(code, [n], [w, out, w], Math.ceil(n / 64));
      const got = await ctx.read(out, n * 4);
      expectBits(type, dequantize(type, bytes, n), new Float32Array(got.buffer, got.byteOffset, n));
      w.destroy();
      out.destroy();
    }
  });
});
