/**
 * Symmetric INT8 quantizers with calibrate-then-freeze.
 *
 * Quantization of a value x with scale s (one per tensor or per channel):
 *   q = clamp(roundHalfEven(x / s), qmin, 127),   x̂ = q · s
 * qmin is −127 ('narrow', the symmetric range: q and −q both exist) or −128
 * ('full'). x / s is computed in float64 and rounded once; ties (x / s
 * exactly k + ½) go to the even integer (IEEE roundTiesToEven, the rounding
 * of PyTorch's quantize_per_tensor and of cvtps2dq), so ties do not bias the
 * sum of many quantized values. Values beyond the range saturate to ±127 /
 * qmin; NaN is rejected (it has no int8 code).
 *
 * Scales are stored as f32 values (Math.fround): a GPU kernel keeps its scale
 * in f32, so the reference quantizes with the same step.
 *
 * Calibration observes batches (observe()) and picks the clip value c per
 * scale group, s = c / 127:
 * - 'max-abs': c = max |x| over every observed value;
 * - 'percentile': c = the nearest-rank p-th percentile of |x| (the value at
 *   rank ⌈p/100 · n⌉ of the sorted magnitudes), clipping outliers;
 * - 'mse': c = amax · k / N for the k in 1..N that minimizes Σ (x − x̂)² over
 *   every observed value (a tie keeps the larger c: fewer values saturate).
 * A group that saw only zeros gets s = 1 (any step quantizes 0 exactly).
 * Percentile and MSE keep the observed magnitudes (a copy per batch) until
 * freeze(), which computes the scales and drops them: a frozen quantizer
 * never changes its scales, and observe() on it throws.
 *
 * Each quantizer copies its configuration: two quantizers built from one
 * config object share nothing, and mutating the object afterwards changes
 * neither.
 */
import { PlumblineError, ShapeError } from '../errors.js';

export type Int8Calibration =
  | { method: 'max-abs' }
  | { method: 'percentile'; percentile: number }
  | { method: 'mse'; candidates?: number };

export interface Int8QuantizerConfig {
  /** One scale for the whole tensor, or one per channel. */
  granularity: 'per-tensor' | 'per-channel';
  /** Per-channel: data is [rows, cols]; axis 0 = a scale per row (weights' output channels), 1 = per column (features). */
  axis?: 0 | 1;
  /** Per-channel: the number of channels (rows for axis 0, cols for axis 1). */
  channels?: number;
  /** 'narrow' (default): q ∈ [−127, 127]; 'full': q ∈ [−128, 127]. */
  range?: 'narrow' | 'full';
  calibration: Int8Calibration;
}

/** observe() on a frozen quantizer, or quantize() before freeze(). */
export class QuantizerStateError extends PlumblineError {}

/** A value int8 quantization has no code for: NaN (to quantize or to calibrate on). */
export class QuantizerInputError extends PlumblineError {}

export const DEFAULT_MSE_CANDIDATES = 128;

/** Rounds to the nearest integer, ties to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties toward +∞
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** q = clamp(roundHalfEven(x / s), qmin, 127) (see the file comment). */
export function quantizeInt8(x: number, scale: number, qmin = -127): number {
  if (Number.isNaN(x)) throw new QuantizerInputError('int8 quantization of NaN');
  const q = roundHalfEven(x / scale);
  // + 0: an integer code has no −0
  return q > 127 ? 127 : q < qmin ? qmin : q + 0;
}

/** x̂ = q(x)·s, the fake-quantized value. */
export function fakeQuantizeInt8(x: number, scale: number, qmin = -127): number {
  return quantizeInt8(x, scale, qmin) * scale;
}

interface Frozen {
  readonly granularity: 'per-tensor' | 'per-channel';
  readonly axis: 0 | 1;
  readonly channels: number;
  readonly range: 'narrow' | 'full';
  readonly calibration: Readonly<Int8Calibration>;
}

function ownConfig(c: Int8QuantizerConfig): Frozen {
  const granularity = c.granularity;
  if (granularity !== 'per-tensor' && granularity !== 'per-channel')
    throw new ShapeError(
      `Int8Quantizer: granularity must be 'per-tensor' or 'per-channel', got ${granularity}`,
    );
  const channels = granularity === 'per-tensor' ? 1 : (c.channels ?? 0);
  if (!Number.isSafeInteger(channels) || channels < 1)
    throw new ShapeError(`Int8Quantizer: per-channel needs channels ≥ 1, got ${c.channels}`);
  const axis = c.axis ?? 0;
  if (axis !== 0 && axis !== 1) throw new ShapeError(`Int8Quantizer: axis must be 0 or 1, got ${axis}`);
  const range = c.range ?? 'narrow';
  const cal = c.calibration;
  let calibration: Int8Calibration;
  if (cal.method === 'max-abs') calibration = { method: 'max-abs' };
  else if (cal.method === 'percentile') {
    if (!(cal.percentile > 0 && cal.percentile <= 100))
      throw new ShapeError(`Int8Quantizer: percentile must be in (0, 100], got ${cal.percentile}`);
    calibration = { method: 'percentile', percentile: cal.percentile };
  } else if (cal.method === 'mse') {
    const candidates = cal.candidates ?? DEFAULT_MSE_CANDIDATES;
    if (!Number.isSafeInteger(candidates) || candidates < 1)
      throw new ShapeError(`Int8Quantizer: mse candidates must be an integer ≥ 1, got ${cal.candidates}`);
    calibration = { method: 'mse', candidates };
  } else throw new ShapeError(`Int8Quantizer: unknown calibration ${(cal as { method: string }).method}`);
  return Object.freeze({
    granularity,
    axis,
    channels,
    range,
    calibration: Object.freeze(calibration),
  });
}

