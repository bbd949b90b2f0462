// plumbline's wasm module: every kernel, exported by name. Kernels take
// pointers and sizes into the shared (imported) memory and never allocate.

export {
  dequant_bf16,
  dequant_f16,
  dequant_f32,
} from './dequant/float';
export {
  dequant_iq4_xs,
  dequant_q2_K,
  dequant_q3_K,
  dequant_q4_K,
  dequant_q5_K,
  dequant_q6_K,
  dequant_q8_K,
} from './dequant/kquants';
export {
  dequant_iq4_nl,
  dequant_q4_0,
  dequant_q4_1,
  dequant_q5_0,
  dequant_q5_1,
  dequant_q8_0,
  dequant_q8_1,
} from './dequant/legacy';

/** First byte the host may allocate (after the module's static data). */
export function heap_base(): usize {
  return __heap_base;
}

/** 1 in the relaxed-SIMD build, so the host can confirm what it instantiated. */
export function relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
