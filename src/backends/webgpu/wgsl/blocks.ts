/**
 * WGSL building blocks for every kernel that reads ggml bytes from an
 * `array<u32>` buffer: byte / u16 / u32 loads at any byte offset (blocks are
 * not 4-aligned: q4_0 is 18 bytes), exact f16 → f32 and bf16 → f32 without
 * float arithmetic, and one decoder per ggml type with the same bit layouts as
 * assembly/dequant/codes.ts (ggml's dequantize_row_*).
 *
 * Per type T the generated functions are (b = byte offset of the block in
 * the buffer, i = element index inside the block):
 *   codes4_T(b, i) -> vec4<i32>  the integer values of elements i..i+3 (i % 4 == 0):
 *                                code − zero point, or the iq4 codebook value
 *   scale_T(b, i)  -> vec2<f32>  (s, a): the scale ggml multiplies by and, for the
 *                                affine types (q4_1, q5_1, q2_K, q4_K, q5_K), the
 *                                term it adds (+m, or −dmin·min); one per 16 elements.
 *                                q8_K: s = (d, 0), but f32(q)·d may be subnormal: use
 *                                dq4s_q8_K / mul4_f32_i32 rather than multiplying yourself
 *   dq4_T(b, i)    -> vec4<f32>  elements i..i+3 as ggml's to_float computes them
 *   dq4s_T(b, i, s) -> vec4<f32> the same with s = scale_T(b, i) computed once per 16 elements
 *   dq_T(b, i)     -> f32        element i
 *   dq4bits_T(b, i) -> vec4<u32> dq4_T's bits (f16 / bf16 / f32: built by integer
 *                                ops only, so NaN payloads survive)
 * The float types (f32, f16, bf16) are one-element blocks: b is the element's
 * byte offset and i is 0 (dq4 reads four consecutive elements from b).
 *
 * Exactness (why these match ggml bit for bit on any conforming WebGPU device):
 * - f16 / bf16 → f32 are bit manipulations (no unpack2x16float, which may
 *   flush f16 subnormals; an f16 subnormal's 10-bit mantissa goes through an
 *   exact u32 → f32 conversion and an exponent shift); every f16 value is a
 *   normal f32 or zero.
 * - Every product is exact in f32: the scales are f16 values (11-bit
 *   significands, ≥ 2^-24) times small integers (d·sc ≤ 18 bits, then × code
 *   ≤ 6 bits), so code·scale needs at most 24 significant bits and is ≥ 2^-24
 *   (never subnormal). The only rounding is the final add of the affine types,
 *   a single correctly rounded WGSL `+`; a compiler that fuses `q·s + a` into an
 *   fma computes the same bits, because fma(q, s, a) = fl(q·s + a) = fl(fl(q·s) + a)
 *   when q·s is exact. Results of the affine adds are multiples of 2^-24, so
 *   never subnormal either. Non-affine types never add (adding +0 would turn
 *   ggml's −0 into +0).
 * - q8_K's scale is an f32 of any size: its product can be subnormal, or d
 *   itself can be, and WGSL lets a device flush subnormals — SwiftShader does
 *   (a plain d·q with a subnormal result came back as ±0 in the tests).
 *   mul_f32_i32 takes tiny scales through an exactly rescaled product instead.
 * - q8_1's s field is not read (ggml has no to_float for q8_1; this is d·q, as
 *   the CPU side and the conformance corpus).
 * - Non-finite scales (an f16 inf/NaN d) give inf/NaN as on the CPU, but a NaN's
 *   payload is whatever the device's multiply makes of it.
 */
import type { GgmlTypeName } from '../../../types/ggml-types.js';

/** ggml's kvalues_iq4nl (assembly/dequant/codes.ts IQ4NL_VALUES). */
export const IQ4NL_VALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
/** The codebook as four WGSL u32 literals, four signed bytes each, low byte first. */
const IQ4NL_WORDS = [0, 4, 8, 12]
  .map((k) => `0x${new Uint32Array(new Int8Array(IQ4NL_VALUES.slice(k, k + 4)).buffer)[0].toString(16)}u`)
  .join(', ');

