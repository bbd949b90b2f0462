/**
 * The WebGPU matmul kernels' bound (src/backends/webgpu/wgsl/matmul*.ts),
 * exact numerics: weights decoded to their exact f32 values, f32
 * activations, f32 sums of K products in a fixed tree. WGSL fixes no
 * rounding mode (a + − × result may round up or down: one ULP, 2^-23
 * relative), so each element is within γ(K, 2^-23)·Σ|x||w| of the float64
 * dot (Higham; any summation tree of K terms), plus 2K·2^-126 because WGSL
 * may flush subnormal results: each of the K products and K sums loses less
 * than 2^-126 that way.
 */
import { WGSL_FLUSH, WGSL_ULP } from '../backends/webgpu/wgsl/numerics.js';
import { dotBound } from './tiers.js';

/** Bound on |y − reference| for one output with dot magnitude Σ|x||w| over K terms. */
export function matmulGpuBound(K: number, magnitude: number): number {
  return dotBound(K, WGSL_ULP, magnitude, 1, 2 * K * WGSL_FLUSH);
}
