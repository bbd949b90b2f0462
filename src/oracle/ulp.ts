/**
 * Distances in f32 units in the last place. Each f32 maps to an integer key
 * that is monotonic in its value (−x ↦ −key(x)), so the distance is the number
 * of representable f32 values between two numbers: ±0 share key 0, FLT_MAX and
 * +inf are 1 apart, and a float64 reference is first rounded to f32 (a
 * correctly rounded f32 result is then 0 ULP away). NaN has no key: callers
 * count NaN pairs separately.
 */
const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** Ordered integer key of an f32 value (NaN gives a key beyond inf; check isNaN first). */
export function f32Key(x: number): number {
  f32[0] = x;
  const b = i32[0];
  return b < 0 ? 0 - (b & 0x7fffffff) : b;
}

/** |key(a) − key(b)| after rounding both to f32; NaN if either is NaN. */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  return Math.abs(f32Key(a) - f32Key(b));
}

/**
 * The k-th smallest value (0-based) of v, by quickselect; v is reordered.
 * Used for percentiles: nearest rank p → k = ⌈p·n⌉ − 1.
 */
export function selectKth(v: Float64Array, k: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        const t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k];
  }
  return v[k];
}

/** Nearest-rank percentile (p in (0, 1]) of v; v is reordered. */
export function percentile(v: Float64Array, p: number): number {
  if (v.length === 0) return Number.NaN;
  return selectKth(v, Math.max(0, Math.ceil(p * v.length) - 1));
}

/**
 * Exact nearest-rank percentiles of integer ULP distances without keeping
 * them all: distances below 2^16 are counted, larger ones (rare in a passing
 * comparison) listed.
 */
export class UlpHistogram {
  count = 0;
  private readonly small = new Uint32Array(1 << 16);
  private smallCount = 0;
  private large: number[] = [];

  add(d: number): void {
    this.count++;
    if (d < 1 << 16) {
      this.small[d]++;
      this.smallCount++;
    } else this.large.push(d);
  }

  /** Nearest-rank percentile, p in (0, 1]; 0 when empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const k = Math.max(0, Math.ceil(p * this.count) - 1);
    if (k >= this.smallCount) return selectKth(Float64Array.from(this.large), k - this.smallCount);
    let seen = 0;
    for (let d = 0; ; d++) {
      seen += this.small[d];
      if (seen > k) return d;
    }
  }
}