/** fn f16_bits_to_f32(h: u32) -> f32 (and its _bits form): the exact value of an f16 bit pattern. */
export const WGSL_F16_TO_F32 = /* wgsl */ `
// f16 bits (low 16 bits of h) -> f32 bits, exact: subnormals become normal f32 without a float op,
// inf kept, a NaN keeps its payload and gains the quiet bit (ggml on x86, assembly/dequant/common.ts).
fn f16_bits_to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  // All three cases, then selects: no divergent branches (software rasterizers run both sides).
  let normal = ((e + 112u) << 23u) | (m << 13u);
  let special = 0x7f800000u | select(0u, 0x400000u, m != 0u) | (m << 13u);
  // Subnormal: m·2^-24 = f32(m)·2^-24; f32(m) is exact and ≥ 1, so lowering its exponent field
  // by 24 is exact and stays normal (no float op ever sees a subnormal). m == 0: ±0.
  let sub = select(0u, bitcast<u32>(f32(m)) - (24u << 23u), m != 0u);
  return sign | select(select(normal, special, e == 0x1fu), sub, e == 0u);
}
fn f16_bits_to_f32(h: u32) -> f32 { return bitcast<f32>(f16_bits_to_f32_bits(h)); }
`;

/** Buffer-independent helpers: f16/bf16 bits → f32, byte unpacking, the iq4 codebook, q8_K's exact product. */
export const WGSL_BLOCK_COMMON = /* wgsl */ `${WGSL_F16_TO_F32}
fn bf16_bits_to_f32_bits(h: u32) -> u32 { return (h & 0xffffu) << 16u; }

// The four bytes of w, low byte first, unsigned and sign-extended.
fn bytes4(w: u32) -> vec4<u32> {
  return vec4<u32>(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u);
}
fn sbytes4(w: u32) -> vec4<i32> {
  return bitcast<vec4<i32>>(vec4<u32>(w << 24u, w << 16u, w << 8u, w)) >> vec4<u32>(24u);
}
// Bits 0..3 of x, one per byte, as bit 0 of bytes 0..3 (q5 fifth bits).
fn spread4(x: u32) -> u32 {
  return (x & 1u) | ((x & 2u) << 7u) | ((x & 4u) << 14u) | ((x & 8u) << 21u);
}

// iq4_nl / iq4_xs codebook (kvalues_iq4nl), as signed bytes packed four per word.
const IQ4NL_WORDS = array<u32, 4>(${IQ4NL_WORDS});
fn iq4_value(n: u32) -> i32 {
  let w = select(select(IQ4NL_WORDS[0], IQ4NL_WORDS[1], n >= 4u), select(IQ4NL_WORDS[2], IQ4NL_WORDS[3], n >= 12u), n >= 8u);
  return bitcast<i32>(w << (24u - 8u * (n & 3u))) >> 24u;
}
fn iq4_values4(nib: u32) -> vec4<i32> {
  let n = bytes4(nib);
  return vec4<i32>(iq4_value(n.x), iq4_value(n.y), iq4_value(n.z), iq4_value(n.w));
}

// fl(d·q) for an f32 d given by its bits and a small integer q (|q| ≤ 2^7), exactly as
// IEEE rounds it even where the device flushes subnormals: a tiny d (exponent field
// ≤ 8, subnormals included) is scaled by 2^64 exactly, multiplied (normal in, normal
// out, one correct rounding), and scaled back: when the result is normal that is an
// exponent change; when it is subnormal the product is a multiple of 2^-149 below
// 2^-126, so it had ≤ 23 significant bits, was exact, and shifts down exactly.
fn mul_f32_i32(dbits: u32, q: i32) -> f32 {
  let e = (dbits >> 23u) & 0xffu;
  let mant = dbits & 0x7fffffu;
  if (e >= 9u || (e == 0u && mant == 0u)) { return bitcast<f32>(dbits) * f32(q); }
  var big: u32;
  if (e != 0u) {
    big = dbits + (64u << 23u);
  } else {
    // d = mant·2^-149 → 2^64·d = 1.f·2^(p-85), p = mant's top bit
    let p = 31u - countLeadingZeros(mant);
    big = (dbits & 0x80000000u) | ((p + 42u) << 23u) | ((mant << (23u - p)) & 0x7fffffu);
  }
  let r = bitcast<u32>(bitcast<f32>(big) * f32(q));
  let re = (r >> 23u) & 0xffu;
  if (re == 0u) { return bitcast<f32>(r); } // ±0
  if (re > 64u) { return bitcast<f32>(r - (64u << 23u)); }
  let sig = (r & 0x7fffffu) | 0x800000u;
  return bitcast<f32>((r & 0x80000000u) | (sig >> (65u - re)));
}
// d·q for four codes: one vector multiply unless d is tiny (uniform per block).
fn mul4_f32_i32(dbits: u32, q: vec4<i32>) -> vec4<f32> {
  if (((dbits >> 23u) & 0xffu) >= 9u || (dbits & 0x7fffffffu) == 0u) { return vec4<f32>(q) * bitcast<f32>(dbits); }
  return vec4<f32>(mul_f32_i32(dbits, q.x), mul_f32_i32(dbits, q.y), mul_f32_i32(dbits, q.z), mul_f32_i32(dbits, q.w));
}
`;

