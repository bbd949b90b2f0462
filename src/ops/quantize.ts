/**
 * quantize(type, values): f32 → ggml block bytes, byte-identical to ggml's
 * reference quantizers (ggml_quantize_chunk without an importance matrix, and
 * quantize_row_q8_1_ref / quantize_row_q8_K_ref for the activation types).
 */
import { SizeError } from '../errors.js';
import { quantizeRowBF16, quantizeRowF16 } from '../quant/float.js';
import { quantizeRowIQ4_NL, quantizeRowIQ4_XS } from '../quant/iq4.js';
import {
  quantizeRowQ2_K,
  quantizeRowQ3_K,
  quantizeRowQ4_K,
  quantizeRowQ5_K,
  quantizeRowQ6_K,
} from '../quant/kquants.js';
import {
  quantizeRowQ4_0,
  quantizeRowQ4_1,
  quantizeRowQ5_0,
  quantizeRowQ5_1,
  quantizeRowQ8_0,
  quantizeRowQ8_1,
} from '../quant/legacy.js';
import { quantizeRowQ8_K } from '../quant/q8k.js';
import { byteSizeOf, type GgmlTypeName, ggmlType } from '../types/ggml-types.js';

type RowQuantizer = (x: Float32Array, out: Uint8Array) => void;

const QUANTIZERS: Readonly<Record<GgmlTypeName, RowQuantizer>> = {
  f32: (x, out) => out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)),
  f16: quantizeRowF16,
  bf16: quantizeRowBF16,
  q4_0: quantizeRowQ4_0,
  q4_1: quantizeRowQ4_1,
  q5_0: quantizeRowQ5_0,
  q5_1: quantizeRowQ5_1,
  q8_0: quantizeRowQ8_0,
  q8_1: quantizeRowQ8_1,
  q2_K: quantizeRowQ2_K,
  q3_K: quantizeRowQ3_K,
  q4_K: quantizeRowQ4_K,
  q5_K: quantizeRowQ5_K,
  q6_K: quantizeRowQ6_K,
  q8_K: quantizeRowQ8_K,
  iq4_nl: quantizeRowIQ4_NL,
  iq4_xs: quantizeRowIQ4_XS,
};

/**
 * Quantizes `values` (a whole number of blocks; ggml quantizes rows of
 * blocks independently, so any split into rows gives the same bytes).
 */
export function quantize(type: GgmlTypeName | string, values: Float32Array): Uint8Array {
  const info = ggmlType(type);
  if (!(values instanceof Float32Array)) throw new SizeError(`${info.name}: quantize takes a Float32Array`);
  const out = new Uint8Array(byteSizeOf(info, values.length));
  QUANTIZERS[info.name](values, out);
  return out;
}
