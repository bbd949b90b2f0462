import { describe, expect, it } from 'vitest';
import {
  fakeQuantizeInt8,
  Int8Quantizer,
  type Int8QuantizerConfig,
  QuantizerInputError,
  QuantizerStateError,
  quantizeInt8,
  roundHalfEven,
} from '../../src/ops/int8-quantizer.js';

describe('roundHalfEven and quantizeInt8', () => {
  it('rounds ties to the even integer, both signs', () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [-0.5, -0],
      [-1.5, -2],
      [-2.5, -2],
      [126.5, 126],
      [125.5, 126],
      [0.49999999999999994, 0],
      [2.5000000000000004, 3],
      [-2.4999999999999996, -2],
    ];
    for (const [v, r] of cases) expect(roundHalfEven(v)).toBe(r);
  });

  it('values exactly at .5 of a step (x = (k + ½)·s) go to the even code', () => {
    const s = 0.25; // a power of two: (k + ½)·s is exact
    for (let k = -130; k < 130; k++) {
      const x = (k + 0.5) * s;
      const even = k % 2 === 0 ? k : k + 1;
      expect(quantizeInt8(x, s)).toBe(Math.max(-127, Math.min(127, even)));
    }
  });

  it('saturates to [−127, 127] (narrow) and [−128, 127] (full); NaN is rejected', () => {
    expect(quantizeInt8(1e9, 1)).toBe(127);
    expect(quantizeInt8(-1e9, 1)).toBe(-127);
    expect(quantizeInt8(-1e9, 1, -128)).toBe(-128);
    expect(quantizeInt8(Number.POSITIVE_INFINITY, 1)).toBe(127);
    expect(() => quantizeInt8(Number.NaN, 1)).toThrow(QuantizerInputError);
    expect(fakeQuantizeInt8(0.3, 0.25)).toBe(0.25);
  });
});

const maxAbs: Int8QuantizerConfig = { granularity: 'per-tensor', calibration: { method: 'max-abs' } };

describe('Int8Quantizer calibration', () => {
  it('max-abs over several batches: s = fround(amax / 127)', () => {
    const q = new Int8Quantizer(maxAbs);
    q.observe([0.5, -2, 1]);
    q.observe([3.25, -1]);
    expect(q.freeze()[0]).toBe(Math.fround(3.25 / 127));
    expect(Array.from(q.quantize([3.25, -3.25, 0]))).toEqual([127, -127, 0]);
  });

  it('per-channel, axis 0 (rows) and axis 1 (columns)', () => {
    const data = [1, -4, 2, 0.5, 8, -0.25]; // [2, 3]
    const rows = new Int8Quantizer({
      granularity: 'per-channel',
      channels: 2,
      axis: 0,
      calibration: maxAbs.calibration,
    });
    rows.observe(data);
    expect(Array.from(rows.freeze())).toEqual([Math.fround(4 / 127), Math.fround(8 / 127)]);
    const cols = new Int8Quantizer({
      granularity: 'per-channel',
      channels: 3,
      axis: 1,
      calibration: maxAbs.calibration,
    });
    cols.observe(data);
    expect(Array.from(cols.freeze())).toEqual([1, 8, 2].map((v) => Math.fround(v / 127)));
    expect(Array.from(cols.quantize(data))).toEqual([127, -64, 127, 64, 127, -16]);
    expect(() => cols.quantize([1, 2])).toThrow(/channels/);
  });

  it('percentile: nearest rank of |x| across batches', () => {
    const q = new Int8Quantizer({
      granularity: 'per-tensor',
      calibration: { method: 'percentile', percentile: 90 },
    });
    const xs = Array.from({ length: 100 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1));
    q.observe(xs.slice(0, 37));
    q.observe(xs.slice(37));
    expect(q.freeze()[0]).toBe(Math.fround(90 / 127)); // rank 90 of 1..100
  });

  it('mse: the clip with the least squared error over the batches, found by brute force here too', () => {
    const xs: number[] = [];
    let s = 7;
    for (let i = 0; i < 500; i++) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      xs.push((s / 2 ** 31 - 0.5) * 2);
    }
    xs.push(40); // an outlier: max-abs would waste the range on it
    const q = new Int8Quantizer({
      granularity: 'per-tensor',
      calibration: { method: 'mse', candidates: 64 },
    });
    q.observe(xs.slice(0, 200));
    q.observe(xs.slice(200));
    const scale = q.freeze()[0];
    const sse = (sc: number) => xs.reduce((a, x) => a + (x - fakeQuantizeInt8(x, sc)) ** 2, 0);
    for (let k = 1; k <= 64; k++)
      expect(sse(scale)).toBeLessThanOrEqual(sse(Math.fround((40 * k) / 64 / 127)));
    expect(scale).toBeLessThan(40 / 127);
  });

  it('a group that saw only zeros gets scale 1', () => {
    const q = new Int8Quantizer({ granularity: 'per-channel', channels: 2, calibration: { method: 'mse' } });
    q.observe([0, 0, 1, -2]);
    expect(Array.from(q.freeze())[0]).toBe(1);
  });
});

describe('Int8Quantizer freeze and ownership', () => {
  it('a frozen quantizer never changes its scale; quantize() needs freeze()', () => {
    const q = new Int8Quantizer(maxAbs);
    q.observe([1]);
    expect(() => q.quantize([1])).toThrow(QuantizerStateError);
    const s = q.freeze();
    expect(() => q.observe([100])).toThrow(QuantizerStateError);
    expect(q.freeze()).toEqual(s);
    expect(q.scales()).toEqual(s);
    q.scales()[0] = 5; // a copy
    expect(q.scales()).toEqual(s);
  });

  it('two quantizers from one config object share no state; mutating the object changes neither', () => {
    const config: Int8QuantizerConfig = {
      granularity: 'per-channel',
      channels: 2,
      calibration: { method: 'percentile', percentile: 50 },
    };
    const a = new Int8Quantizer(config);
    const b = new Int8Quantizer(config);
    a.observe([1, 2, 3, 4, 5, 6]);
    expect(Array.from(b.scales())).toEqual([1, 1]); // b saw nothing
    b.observe([10, 20, 30, 40]);
    expect(Array.from(a.scales())).toEqual([2, 5].map((v) => Math.fround(v / 127)));
    config.channels = 3;
    config.granularity = 'per-tensor';
    (config.calibration as { percentile: number }).percentile = 100;
    expect(a.config.channels).toBe(2);
    expect(b.config.calibration).toEqual({ method: 'percentile', percentile: 50 });
    expect(Array.from(a.freeze())).toEqual([2, 5].map((v) => Math.fround(v / 127)));
    expect(Array.from(b.freeze())).toEqual([10, 30].map((v) => Math.fround(v / 127)));
    expect(Object.isFrozen(a.config)).toBe(true);
  });

  it('fromScales builds a frozen quantizer and validates the scales', () => {
    const q = Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [0.5]);
    expect(q.frozen).toBe(true);
    expect(Array.from(q.fakeQuantize([0.75, -0.25, 100]))).toEqual([1, 0, 63.5]);
    expect(() => Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [0])).toThrow();
  });
});
