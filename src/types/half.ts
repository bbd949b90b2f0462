/**
 * Scalar IEEE half (f16) and bfloat16 conversions with ggml's exact semantics
 * (ggml-facts.md, "Conversions and rounding"). These are the reference
 * definitions; the wasm kernels implement the same bits.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function bitsToF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/**
 * f16 bits → f32 bits, exact for every pattern (subnormals, ±inf). A NaN
 * keeps its payload and gains the quiet bit, as x86 and ggml produce.
 */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) {
    const nanQuiet = em > 0x7c00 ? 0x400000 : 0;
    return (sign | 0x7f800000 | nanQuiet | ((em & 0x3ff) << 13)) >>> 0;
  }
  // Normal and subnormal halves: the exponent rebias is a multiplication by 2^112, exact in f32.
  return (f32ToBits(bitsToF32(em << 13) * 5.192296858534828e33) | sign) >>> 0;
}

/** f16 bits → f32 value (see f16ToF32Bits). */
export function f16ToF32(h: number): number {
  return bitsToF32(f16ToF32Bits(h));
}

/**
 * f32 value → f16 bits, IEEE round-to-nearest-even, overflow to ±inf, every
 * NaN to sign|0x7e00 (ggml_fp32_to_fp16_row).
 */
export function f32ToF16(x: number): number {
  const bits = f32ToBits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7c00;
  // Unbiased exponent relative to f16: e16 = exp - 127 + 15.
  const e16 = exp - 112;
  if (e16 >= 0x1f) return sign | 0x7c00;
  if (e16 <= 0) {
    // Result is an f16 subnormal (or zero): value = full_mant * 2^(exp-150), f16 ulp is 2^-24.
    if (e16 < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = mant | 0x800000;
    const shift = 14 - e16; // 126 - exp
    const q = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    const up = rem > half || (rem === half && (q & 1) === 1) ? 1 : 0;
    return sign | (q + up);
  }
  const q = (e16 << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  const up = rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1) ? 1 : 0;
  // A carry out of the mantissa correctly bumps the exponent (and reaches inf at the top).
  return sign | (q + up);
}

/** bf16 bits → f32 value (exact: the upper 16 bits of an f32). */
export function bf16ToF32(h: number): number {
  return bitsToF32((h & 0xffff) << 16);
}

/** f32 value → bf16 bits: round to nearest even; NaN → (bits >> 16) | 0x40 (ggml_fp32_to_bf16). */
export function f32ToBf16(x: number): number {
  const u = f32ToBits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