/** Loads from the `array<u32>` named `buffer`, functions named with `prefix`. */
function loads(buffer: string, p: string): string {
  return /* wgsl */ `
fn ${p}ld_u8(o: u32) -> u32 { return (${buffer}[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn ${p}ld_i8(o: u32) -> i32 { return bitcast<i32>(${p}ld_u8(o) << 24u) >> 24u; }
fn ${p}ld_u32(o: u32) -> u32 {
  let k = o >> 2u;
  let s = (o & 3u) * 8u;
  if (s == 0u) { return ${buffer}[k]; }
  return (${buffer}[k] >> s) | (${buffer}[k + 1u] << (32u - s));
}
fn ${p}ld_u16(o: u32) -> u32 {
  let s = (o & 3u) * 8u;
  if (s <= 16u) { return (${buffer}[o >> 2u] >> s) & 0xffffu; }
  return ${p}ld_u32(o) & 0xffffu;
}
fn ${p}ld_f16(o: u32) -> f32 { return f16_bits_to_f32(${p}ld_u16(o)); }
`;
}

/** How one type's values are made: WGSL bodies over (b, i), `p` the load prefix. */
interface BlockFormat {
  /** Whether ggml adds a term after the product (scale_T's .y). */
  affine: boolean;
  /** Body of codes4_T(b, i) -> vec4<i32>. */
  codes4: (p: string) => string;
  /** Body of scale_T(b, i) -> vec2<f32>. */
  scale: (p: string) => string;
  /** The values from codes q (vec4<i32>) and scale s when not the generic f32(q)·s.x (+ s.y). */
  apply?: (q: string, s: string) => string;
}

/** Nibbles of the 4 bytes at `at`: low (h = 0) or high (h = 1), h an expression. */
const nib = (p: string, at: string, h: string) => `(${p}ld_u32(${at}) >> (4u * (${h}))) & 0x0f0f0f0fu`;

/** q4_0, q4_1, q5_0, q5_1: qs[16] at qs (low nibbles elements 0..15, high 16..31), the fifth bits at qh. */
function legacy(o: { qs: number; qh?: number; zero: number; min?: number }): BlockFormat {
  // The fifth bit of element i is bit i of qh.
  const fifth = (p: string) =>
    o.qh === undefined ? '' : ` | (spread4((${p}ld_u32(b + ${o.qh}u) >> i) & 0xfu) << 4u)`;
  return {
    affine: o.min !== undefined,
    codes4: (p) =>
      `let n = (${nib(p, `b + ${o.qs}u + (i & 15u)`, 'i >> 4u')})${fifth(p)};
  return vec4<i32>(bytes4(n)) - vec4<i32>(${o.zero});`,
    scale: (p) =>
      `return vec2<f32>(${p}ld_f16(b), ${o.min === undefined ? '0.0' : `${p}ld_f16(b + ${o.min}u)`});`,
  };
}

