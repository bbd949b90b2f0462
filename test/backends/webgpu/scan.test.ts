/**
 * engine.scan on WebGPU against the float64 reference: both methods within
 * γ(2t + 3, 2^-23)·m_t + (2t + 3)·2^-126 (src/backends/webgpu/ops/scan.ts:
 * two unfused roundings per step, 1 ULP each since WGSL fixes no rounding
 * mode). On SwiftShader (x86: round to nearest even, no flushing at these
 * magnitudes) the results are additionally the wasm kernels' bits — an
 * observed property of that device, asserted only there.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { referenceLinearScan } from '../../../src/backends/reference/scan.js';
import { gpuScanMethod } from '../../../src/backends/webgpu/ops/scan.js';
import { createEngine, type Engine } from '../../../src/engine/engine.js';
import { linearScanBound } from '../../../src/ops/scan.js';
import { WGSL_F32 } from '../../../src/oracle/arithmetic.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { rng, uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();
/** SwiftShader (x86 SSE: round to nearest even; no flushing at these magnitudes; it does not fuse a·b + c). */
const SWIFTSHADER = /swiftshader/i.test(gpu?.device.description ?? '');

/** a_t = ±(0.9 … 1): the state remembers far back, so carries matter. */
function decays(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.2 ? -1 : 1) * (0.9 + 0.1 * r()));
}

function bits(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

describe.skipIf(!gpu)('scan on WebGPU', () => {
  const e = gpu!;
  let cpu: Engine;
  afterAll(async () => {
    await cpu?.dispose();
    await e.dispose();
  });

  async function run(
    engine: Engine,
    a: Float32Array,
    b: Float32Array,
    h0: Float32Array | null,
    T: number,
    D: number,
    method: 'sequential' | 'chunked' | 'auto',
  ) {
    const ts = [engine.tensor(a, [T, D]), engine.tensor(b, [T, D]), h0 ? engine.tensor(h0, [D]) : null];
    const h = await engine.scan(ts[0]!, ts[1]!, ts[2], { method });
    const out = await h.read();
    for (const t of [...ts, h]) t?.dispose();
    return out;
  }

  function failures(
    h: Float32Array,
    a: Float32Array,
    b: Float32Array,
    h0: Float32Array | null,
    T: number,
    D: number,
  ) {
    const ref = referenceLinearScan(a, b, h0, T, D);
    const out: string[] = [];
    for (let i = 0; i < T * D && out.length < 3; i++) {
      const t = Math.floor(i / D);
      const bound = linearScanBound(t, ref.magnitude[i], WGSL_F32);
      if (!(Math.abs(h[i] - ref.h[i]) <= bound))
        out.push(`h[${t}, ${i % D}] = ${h[i]}, reference ${ref.h[i]}, bound ${bound}`);
    }
    return out;
  }

  const CASES: [number, number][] = [
    [1, 7],
    [37, 5],
    [200, 64],
    [1000, 3],
    [3000, 33],
  ];

  it('sequential and chunked within the derived bound of the float64 reference, with and without h0', async () => {
    for (const [T, D] of CASES)
      for (const withH0 of [true, false]) {
        const a = decays(T * D, T + D);
        const b = uniform(T * D, T * D + 1);
        const h0 = withH0 ? uniform(D, D, 4) : null;
        for (const method of ['sequential', 'chunked'] as const) {
          const h = await run(e, a, b, h0, T, D, method);
          expect(failures(h, a, b, h0, T, D), `${method} T ${T} D ${D}`).toEqual([]);
        }
      }
  });

  it.skipIf(!SWIFTSHADER)('on SwiftShader: the wasm kernels’ bits (sequential and chunked)', async () => {
    cpu = await createEngine({ backend: 'wasm', threads: 1, wasmBuild: 'wasm-simd' });
    for (const [T, D] of CASES) {
      const a = decays(T * D, T);
      const b = uniform(T * D, D);
      const h0 = uniform(D, 3, 2);
      for (const method of ['sequential', 'chunked'] as const) {
        const g = await run(e, a, b, h0, T, D, method);
        const c = await run(cpu, a, b, h0, T, D, method);
        expect(bits(g), `${method} T ${T} D ${D}`).toEqual(bits(c));
      }
    }
  });

  it('chunk 0 of the chunked scan equals the sequential scan bit for bit; auto picks by shape; runs on the GPU', async () => {
    const T = 2048;
    const D = 8;
    const a = decays(T * D, 1);
    const b = uniform(T * D, 2);
    const s = await run(e, a, b, null, T, D, 'sequential');
    const c = await run(e, a, b, null, T, D, 'chunked');
    const L = Math.ceil(T / 64);
    expect(bits(c.subarray(0, L * D))).toEqual(bits(s.subarray(0, L * D)));
    expect(gpuScanMethod(T, D)).toBe('chunked');
    expect(gpuScanMethod(T, 16384)).toBe('sequential');
    expect(gpuScanMethod(50, D)).toBe('sequential');
    expect(bits(await run(e, a, b, null, T, D, 'auto'))).toEqual(bits(c));
    const empty = await run(e, new Float32Array(0), new Float32Array(0), null, 0, 4, 'chunked');
    expect(empty.length).toBe(0);
    expect(e.opReport().scan.cpu).toBe(0);
  });
});
