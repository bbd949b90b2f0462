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

export {
  gemm_f32,
  gemm_f32_scratch_bytes,
  pack_w_bf16,
  pack_w_f16,
  pack_w_f32,
  packed_w_bytes,
} from './matmul/f32';

export {
  matmul_exact_iq4_nl,
  matmul_exact_iq4_xs,
  matmul_exact_q2_K,
  matmul_exact_q3_K,
  matmul_exact_q4_0,
  matmul_exact_q4_1,
  matmul_exact_q4_K,
  matmul_exact_q5_0,
  matmul_exact_q5_1,
  matmul_exact_q5_K,
  matmul_exact_q6_K,
  matmul_exact_q8_0,
  matmul_exact_q8_1,
  matmul_exact_q8_K,
  matmul_exact_scratch_bytes,
} from './matmul/quant-exact';

export {
  matmul_ggml_bf16,
  matmul_ggml_f16,
  matmul_ggml_iq4_nl,
  matmul_ggml_iq4_xs,
  matmul_ggml_q2_K,
  matmul_ggml_q3_K,
  matmul_ggml_q4_0,
  matmul_ggml_q4_1,
  matmul_ggml_q4_K,
  matmul_ggml_q5_0,
  matmul_ggml_q5_1,
  matmul_ggml_q5_K,
  matmul_ggml_q6_K,
  matmul_ggml_q8_0,
} from './matmul/quant-ggml';
export { quantize_bf16, quantize_f16 } from './quantize/half';
export {
  act_row_bytes,
  quantize_act_q8_0,
  quantize_act_q8_1,
  quantize_act_q8_K,
  quantize_q8_0,
  quantize_q8_1,
  quantize_q8_K,
} from './quantize/q8';

export { attn_decode } from './attention/decode';
export { attn_decode_combine, attn_prefill } from './attention/flash';
export { attn_ggml } from './attention/ggml';
export { f16_row_to_f32 as attn_widen_f16, round_row_f16 as attn_round_f16 } from './attention/half';
export { attn_partials_bytes, attn_scratch_bytes, attn_units } from './attention/plan';
export { attn_scores } from './attention/scores';
export { exp_f32 } from './nn/exp';

export { nn_embedding } from './nn/embedding';
export { nn_add, nn_gelu, nn_gelu_erf, nn_silu, nn_swiglu } from './nn/elementwise';
export { nn_layer_norm, nn_rms_norm } from './nn/norm';
export { nn_rope } from './nn/rope';
export { nn_softmax } from './nn/softmax';

export { moe_combine } from './moe/combine';
export { moe_expert_items } from './moe/experts';
export { moe_route } from './moe/route';

export {
  gru_gates,
  gru_matvec_butterfly,
  gru_matvec_dense,
  gru_matvec_diagonal,
  gru_matvec_monarch,
} from './scan/gru';
export {
  gru_gates_i8,
  gru_matvec_butterfly_i8,
  gru_matvec_dense_i8,
  gru_matvec_diagonal_i8,
  gru_matvec_monarch_i8,
} from './scan/gru-int8';
export { scan_chunk_apply, scan_chunk_carry, scan_chunk_reduce, scan_linear } from './scan/linear';
export { noop, trap_if } from './scheduler/probe';

/** First byte the host may allocate (after the module's static data). */
export function heap_base(): usize {
  return __heap_base;
}

/**
 * 1 in the relaxed-SIMD build, so the host can confirm what it instantiated.
 * That build executes a relaxed instruction here, so a runtime without relaxed
 * SIMD rejects the whole build at validation rather than at a kernel's first call.
 */
export function relaxed_simd(): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const one = f32x4.splat(1);
    return <i32>f32x4.extract_lane(f32x4.relaxed_madd(one, one, f32x4.splat(0)), 0);
  }
  return 0;
}
