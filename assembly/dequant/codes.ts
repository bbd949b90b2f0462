// The integer layer of every ggml block format: where each element's code and
// each sub-block's scale sit in a block's bytes (ggml dequantize_row_*). A
// block's value is element = scale·(code − zero point) (− min), so the f32
// decoders (legacy.ts, kquants.ts) and the integer dot kernels
// (assembly/matmul/quant-ggml.ts) both read the formats only through here.
//
// Elements come in groups of 16 consecutive values, one i8x16 each.
//   32-element blocks: group h = 0 holds elements 0..15, h = 1 elements 16..31.
//   256-element super-blocks: group g (0..15) holds elements 16g..16g+15; a
//   per-16 scale (q2_K, q3_K, q6_K) is scale g, a per-32 scale (q4_K, q5_K,
//   iq4_xs) is scale g >> 1.
// Codes are unsigned (0..2^bits−1) except q8's and the iq4 codebook values.
//
// The `_at(..., part)` decoders give the same codes at either lane width: part −1 the 16
// codes as bytes (i8x16), part 0 / 1 codes 0..7 / 8..15 of the group as i16x8 (the bytes
// loaded with v128.load8x8, zero-extended, or sign-extended for q8's signed codes), ready for
// i32x4.dot_i16x8_s. The bit recipes work on either: masks are per byte and the wide lanes'
// high bytes are zero, and shifts use the matching lane width.

/** iq4_nl's 16-entry non-linear codebook (kvalues_iq4nl). */
export const IQ4NL_VALUES: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

/** Low (h = 0) or high (h = 1) nibbles of 16 bytes. */
@inline
export function nibbles(b: v128, h: i32): v128 {
  return h == 0 ? v128.and(b, i8x16.splat(0x0f)) : i8x16.shr_u(b, 4);
}

/** The 16 bytes at p (part −1), or bytes 8·part..8·part+7 zero-extended to i16 (part 0, 1). */
@inline
export function load_bytes(p: usize, part: i32): v128 {
  if (part < 0) return v128.load(p);
  return v128.load8x8_u(p + (<usize>part << 3));
}

/** Like load_bytes for signed bytes (sign-extended when wide). */
@inline
function load_sbytes(p: usize, part: i32): v128 {
  if (part < 0) return v128.load(p);
  return v128.load8x8_s(p + (<usize>part << 3));
}

/**
 * Shifts by whole i16 lanes, for either width: on 16 bytes the bits that cross into the
 * neighbouring byte are always cleared by the byte mask that follows (x86 has no byte shifts,
 * so this is one instruction instead of a shift and a mask).
 */
@inline
function shr(v: v128, n: u32): v128 {
  return i16x8.shr_u(v, n);
}

@inline
function shl(v: v128, n: u32): v128 {
  return i16x8.shl(v, n);
}

/** Low (h = 0) or high (h = 1) nibbles of load_bytes' result at either width. */
@inline
function nibbles_at(b: v128, h: i32, part: i32): v128 {
  if (h == 0) return v128.and(b, i8x16.splat(0x0f));
  return part < 0 ? i8x16.shr_u(b, 4) : i16x8.shr_u(b, 4);
}

/** Elements 8·part..8·part+7 of a 16-element group as i16x8 from its 16 narrow codes. */
@inline
function widen_part(c: v128, part: i32): v128 {
  if (part < 0) return c;
  return part == 0 ? i16x8.extend_low_i8x16_s(c) : i16x8.extend_high_i8x16_s(c);
}

/** The 16 bytes (0x10 or 0) that qh's bits [16h, 16h+16) contribute as each element's 5th bit. */
@inline
function fifth_bits(qh: u32, h: i32): v128 {
  const bytes = i8x16.swizzle(
    i32x4.splat(qh),
    h == 0 ? i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) : i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
  );
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(bytes, bit), bit), i8x16.splat(0x10));
}

// ---------------------------------------------------------------- 32-element blocks
// Byte layouts: q4_0 d, qs[16] · q4_1 d, m, qs[16] · q5_0 d, qh:u32, qs[16] ·
// q5_1 d, m, qh:u32, qs[16] · q8_0 d, qs[32] · q8_1 d, s, qs[32] · iq4_nl d, qs[16]
// (d, m, s: f16).

