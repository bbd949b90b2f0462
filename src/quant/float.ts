/** f16 and bf16 rows as ggml_quantize_chunk writes them (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref). */

import { f32ToBf16 } from '../types/half.js';
import { checkRow, writeF16, writeU16 } from './blocks.js';

/** IEEE half, round to nearest even, every NaN → sign|0x7e00; 2 bytes little-endian per value. */
export function quantizeRowF16(x: Float32Array, out: Uint8Array): void {
  checkRow('f16', x, out, 1, 2);
  for (let i = 0; i < x.length; i++) writeF16(out, 2 * i, x[i]);
}

/** bfloat16, round to nearest even, NaN forced quiet; 2 bytes little-endian per value. */
export function quantizeRowBF16(x: Float32Array, out: Uint8Array): void {
  checkRow('bf16', x, out, 1, 2);
  for (let i = 0; i < x.length; i++) writeU16(out, 2 * i, f32ToBf16(x[i]));
}