export class Int8Quantizer {
  readonly config: Frozen;
  private readonly amax: Float64Array;
  /** Observed magnitudes per group (percentile, mse), until freeze(). */
  private samples: number[][] | null;
  private frozenScales: Float32Array | null = null;

  constructor(config: Int8QuantizerConfig) {
    this.config = ownConfig(config);
    this.amax = new Float64Array(this.config.channels);
    this.samples =
      this.config.calibration.method === 'max-abs'
        ? null
        : Array.from({ length: this.config.channels }, () => []);
  }

  /** A frozen quantizer with the given scales (one, or one per channel). */
  static fromScales(
    config: Omit<Int8QuantizerConfig, 'calibration'>,
    scales: ArrayLike<number>,
  ): Int8Quantizer {
    const q = new Int8Quantizer({ ...config, calibration: { method: 'max-abs' } });
    if (scales.length !== q.config.channels)
      throw new ShapeError(
        `Int8Quantizer.fromScales: ${scales.length} scales for ${q.config.channels} groups`,
      );
    const s = Float32Array.from(scales);
    for (const v of s)
      if (!(v > 0 && Number.isFinite(v)))
        throw new ShapeError(`Int8Quantizer.fromScales: scales must be finite and > 0, got ${v}`);
    q.frozenScales = s;
    return q;
  }

  get frozen(): boolean {
    return this.frozenScales !== null;
  }

  get qmin(): number {
    return this.config.range === 'full' ? -128 : -127;
  }

  /** Scale group of element i of a tensor with `cols` columns. */
  private groupOf(i: number, cols: number): number {
    const { granularity, axis } = this.config;
    if (granularity === 'per-tensor') return 0;
    return axis === 0 ? Math.floor(i / cols) : i % cols;
  }

  private cols(n: number, cols: number | undefined): number {
    const { granularity, axis, channels } = this.config;
    if (granularity === 'per-tensor') return cols ?? n;
    const c = axis === 1 ? channels : (cols ?? n / channels);
    const rows = axis === 0 ? channels : n / channels;
    if (!Number.isSafeInteger(c) || !Number.isSafeInteger(rows) || rows * c !== n)
      throw new ShapeError(
        `Int8Quantizer: ${n} values do not form rows of ${channels} channels (axis ${axis})`,
      );
    return c;
  }

  /** Adds one batch of values (a [rows, cols] tensor for per-channel) to the calibration. */
  observe(data: ArrayLike<number>): void {
    if (this.frozen)
      throw new QuantizerStateError('Int8Quantizer: observe() after freeze(): the scales are fixed');
    const cols = this.cols(data.length, undefined);
    for (let i = 0; i < data.length; i++) {
      const v = Math.abs(data[i]);
      if (Number.isNaN(v)) throw new QuantizerInputError('Int8Quantizer: NaN in calibration data');
      const g = this.groupOf(i, cols);
      if (v > this.amax[g]) this.amax[g] = v;
      this.samples?.[g].push(v);
    }
  }

  /** The scales calibration gives now (frozen: the fixed ones). */
  scales(): Float32Array {
    if (this.frozenScales) return this.frozenScales.slice();
    const out = new Float32Array(this.config.channels);
    for (let g = 0; g < out.length; g++) out[g] = this.clip(g) / 127 || 1;
    return out;
  }

  /** Fixes the scales; later observations throw and quantization uses these scales forever. */
  freeze(): Float32Array {
    if (!this.frozenScales) {
      this.frozenScales = this.scales();
      this.samples = null;
    }
    return this.frozenScales.slice();
  }

  private clip(g: number): number {
    const cal = this.config.calibration;
    const amax = this.amax[g];
    if (cal.method === 'max-abs' || amax === 0) return amax;
    const xs = this.samples?.[g] ?? [];
    if (cal.method === 'percentile') {
      const sorted = Float64Array.from(xs).sort();
      const rank = Math.max(1, Math.ceil((cal.percentile / 100) * sorted.length));
      return sorted[rank - 1];
    }
    const n = cal.candidates ?? DEFAULT_MSE_CANDIDATES;
    let best = amax;
    let bestErr = Number.POSITIVE_INFINITY;
    for (let k = n; k >= 1; k--) {
      const c = (amax * k) / n;
      const s = Math.fround(c / 127);
      if (s === 0) break;
      let err = 0;
      // Magnitudes suffice: symmetric quantization is odd in x.
      for (const v of xs) {
        const e = v - fakeQuantizeInt8(v, s, -127);
        err += e * e;
      }
      if (err < bestErr) {
        bestErr = err;
        best = c;
      }
    }
    return best;
  }

  private requireScales(): Float32Array {
    if (!this.frozenScales)
      throw new QuantizerStateError('Int8Quantizer: quantize() before freeze(): calibrate, then freeze');
    return this.frozenScales;
  }

  /** int8 codes of `data` ([rows, cols] for per-channel) with the frozen scales. */
  quantize(data: ArrayLike<number>, cols?: number): Int8Array {
    const s = this.requireScales();
    const c = this.cols(data.length, cols);
    const q = new Int8Array(data.length);
    for (let i = 0; i < data.length; i++) q[i] = quantizeInt8(data[i], s[this.groupOf(i, c)], this.qmin);
    return q;
  }

  /** q · s per element, in float64. */
  dequantize(q: ArrayLike<number>, cols?: number): Float64Array {
    const s = this.requireScales();
    const c = this.cols(q.length, cols);
    const x = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) x[i] = q[i] * s[this.groupOf(i, c)];
    return x;
  }

  /** dequantize(quantize(data)): the values a quantized kernel computes with. */
  fakeQuantize(data: ArrayLike<number>, cols?: number): Float64Array {
    return this.dequantize(this.quantize(data, cols), cols);
  }
}