/** q4_0: value = d·(code − 8). */
export const Q4_0_ZERO: i32 = 8;
@inline
export function q4_0_codes(b: usize, h: i32): v128 {
  return q4_0_codes_at(b, h, -1);
}
@inline
export function q4_0_codes_at(b: usize, h: i32, part: i32): v128 {
  return nibbles_at(load_bytes(b + 2, part), h, part);
}

/** q4_1: value = d·code + m. */
@inline
export function q4_1_codes(b: usize, h: i32): v128 {
  return q4_1_codes_at(b, h, -1);
}
@inline
export function q4_1_codes_at(b: usize, h: i32, part: i32): v128 {
  return nibbles_at(load_bytes(b + 4, part), h, part);
}

/** q5_0: value = d·(code − 16). */
export const Q5_0_ZERO: i32 = 16;
@inline
export function q5_0_codes(b: usize, h: i32): v128 {
  return v128.or(nibbles(v128.load(b, 6), h), fifth_bits(load<u32>(b, 2), h));
}
@inline
export function q5_0_codes_at(b: usize, h: i32, part: i32): v128 {
  return widen_part(q5_0_codes(b, h), part);
}

/** q5_1: value = d·code + m. */
@inline
export function q5_1_codes(b: usize, h: i32): v128 {
  return v128.or(nibbles(v128.load(b, 8), h), fifth_bits(load<u32>(b, 4), h));
}
@inline
export function q5_1_codes_at(b: usize, h: i32, part: i32): v128 {
  return widen_part(q5_1_codes(b, h), part);
}

/** q8_0 (signed codes): value = d·q. q8_1 is the same at qs offset 4. */
@inline
export function q8_0_codes(b: usize, h: i32): v128 {
  return v128.load(b + 2 + (<usize>h << 4));
}
@inline
export function q8_1_codes(b: usize, h: i32): v128 {
  return v128.load(b + 4 + (<usize>h << 4));
}
@inline
export function q8_0_codes_at(b: usize, h: i32, part: i32): v128 {
  return load_sbytes(b + 2 + (<usize>h << 4), part);
}

/** iq4_nl (signed codebook values): value = d·kvalues[nibble]. */
@inline
export function iq4_nl_values(b: usize, h: i32): v128 {
  return i8x16.swizzle(IQ4NL_VALUES, nibbles(v128.load(b, 2), h));
}
@inline
export function iq4_nl_values_at(b: usize, h: i32, part: i32): v128 {
  return widen_part(iq4_nl_values(b, h), part);
}

// ---------------------------------------------------------------- 256-element super-blocks

/**
 * q2_K (84 bytes: scales[16], qs[64], d, dmin): value = d·(sc & 15)·code − dmin·(sc >> 4),
 * sc = scales[g]. Group g = 8·half + 2·j + l takes bits 2j..2j+1 of qs[32·half + 16·l + i].
 */
@inline
export function q2_K_codes(b: usize, g: i32): v128 {
  return q2_K_codes_at(b, g, -1);
}
@inline
export function q2_K_codes_at(b: usize, g: i32, part: i32): v128 {
  const q = load_bytes(b + 16 + ((<usize>g >> 3) << 5) + ((<usize>g & 1) << 4), part);
  return v128.and(shr(q, <u32>(g & 6)), i8x16.splat(3));
}
/** q2_K's 16 scale bytes: low nibble the scale, high nibble the min. */
@inline
export function q2_K_scales(b: usize): v128 {
  return v128.load(b);
}
export const Q2_K_D: usize = 80;
export const Q2_K_DMIN: usize = 82;

/**
 * q3_K (110 bytes: hmask[32], qs[64], scales[12], d): value = d·(sc − 32)·(code − 4); the
 * code's low two bits are q2_K's, its third bit is bit 4·half + j of hmask[16·l + i].
 */