/** q8_0, q8_1: signed bytes at qs, f16 d at 0. */
function q8(qs: number): BlockFormat {
  return {
    affine: false,
    codes4: (p) => `return sbytes4(${p}ld_u32(b + ${qs}u + i));`,
    scale: (p) => `return vec2<f32>(${p}ld_f16(b), 0.0);`,
  };
}

const FORMATS: Record<Exclude<GgmlTypeName, 'f32' | 'f16' | 'bf16'>, BlockFormat> = {
  q4_0: legacy({ qs: 2, zero: 8 }),
  q4_1: legacy({ qs: 4, zero: 0, min: 2 }),
  q5_0: legacy({ qs: 6, qh: 2, zero: 16 }),
  q5_1: legacy({ qs: 8, qh: 4, zero: 0, min: 2 }),
  q8_0: q8(2),
  q8_1: q8(4),
  iq4_nl: {
    affine: false,
    codes4: (p) => `return iq4_values4(${nib(p, 'b + 2u + (i & 15u)', 'i >> 4u')});`,
    scale: (p) => `return vec2<f32>(${p}ld_f16(b), 0.0);`,
  },
  // 84 bytes: scales[16], qs[64], d, dmin. Group g = i/16 = 8·half + 2·j + l: bits 2j of qs[32·half + 16·l + ·].
  q2_K: {
    affine: true,
    codes4: (p) =>
      `let n = (${p}ld_u32(b + 16u + 32u * (i >> 7u) + 16u * ((i >> 4u) & 1u) + (i & 15u)) >> (2u * ((i >> 5u) & 3u))) & 0x03030303u;
  return vec4<i32>(bytes4(n));`,
    scale: (p) =>
      `let sc = ${p}ld_u8(b + (i >> 4u));
  return vec2<f32>(${p}ld_f16(b + 80u) * f32(sc & 15u), -(${p}ld_f16(b + 82u) * f32(sc >> 4u)));`,
  },
  // 110 bytes: hmask[32], qs[64], scales[12], d. The third bit is bit 4·half + j of hmask[16·l + ·].
  q3_K: {
    affine: false,
    codes4: (p) =>
      `let j = (i >> 5u) & 3u;
  let l = 16u * ((i >> 4u) & 1u) + (i & 15u);
  let low = (${p}ld_u32(b + 32u + 32u * (i >> 7u) + l) >> (2u * j)) & 0x03030303u;
  let high = (${p}ld_u32(b + l) >> (4u * (i >> 7u) + j)) & 0x01010101u;
  return vec4<i32>(bytes4(low | (high << 2u))) - vec4<i32>(4);`,
    // Scale g (6 bits, biased by 32): low 4 bits from scales[4·(q & 1) + (g & 3)] (nibble q >> 1), high 2 from scales[8 + (g & 3)].
    scale: (p) =>
      `let g = i >> 4u;
  let q = g >> 2u;
  let low = (${p}ld_u8(b + 96u + 4u * (q & 1u) + (g & 3u)) >> (4u * (q >> 1u))) & 15u;
  let sc = low | (((${p}ld_u8(b + 104u + (g & 3u)) >> (2u * q)) & 3u) << 4u);
  return vec2<f32>(${p}ld_f16(b + 108u) * f32(i32(sc) - 32), 0.0);`,
  },
  // 144 bytes: d, dmin, scales[12], qs[128]. Sub-block s = i/32: nibble s & 1 of qs[32·(s >> 1) + ·].
  q4_K: {
    affine: true,
    codes4: (p) => `let s = i >> 5u;
  return vec4<i32>(bytes4(${nib(p, 'b + 16u + 32u * (s >> 1u) + (i & 31u)', 's & 1u')}));`,
    scale: (p) => `return ${p}k4_scale(b, i >> 5u);`,
  },
  // 176 bytes: d, dmin, scales[12], qh[32], qs[128]: q4_K's code plus bit s of qh[i & 31] as bit 4.
  q5_K: {
    affine: true,
    codes4: (p) => `let s = i >> 5u;
  let low = ${nib(p, 'b + 48u + 32u * (s >> 1u) + (i & 31u)', 's & 1u')};
  let high = (${p}ld_u32(b + 16u + (i & 31u)) >> s) & 0x01010101u;
  return vec4<i32>(bytes4(low | (high << 4u)));`,
    scale: (p) => `return ${p}k4_scale(b, i >> 5u);`,
  },
  // 210 bytes: ql[128], qh[64], scales:i8[16], d. i = 128·n + 32·k + l: nibble k >> 1 of ql[64n + 32(k & 1) + l],
  // bits 2k of qh[32n + l], scale 8n + l/16 + 2k.
  q6_K: {
    affine: false,
    codes4: (p) => `let n = i >> 7u;
  let k = (i >> 5u) & 3u;
  let l = i & 31u;
  let low = ${nib(p, 'b + 64u * n + 32u * (k & 1u) + l', 'k >> 1u')};
  let high = (${p}ld_u32(b + 128u + 32u * n + l) >> (2u * k)) & 0x03030303u;
  return vec4<i32>(bytes4(low | (high << 4u))) - vec4<i32>(32);`,
    scale: (p) =>
      `let sc = ${p}ld_i8(b + 192u + 8u * (i >> 7u) + ((i & 31u) >> 4u) + 2u * ((i >> 5u) & 3u));
  return vec2<f32>(${p}ld_f16(b + 208u) * f32(sc), 0.0);`,
  },
  // 292 bytes: d:f32, qs:i8[256], bsums. d·q through mul_f32_i32 (d may be tiny).
  q8_K: {
    affine: false,
    codes4: (p) => `return sbytes4(${p}ld_u32(b + 4u + i));`,
    scale: (p) => `return vec2<f32>(bitcast<f32>(${p}ld_u32(b)), 0.0);`,
    apply: (q, s) => `mul4_f32_i32(bitcast<u32>(${s}.x), ${q})`,
  },
  // 136 bytes: d, scales_h:u16, scales_l[4], qs[128]. Sub-block s = i/32: nibble (i >> 4) & 1 of qs[16s + (i & 15)].
  iq4_xs: {
    affine: false,
    codes4: (p) => `return iq4_values4(${nib(p, 'b + 8u + 16u * (i >> 5u) + (i & 15u)', '(i >> 4u) & 1u')});`,
    scale: (p) => `let s = i >> 5u;
  let ls = ((${p}ld_u8(b + 4u + (s >> 1u)) >> (4u * (s & 1u))) & 15u) | (((${p}ld_u16(b + 2u) >> (2u * s)) & 3u) << 4u);
  return vec2<f32>(${p}ld_f16(b) * f32(i32(ls) - 32), 0.0);`,
  },
};

