/** attention's semantics (validation, defaults, visible ranges) and the KV cache. */
import { describe, expect, it } from 'vitest';
import { ContextOverflowError, ShapeError, UnsupportedTypeError } from '../../src/errors.js';
import { defaultScale, kvHeadOf, validateAttention, visibleRange } from '../../src/ops/attention.js';
import { arrayKvMemory, KvCache } from '../../src/ops/kv-cache.js';
import { f16ToF32, f32ToF16 } from '../../src/types/half.js';

const op = (shape: number[], name = 'f32') => ({ shape, type: { name } });

describe('validateAttention', () => {
  const q = op([3, 8, 64]);
  const kv = op([10, 2, 64]);

  it('returns the dimensions with defaults', () => {
    const d = validateAttention(q, kv, kv);
    expect(d).toMatchObject({ nQ: 3, nKv: 10, nHead: 8, nHeadKv: 2, headDim: 64, causal: true, window: 0 });
    expect(d.numerics).toBe('exact');
    expect(d.kvType).toBe('f32');
    expect([...d.positions]).toEqual([7, 8, 9]);
    expect(d.scale).toBe(0.125);
    expect(d.scores || d.softmax).toBe(false);
    expect(kvHeadOf(d, 3)).toBe(0);
    expect(kvHeadOf(d, 4)).toBe(1);
  });

  it('takes the scale as an f32, by default as llama.cpp computes 1/sqrtf(head_dim)', () => {
    expect(defaultScale(128)).toBe(Math.fround(1 / Math.fround(Math.sqrt(128))));
    expect(validateAttention(q, kv, kv, { scale: 0.1 }).scale).toBe(Math.fround(0.1));
  });

  it('visible ranges: causal, window, not causal', () => {
    const d = validateAttention(q, kv, kv, { positions: [0, 4, 20] });
    expect([0, 4, 20].map((p) => visibleRange(d, p))).toEqual([
      [0, 1],
      [0, 5],
      [0, 10],
    ]);
    const w = validateAttention(q, kv, kv, { positions: [0, 4, 20], window: 3 });
    expect([0, 4, 20].map((p) => visibleRange(w, p))).toEqual([
      [0, 1],
      [2, 5],
      [18, 10],
    ]);
    const nc = validateAttention(q, kv, kv, { causal: false });
    expect(visibleRange(nc, 0)).toEqual([0, 10]);
  });

  it('rejects bad shapes, types and options with typed errors', () => {
    expect(() => validateAttention(op([3, 8 * 64]), kv, kv)).toThrow(ShapeError);
    expect(() => validateAttention(q, op([10, 3, 64]), op([10, 3, 64]))).toThrow(/multiple/);
    expect(() => validateAttention(q, op([10, 2, 32]), op([10, 2, 32]))).toThrow(/head dims differ/);
    expect(() => validateAttention(q, kv, op([11, 2, 64]))).toThrow(/v must have k's shape/);
    expect(() => validateAttention(op([3, 8, 64], 'f16'), kv, kv)).toThrow(UnsupportedTypeError);
    expect(() => validateAttention(q, op([10, 2, 64], 'q8_0'), op([10, 2, 64], 'q8_0'))).toThrow(
      UnsupportedTypeError,
    );
    expect(() => validateAttention(q, op([10, 2, 64], 'f16'), kv)).toThrow(/same type/);
    expect(() => validateAttention(q, kv, kv, { numerics: 'fast' as never })).toThrow(/numerics/);
    expect(() => validateAttention(q, kv, kv, { positions: [1, 2] })).toThrow(/positions has 2/);
    expect(() => validateAttention(q, kv, kv, { positions: [1, -2, 3] })).toThrow(/positions\[1\]/);
    expect(() => validateAttention(q, kv, kv, { positions: [1, 2.5, 3] })).toThrow(ShapeError);
    expect(() => validateAttention(q, kv, kv, { window: 0 })).toThrow(/window/);
    expect(() => validateAttention(q, kv, kv, { window: 4, causal: false })).toThrow(/causal/);
    expect(() => validateAttention(q, kv, kv, { scale: Number.POSITIVE_INFINITY })).toThrow(/scale/);
    expect(() => validateAttention(q, kv, kv, { scale: 1e39 })).toThrow(/scale/);
  });
});

describe('KvCache', () => {
  const opts = { nLayer: 2, nCtx: 8, nHeadKv: 2, headDim: 3 };
  const rows = (n: number, base: number) => Float32Array.from({ length: n * 6 }, (_, i) => base + i * 0.1);

  it('appends at positions, reads back, rewrites from a position', () => {
    const c = new KvCache(arrayKvMemory(), opts);
    c.write(0, 0, rows(3, 1), rows(3, -1));
    c.write(0, 3, rows(2, 5), rows(2, -5));
    expect(c.length(0)).toBe(5);
    expect(c.length(1)).toBe(0);
    const { k, v } = c.read(0);
    expect([...k]).toEqual([...rows(3, 1), ...rows(2, 5)]);
    expect([...v.subarray(18)]).toEqual([...rows(2, -5)]);
    // Writing at an earlier position drops what followed.
    c.write(0, 1, rows(1, 9), rows(1, -9));
    expect(c.length(0)).toBe(2);
    expect([...c.read(0).k.subarray(6)]).toEqual([...rows(1, 9)]);
    expect(() => c.write(0, 4, rows(1, 0), rows(1, 0))).toThrow(/gap/);
    c.clear();
    expect(c.length(0)).toBe(0);
    c.dispose();
    expect(() => c.length(0)).toThrow(/dispose/);
  });

  it('throws ContextOverflowError past n_ctx, before writing', () => {
    const c = new KvCache(arrayKvMemory(), opts);
    c.write(1, 0, rows(6, 0), rows(6, 0));
    const e = (() => {
      try {
        c.write(1, 6, rows(3, 1), rows(3, 1));
      } catch (err) {
        return err as ContextOverflowError;
      }
    })();
    expect(e).toBeInstanceOf(ContextOverflowError);
    expect(e?.position).toBe(8);
    expect(e?.nCtx).toBe(8);
    expect(c.length(1)).toBe(6);
    c.write(1, 6, rows(2, 1), rows(2, 1));
    expect(c.length(1)).toBe(8);
  });

  it('f16 storage rounds to nearest even and widens exactly', () => {
    const c = new KvCache(arrayKvMemory(), { ...opts, type: 'f16' });
    const k = Float32Array.from({ length: 12 }, (_, i) => Math.PI * (i - 6) * 1e-3 + 1 / 3);
    c.write(0, 0, k, k);
    expect([...c.read(0).k]).toEqual([...k].map((x) => f16ToF32(f32ToF16(x))));
    expect(c.layerBytes).toBe(8 * 6 * 2);
  });

  it('rejects bad options and shapes', () => {
    expect(() => new KvCache(arrayKvMemory(), { ...opts, nCtx: 0 })).toThrow(ShapeError);
    expect(() => new KvCache(arrayKvMemory(), { ...opts, type: 'q8_0' as never })).toThrow(/type/);
    const c = new KvCache(arrayKvMemory(), opts);
    expect(() => c.write(0, 0, new Float32Array(5), new Float32Array(5))).toThrow(ShapeError);
    expect(() => c.write(2, 0, rows(1, 0), rows(1, 0))).toThrow(/layer 2/);
    expect(() => c.read(0, 1)).toThrow(/holds 0/);
  });
});