export const Q3_K_ZERO: i32 = 4;
@inline
export function q3_K_codes(b: usize, g: i32): v128 {
  return q3_K_codes_at(b, g, -1);
}
@inline
export function q3_K_codes_at(b: usize, g: i32, part: i32): v128 {
  const low = v128.and(shr(load_bytes(b + 32 + ((<usize>g >> 3) << 5) + ((<usize>g & 1) << 4), part), <u32>(g & 6)), i8x16.splat(3));
  const hm = load_bytes(b + ((<usize>g & 1) << 4), part);
  const high = v128.and(shr(hm, <u32>(((g >> 3) << 2) | ((g >> 1) & 3))), i8x16.splat(1));
  return v128.or(low, shl(high, 2));
}
/** q3_K's 16 six-bit scales (biased by 32), unpacked from 12 bytes, one per byte. */
@inline
export function q3_K_scales(b: usize): v128 {
  const a0 = load<u32>(b, 96);
  const a1 = load<u32>(b, 100);
  const tmp = load<u32>(b, 104);
  const k1: u32 = 0x03030303;
  const k2: u32 = 0x0f0f0f0f;
  return i32x4(
    (a0 & k2) | (((tmp >> 0) & k1) << 4),
    (a1 & k2) | (((tmp >> 2) & k1) << 4),
    ((a0 >> 4) & k2) | (((tmp >> 4) & k1) << 4),
    ((a1 >> 4) & k2) | (((tmp >> 6) & k1) << 4),
  );
}
/** q3_K's scale of group g (biased by 32) as a scalar: the lane g of q3_K_scales. */
@inline
export function q3_K_scale(b: usize, g: i32): i32 {
  const i = <usize>g & 3;
  const q = g >> 2;
  const low = (<i32>load<u8>(b + 96 + (<usize>(q & 1) << 2) + i) >> ((q >> 1) << 2)) & 0xf;
  return low | (((<i32>load<u8>(b + 104 + i) >> (q << 1)) & 3) << 4);
}
export const Q3_K_SCALE_ZERO: i32 = 32;
export const Q3_K_D: usize = 108;

/**
 * q4_K / q5_K scales: ggml's get_scale_min_k4 for all eight sub-blocks at once, from the 12
 * bytes at p: bytes 0..7 of the result are the 6-bit scales, bytes 8..15 the 6-bit mins.
 */
@inline
export function k4_scales_mins(p: usize): v128 {
  const a0 = load<u32>(p);
  const a1 = load<u32>(p, 4);
  const a2 = load<u32>(p, 8);
  const low6: u32 = 0x3f3f3f3f;
  const low4: u32 = 0x0f0f0f0f;
  const top2: u32 = 0x03030303;
  return i32x4(
    a0 & low6,
    (a2 & low4) | (((a0 >> 6) & top2) << 4),
    a1 & low6,
    ((a2 >> 4) & low4) | (((a1 >> 6) & top2) << 4),
  );
}

/** q4_K / q5_K: the 6-bit scale (min: false) or min (min: true) of sub-block s, as a scalar. */
@inline
export function k4_scale(p: usize, s: i32, min: bool): i32 {
  const o: usize = min ? 4 : 0;
  if (s < 4) return <i32>load<u8>(p + o + <usize>s) & 63;
  const packed = <i32>load<u8>(p + 4 + <usize>s);
  const low = min ? packed >> 4 : packed & 0xf;
  return low | ((<i32>load<u8>(p + o + <usize>(s - 4)) >> 6) << 4);
}

/**
 * q4_K (144 bytes: d, dmin, scales[12], qs[128]): value = d·sc·code − dmin·m for sub-block
 * s = g >> 1. Sub-blocks 2j and 2j+1 are the low and high nibbles of qs[32j..32j+32).
 */
@inline
export function q4_K_codes(b: usize, g: i32): v128 {
  return q4_K_codes_at(b, g >> 2, (g >> 1) & 1, g & 1, -1);
}
/** The same with the group split as g = 4j + 2h + l (run j, nibble h, byte half l). */
@inline
export function q4_K_codes_at(b: usize, j: i32, h: i32, l: i32, part: i32): v128 {
  return nibbles_at(load_bytes(b + 16 + (<usize>j << 5) + (<usize>l << 4), part), h, part);
}
export const Q4_K_SCALES: usize = 4;