/** q4_K / q5_K: ggml's get_scale_min_k4 for sub-block s → (d·sc, −dmin·m). */
function k4Scale(p: string): string {
  return /* wgsl */ `
fn ${p}k4_scale(b: u32, s: u32) -> vec2<f32> {
  var sc: u32;
  var m: u32;
  if (s < 4u) {
    sc = ${p}ld_u8(b + 4u + s) & 63u;
    m = ${p}ld_u8(b + 8u + s) & 63u;
  } else {
    let packed = ${p}ld_u8(b + 8u + s);
    sc = (packed & 15u) | ((${p}ld_u8(b + s) >> 6u) << 4u);
    m = (packed >> 4u) | ((${p}ld_u8(b + 4u + s) >> 6u) << 4u);
  }
  return vec2<f32>(${p}ld_f16(b) * f32(sc), -(${p}ld_f16(b + 2u) * f32(m)));
}
`;
}

/** The float types: one element per "block" at byte b (dq4: four consecutive from b). */
function floatType(type: 'f32' | 'f16' | 'bf16', p: string): string {
  const bits4 = {
    f32: `return vec4<u32>(${p}ld_u32(b), ${p}ld_u32(b + 4u), ${p}ld_u32(b + 8u), ${p}ld_u32(b + 12u));`,
    f16: `let lo = ${p}ld_u32(b);
  let hi = ${p}ld_u32(b + 4u);
  return vec4<u32>(f16_bits_to_f32_bits(lo), f16_bits_to_f32_bits(lo >> 16u), f16_bits_to_f32_bits(hi), f16_bits_to_f32_bits(hi >> 16u));`,
    bf16: `let lo = ${p}ld_u32(b);
  let hi = ${p}ld_u32(b + 4u);
  return vec4<u32>(lo << 16u, lo & 0xffff0000u, hi << 16u, hi & 0xffff0000u);`,
  }[type];
  const one = {
    f32: `${p}ld_u32(b)`,
    f16: `f16_bits_to_f32_bits(${p}ld_u16(b))`,
    bf16: `bf16_bits_to_f32_bits(${p}ld_u16(b))`,
  }[type];
  return /* wgsl */ `
fn ${p}dq4bits_${type}(b: u32, i: u32) -> vec4<u32> {
  ${bits4}
}
fn ${p}dq4_${type}(b: u32, i: u32) -> vec4<f32> { return bitcast<vec4<f32>>(${p}dq4bits_${type}(b, i)); }
fn ${p}dqbits_${type}(b: u32, i: u32) -> u32 { return ${one}; }
fn ${p}dq_${type}(b: u32, i: u32) -> f32 { return bitcast<f32>(${p}dqbits_${type}(b, i)); }
`;
}

