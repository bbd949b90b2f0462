import { afterAll, describe, expect, it } from 'vitest';
import { referenceMatmul } from '../../src/backends/reference/matmul.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ShapeError, SizeError, UnsupportedTypeError } from '../../src/errors.js';
import { dequantize } from '../../src/ops/dequantize.js';
import { quantize } from '../../src/ops/quantize.js';
import { dotBound, UNIT_ROUNDOFF } from '../../src/oracle/tiers.js';
import { GGML_TYPES, type GgmlTypeName } from '../../src/types/ggml-types.js';

function signal(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return new Float32Array(n).map(() => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** Weight bytes of a type for f32 values (f32: the values themselves). */
function weightBytes(type: string, w: Float32Array): Uint8Array {
  return type === 'f32' ? new Uint8Array(w.buffer.slice(0)) : quantize(type, w);
}

/** One engine per configuration for the whole file (worker pools take time to start). */
const engines = new Map<string, Promise<Engine>>();
afterAll(async () => {
  for (const e of engines.values()) await (await e).dispose();
});
function engine(opts: Parameters<typeof createEngine>[0]): Promise<Engine> {
  const key = JSON.stringify(opts);
  let e = engines.get(key);
  if (!e) engines.set(key, (e = createEngine(opts)));
  return e;
}

const TYPES = ['f32', 'f16', 'bf16', 'q4_0', 'q8_0', 'q4_K', 'q6_K', 'iq4_xs'];

describe('engine.matmul against the float64 reference (f32 tier bound)', () => {
  for (const type of TYPES) {
    for (const numerics of ['exact', 'ggml'] as const) {
      it(`${type} ${numerics}: M = 1, 3, 9; N = 37; K = 512`, async () => {
        const wasm = await engine({ backend: 'wasm', threads: 2 });
        const ref = await engine({ backend: 'reference' });
        const K = 512;
        const N = 37;
        const wv = signal(N * K, 7);
        const bytes = weightBytes(type, wv);
        const wq = dequantize(type, bytes, N * K);
        for (const M of [1, 3, 9]) {
          const xv = signal(M * K, M);
          const [a, r] = await Promise.all(
            [wasm, ref].map(async (e) => {
              const y = await e.matmul(e.tensor(xv, [M, K]), e.tensor(bytes, [N, K], type), { numerics });
              return y.read();
            }),
          );
          // Bound magnitude from the values the reference multiplied (ggml: x through the vec_dot type).
          const vdt = GGML_TYPES[type as GgmlTypeName].vecDotType ?? 'f32';
          const xr = numerics === 'ggml' ? dequantize(vdt, weightBytes(vdt, xv), M * K) : xv;
          const { y, magnitude } = referenceMatmul(xr, wq, M, N, K);
          for (let i = 0; i < M * N; i++) {
            const bound = dotBound(K, UNIT_ROUNDOFF.f32, magnitude[i]);
            if (!(Math.abs(a[i] - y[i]) <= bound)) {
              expect.fail(
                `${type} ${numerics} M=${M} y[${i}]: wasm ${a[i]} vs float64 ${y[i]} (bound ${bound})`,
              );
            }
            if (!(Math.abs(r[i] - y[i]) <= Math.abs(y[i]) * 2 ** -24))
              expect.fail(`reference engine y[${i}]`);
          }
        }
      });
    }
  }
});

describe('engine.matmul is bit-identical for 1, 2, 3 and 4 threads', () => {
  it('f32, q4_K, q8_0 (exact and ggml), M = 1 and 5', async () => {
    const K = 256;
    const N = 29;
    const results = new Map<string, Float32Array>();
    for (const threads of [1, 2, 3, 4]) {
      const e = await engine({ backend: 'wasm', threads });
      for (const type of ['f32', 'q4_K', 'q8_0']) {
        const w = e.tensor(weightBytes(type, signal(N * K, 3)), [N, K], type);
        for (const numerics of ['exact', 'ggml'] as const) {
          for (const M of [1, 5]) {
            const y = await (await e.matmul(e.tensor(signal(M * K, 11), [M, K]), w, { numerics })).read();
            const key = `${type}/${numerics}/${M}`;
            const first = results.get(key);
            if (!first) results.set(key, y);
            else
              expect(
                Buffer.from(y.buffer).equals(Buffer.from(first.buffer)),
                `${key} threads=${threads}`,
              ).toBe(true);
          }
        }
      }
    }
  });
});

describe('engine API', () => {
  it('reports its backend and threads', async () => {
    const e = await engine({ backend: 'wasm', threads: 2 });
    expect(e.backend).toMatch(/^wasm-(relaxed-)?simd$/);
    expect(e.threads).toBe(2);
    expect((await engine({ backend: 'reference' })).backend).toBe('reference');
  });

  it('typed errors before any work: shapes, types, sizes', async () => {
    const e = await engine({ backend: 'wasm', threads: 1 });
    const x = e.tensor(new Float32Array(64), [2, 32]);
    await expect(e.matmul(x, e.tensor(new Float32Array(64), [1, 64]))).rejects.toThrow(ShapeError);
    await expect(e.matmul(x, e.tensor(new Float32Array(64), [1, 64]))).rejects.toThrow(
      /inner dimensions K differ/,
    );
    await expect(e.matmul(e.tensor(new Uint8Array(18), [1, 32], 'q4_0'), x)).rejects.toThrow(
      UnsupportedTypeError,
    );
    expect(() => e.tensor(new Uint8Array(17), [1, 32], 'q4_0')).toThrow(SizeError);
    expect(() => e.tensor(new Uint8Array(18), [1, 30], 'q4_0')).toThrow(/multiple of 32/);
  });

  it('tensors read back what was stored; disposed tensors are refused', async () => {
    const e = await engine({ backend: 'wasm', threads: 1 });
    const v = signal(256, 5);
    const q = quantize('q4_K', v);
    const t = e.tensor(q, [1, 256], 'q4_K');
    expect(await t.readBytes()).toEqual(q);
    expect(await t.read()).toEqual(dequantize('q4_K', q, 256));
    t.dispose();
    await expect(t.read()).rejects.toThrow(/after dispose/);
  });
});
