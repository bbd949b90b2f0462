/**
 * Scalar f32 helpers that reproduce C `float` arithmetic and conversions bit for bit.
 *
 * ggml's reference quantizers run in f32 without FMA contraction. A single +, -, *, / or sqrt
 * computed in double and then rounded with Math.fround equals the f32 operation (double has more
 * than 2·24+2 bits), so every f32 result in src/quant is wrapped in `f32(...)`.
 */

/** Round a double to the nearest f32 (C's implicit float conversion). */
export const f32 = Math.fround;

const scratchF32 = new Float32Array(1);
const scratchI32 = new Int32Array(scratchF32.buffer);

/** 1.5·2^23: adding it to |v| ≤ 2^22 leaves round-half-even(v) in the low mantissa bits. */
const MAGIC = 12582912;

/**
 * ggml's `nearest_int`: add 12582912.0f in f32 and read the mantissa, i.e. round half to even for
 * |v| ≤ 4194303. Outside that range C asserts; this returns the same bits C would.
 */
export function nearestInt(v: number): number {
  const t = Math.fround(v + MAGIC);
  // In [2^23, 2^24) the mantissa bits are t − 2^23, so skip the bit read.
  if (t >= 8388608 && t < 16777216) return t - MAGIC;
  scratchF32[0] = t;
  return (scratchI32[0] & 0x007fffff) - 0x00400000;
}

/** C `roundf`: nearest integer, halves away from zero (Math.round sends -2.5 to -2). */
export function roundfAwayFromZero(v: number): number {
  const r = Math.round(Math.abs(v));
  return v < 0 ? -r : r;
}

/**
 * C `(int8_t)v` for a float v (also the low byte of `(uint8_t)v`): truncation toward zero, then the
 * low 8 bits as a signed value. NaN or values beyond int32 are undefined behaviour in C; this follows
 * x86 `cvttss2si`, whose 0x80000000 result has a zero low byte.
 */
export function truncToInt8(v: number): number {
  // Within int32 range, `v << 24` truncates toward zero (ToInt32) and keeps the low byte.
  return Math.abs(v) < 2147483648 ? (v << 24) >> 24 : 0;
}