function blockType(type: keyof typeof FORMATS, p: string): string {
  const f = FORMATS[type];
  const apply = f.apply?.('q', 's') ?? `vec4<f32>(q) * s.x${f.affine ? ' + s.y' : ''}`;
  return /* wgsl */ `
fn ${p}codes4_${type}(b: u32, i: u32) -> vec4<i32> {
  ${f.codes4(p)}
}
fn ${p}scale_${type}(b: u32, i: u32) -> vec2<f32> {
  ${f.scale(p)}
}
fn ${p}dq4s_${type}(b: u32, i: u32, s: vec2<f32>) -> vec4<f32> {
  let q = ${p}codes4_${type}(b, i);
  return ${apply};
}
fn ${p}dq4_${type}(b: u32, i: u32) -> vec4<f32> { return ${p}dq4s_${type}(b, i, ${p}scale_${type}(b, i)); }
fn ${p}dq4bits_${type}(b: u32, i: u32) -> vec4<u32> { return bitcast<vec4<u32>>(${p}dq4_${type}(b, i)); }
fn ${p}dq_${type}(b: u32, i: u32) -> f32 { return ${p}dq4_${type}(b, i & ~3u)[i & 3u]; }
fn ${p}dqbits_${type}(b: u32, i: u32) -> u32 { return bitcast<u32>(${p}dq_${type}(b, i)); }
`;
}

export interface BlockReaderOptions {
  /** The `array<u32>` variable holding the bytes (default 'src'). */
  buffer?: string;
  /** Prefix of every generated function name, for a kernel that reads two quantized buffers (default ''). */
  prefix?: string;
  /** Include WGSL_BLOCK_COMMON (default true; false for the second reader of a kernel). */
  common?: boolean;
}

/**
 * The loads and decoders of `types` reading `buffer` (see the module header
 * for the function signatures). A kernel declares the buffer itself, e.g.
 * `@group(0) @binding(1) var<storage, read> src: array<u32>;`.
 */
export function wgslBlocks(types: readonly GgmlTypeName[], opts: BlockReaderOptions = {}): string {
  const p = opts.prefix ?? '';
  const parts = [opts.common === false ? '' : WGSL_BLOCK_COMMON, loads(opts.buffer ?? 'src', p)];
  const unique = [...new Set(types)];
  if (unique.includes('q4_K') || unique.includes('q5_K')) parts.push(k4Scale(p));
  for (const t of unique)
    parts.push(t === 'f32' || t === 'f16' || t === 'bf16' ? floatType(t, p) : blockType(t, p));
  return parts.join('');
}

/** Whether ggml's value adds a term after the product (the affine types). */
export function blockIsAffine(type: GgmlTypeName): boolean {
  return type in FORMATS && FORMATS[type as keyof typeof FORMATS].affine;
}
