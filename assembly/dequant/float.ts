// f32 / f16 / bf16 rows → f32. f16 follows ggml_fp16_to_fp32 bit for bit; bf16 is a shift.
import { f16_to_f32, f16x4_to_f32x4 } from './common';

export function dequant_f32(src: usize, dst: usize, n: i32): void {
  memory.copy(dst, src, (<usize>n) << 2);
}

export function dequant_f16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + ((<usize>i) << 1));
    const out = dst + ((<usize>i) << 2);
    v128.store(out, f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h)), 0);
    v128.store(out, f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) {
    store<f32>(dst + ((<usize>i) << 2), f16_to_f32(<u32>load<u16>(src + ((<usize>i) << 1))));
  }
}

export function dequant_bf16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + ((<usize>i) << 1));
    const out = dst + ((<usize>i) << 2);
    v128.store(out, i32x4.shl(i32x4.extend_low_i16x8_u(h), 16), 0);
    v128.store(out, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
  }
  for (; i < n; i++) {
    store<u32>(dst + ((<usize>i) << 2), (<u32>load<u16>(src + ((<usize>i) << 1))) << 16);
  }
}