/** q5_K (176 bytes: d, dmin, scales[12], qh[32], qs[128]): q4_K's code plus bit s of qh[16·l + i] as bit 4. */
@inline
export function q5_K_codes(b: usize, g: i32): v128 {
  return q5_K_codes_at(b, g >> 2, (g >> 1) & 1, g & 1, -1);
}
/** The same with g = 4j + 2h + l (sub-block s = 2j + h). */
@inline
export function q5_K_codes_at(b: usize, j: i32, h: i32, l: i32, part: i32): v128 {
  const low = nibbles_at(load_bytes(b + 48 + (<usize>j << 5) + (<usize>l << 4), part), h, part);
  const qh = load_bytes(b + 16 + (<usize>l << 4), part);
  return v128.or(low, shl(v128.and(shr(qh, <u32>(2 * j + h)), i8x16.splat(1)), 4));
}
export const Q5_K_SCALES: usize = 4;

/**
 * q6_K (210 bytes: ql[128], qh[64], scales:i8[16], d): value = d·sc·(code − 32). Group
 * g = 8·half + 2·k + t: low nibbles (k < 2) or high nibbles (k ≥ 2) of
 * ql[64·half + 32·(k & 1) + 16·t + i], bits 2k..2k+1 of qh[32·half + 16·t + i] on top.
 */
export const Q6_K_ZERO: i32 = 32;
@inline
export function q6_K_codes(b: usize, g: i32): v128 {
  return q6_K_codes_at(b, g >> 3, (g >> 1) & 3, g & 1, -1);
}
/** The same with g = 8·half + 2k + t. */
@inline
export function q6_K_codes_at(b: usize, half: i32, k: i32, t: i32, part: i32): v128 {
  const ql = load_bytes(b + (<usize>half << 6) + (<usize>(k & 1) << 5) + (<usize>t << 4), part);
  const qh = load_bytes(b + 128 + (<usize>half << 5) + (<usize>t << 4), part);
  // Bits 2k, 2k+1 of qh moved to bits 4, 5: one shift and one mask.
  const high = k < 2 ? shl(qh, <u32>(4 - 2 * k)) : k == 2 ? qh : shr(qh, 2);
  return v128.or(nibbles_at(ql, k >> 1, part), v128.and(high, i8x16.splat(0x30)));
}
export const Q6_K_SCALES: usize = 192;
export const Q6_K_D: usize = 208;

/** q8_K (292 bytes: d:f32, qs[256], bsums:i16[16]): value = d·q. */
@inline
export function q8_K_codes(b: usize, g: i32): v128 {
  return v128.load(b + 4 + (<usize>g << 4));
}
export const Q8_K_BSUMS: usize = 260;

/**
 * iq4_xs (136 bytes: d, scales_h:u16, scales_l[4], qs[128]): value = d·(ls − 32)·kvalues[code]
 * for sub-block s = g >> 1, whose 16 bytes qs[16s..] hold its low (t = 0) and high halves.
 */
@inline
export function iq4_xs_values(b: usize, g: i32): v128 {
  return i8x16.swizzle(IQ4NL_VALUES, nibbles(v128.load(b + 8 + ((<usize>g >> 1) << 4)), g & 1));
}
@inline
export function iq4_xs_values_at(b: usize, g: i32, part: i32): v128 {
  return widen_part(iq4_xs_values(b, g), part);
}
/** iq4_xs's 6-bit scale of sub-block s (0..7), biased by 32: 4 bits from scales_l, 2 from scales_h. */
@inline
export function iq4_xs_scale(b: usize, s: i32): i32 {
  const low = (<i32>load<u8>(b + 4 + (<usize>s >> 1)) >> ((s & 1) << 2)) & 0xf;
  return low | (((<i32>load<u16>(b, 2) >> (s << 1)) & 3) << 4);
}
export const IQ4_XS_SCALE_ZERO: i32 = 32;
