/**
 * matmul on the GPU: y = x · Wᵀ (src/ops/matmul.ts), x [M, K] f32, W [N, K].
 *
 * `exact` numerics, every weight type: the kernels decode W in place to the
 * exact f32 values dequantize() gives (wgsl/matmul-weights.ts over blocks.ts),
 * f32 activations, f32 sums (wgsl/matmul-f32.ts: the split-K matvec for
 * M ≤ MATVEC_MAX_M, the tiled GEMM above). Decoding in place, rather than a
 * dequant pass into an f32 copy, needs no N·K·4-byte temporary (which can
 * exceed the device's binding limit where the quantized weights do not).
 * Tier: f32 with the magnitude bound γ(K, 2^-23)·Σ|x||w| — every kernel sums
 * K products in a fixed tree (WGSL module headers), each + − × within one ULP
 * (WGSL fixes no rounding mode) — plus 2K·2^-126 where a device flushes
 * subnormal products or sums to zero (src/oracle/webgpu-matmul-bound.ts).
 *
 * `ggml` numerics, every weight type ggml's CPU backend quantizes activations
 * for: x quantized on the GPU to q8_0 / q8_1 / q8_K (byte-identical to
 * quantize()), integer block dots scaled in the wasm kernel's f32 order —
 * bit-identical to the wasm engine (wgsl/matmul-ggml.ts says where a device
 * may differ). f16 / bf16 weights: x rounded to the half type, then the f32
 * kernels (products of halves are exact): f32 tier against x̂ = half(x).
 * f32 weights: ggml does not convert x, so the exact path.
 *
 * matmulPrecision 'f16' (the engine's option): the f32 kernels above take
 * their operands rounded to f16 (wgsl/matmul-f32.ts), products exact, f32
 * sums; the q8 integer-dot kernels are unaffected. Tier: f16 against the
 * float64 product, and matmulGpuBound against the product of the rounded
 * operands (src/oracle/webgpu-matmul-bound.ts: matmulF16OperandsBound).
 */
import type { Tensor } from '../../../engine/tensor.js';
import { type MatmulOptions, validateMatmul } from '../../../ops/matmul.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  MATVEC_MAX_M,
  matvecWgsl,
  ROUND_X_WG,
  roundXWgsl,
  TILE,
  tiledWgsl,
  type WeightCode,
} from '../wgsl/matmul-f32.js';
import {
  GGML_FUSED,
  GGML_ROWS,
  type GgmlFusedType,
  ggmlDotWgsl,
  ggmlWeightRows,
} from '../wgsl/matmul-ggml.js';
import {
  ACT_BLOCK_SIZE,
  ACT_BLOCK_WORDS,
  QUANTIZE_WG,
  quantizeWgsl,
  roundToHalfWgsl,
} from '../wgsl/matmul-ggml-quantize.js';
import { weightCode } from '../wgsl/matmul-weights.js';

export async function gpuMatmul(
  host: GpuHost,
  x: Tensor,
  w: Tensor,
  opts: MatmulOptions = {},
): Promise<Tensor> {
  const { M, N, K, numerics } = validateMatmul(x, w, opts);
  const xg = host.gpu(x, 'matmul x');
  const wg = host.gpu(w, 'matmul w');
  const y = host.output([M, N], 'matmul output');
  try {
    encode(host, numerics === 'ggml', { x: xg, w: wg, y, M, N, K });
  } catch (e) {
    y.dispose();
    throw e;
  }
  host.ran('matmul', 'webgpu');
  return y;
}

/** One product on the GPU: y [M, N] = x [M, K] · Wᵀ, W [N, K]. */
export interface MatmulCall {
  x: GpuTensor;
  w: GpuTensor;
  y: GpuTensor;
  M: number;
  N: number;
  K: number;
}

function encode(host: GpuHost, ggml: boolean, c: MatmulCall): void {
  const { x: xg, M, K } = c;
  const type = c.w.type.name;
  if (ggml && isGgmlFused(type)) runGgml(host, type, c);
  else if (ggml && (type === 'f16' || type === 'bf16')) {
    // ggml converts x to the weights' half type; products of two halves are exact in f32.
    const xr = host.output([M, K], `matmul ${type} activations`);
    try {
      host.ctx.run(
        roundToHalfWgsl(type),
        [M * K],
        [xg.binding, xr.binding],
        Math.ceil((M * K) / QUANTIZE_WG),
      );
      runF32(host, weightCode(type), { ...c, x: xr });
    } finally {
      xr.dispose(); // submitted work keeps it alive
    }
  } else runF32(host, weightCode(type), c);
}

function isGgmlFused(type: string): type is GgmlFusedType {
  return type in GGML_FUSED;
}

/**
 * ggml numerics: x quantized to the weight type's activation type on the
 * GPU, then the integer-dot kernel (bit-identical to the wasm engine's
 * ggml matmul; see wgsl/matmul-ggml.ts for the one exception).
 */
export function runGgml(host: GpuHost, type: GgmlFusedType, c: MatmulCall): void {
  const { x, w, y, M, N, K } = c;
  if (M === 0 || N === 0) return;
  const { ctx } = host;
  const act = GGML_FUSED[type];
  const blocks = M * (K / ACT_BLOCK_SIZE[act]);
  const xq = ctx.buffer(blocks * ACT_BLOCK_WORDS[act] * 4, `matmul ${act} activations [${M}, ${K}]`);
  try {
    ctx.run(quantizeWgsl(act), [M, K, 0], [x.binding, xq], Math.ceil(blocks / QUANTIZE_WG));
    const groups = Math.ceil(M / GGML_ROWS);
    ctx.run(
      ggmlDotWgsl(type),
      [M, N, K, 0, groups],
      [xq, w.binding, y.binding],
      Math.ceil(N / ggmlWeightRows(type)) * groups,
    );
  } finally {
    xq.destroy(); // submitted work keeps it alive
  }
}

/** y = x · Wᵀ with W decoded by `code`: the matvec kernel for small M, the tiled one otherwise. */
export function runF32(host: GpuHost, code: WeightCode, c: MatmulCall): void {
  const { x, w, y, M, N, K } = c;
  if (M === 0 || N === 0) return;
  const { ctx } = host;
  const ops = host.matmulOperands();
  if (M <= MATVEC_MAX_M && ops.precision === 'f16') {
    // x rounded once per call (not once per weight row): halves two to a word with shader-f16.
    const words = ops.halfStorage ? Math.ceil((M * K) / 2) : M * K;
    const xr = ctx.buffer(words * 4, `matmul f16 x [${M}, ${K}]`);
    try {
      if (words > 0)
        ctx.run(roundXWgsl(ops.halfStorage), [M * K], [x.binding, xr], Math.ceil(words / ROUND_X_WG));
      ctx.run(matvecWgsl(code, ctx.features.subgroups, ops), [M, N, K], [xr, w.binding, y.binding], N);
    } finally {
      xr.destroy(); // submitted work keeps it alive
    }
    return;
  }
  const buffers = [x.binding, w.binding, y.binding];
  if (M <= MATVEC_MAX_M) {
    ctx.run(matvecWgsl(code, ctx.features.subgroups), [M, N, K], buffers, N);
    return;
  }
  const tilesN = Math.ceil(N / TILE);
  ctx.run(tiledWgsl(code, ops), [M, N, K, tilesN], buffers, tilesN * Math.ceil(M / TILE));
}
