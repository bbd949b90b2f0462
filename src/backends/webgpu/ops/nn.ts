/**
 * The transformer's element-wise and row ops on the GPU (src/ops/*: rms-norm,
 * layer-norm, rope, softmax, silu, gelu, swiglu, add), every case in WGSL
 * (src/backends/webgpu/wgsl/nn-*.ts). Tiers (derived from WGSL's accuracy,
 * src/oracle/webgpu-nn-bounds.ts): add exact (subnormal results may flush);
 * norms f32 with inverseSqrt's 2 ULP; softmax, SiLU, GELU with exp's
 * 3 + 2|x| ULP and division's 2.5 ULP; RoPE the CPU's angle error plus the
 * kernel's own sin/cos (Cody–Waite reduction, Cephes polynomials).
 */
import type { Tensor } from '../../../engine/tensor.js';
import { validateAdd } from '../../../ops/add.js';
import { type GeluOptions, validateGelu } from '../../../ops/gelu.js';
import { type LayerNormOptions, validateLayerNorm } from '../../../ops/layer-norm.js';
import { type RmsNormOptions, validateRmsNorm } from '../../../ops/rms-norm.js';
import { type RopeOptions, validateRope } from '../../../ops/rope.js';
import { validateSilu } from '../../../ops/silu.js';
import { type SoftmaxOptions, validateSoftmax } from '../../../ops/softmax.js';
import { validateSwiglu } from '../../../ops/swiglu.js';
import { f32Bits } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import { addWgsl, ELEMENTWISE_WG, swigluWgsl, type UnaryKind, unaryWgsl } from '../wgsl/nn-elementwise.js';
import { layerNormWgsl, rmsNormWgsl } from '../wgsl/nn-norm.js';
import { ROPE_WG, ropeWgsl } from '../wgsl/nn-rope.js';
import { softmaxWgsl } from '../wgsl/nn-softmax.js';

const fr = Math.fround;

/** Runs one kernel into a new f32 tensor shaped like `shape`. */
function run(
  host: GpuHost,
  op: string,
  code: string,
  params: number[],
  inputs: GpuTensor[],
  shape: readonly number[],
  groups: number,
): GpuTensor {
  const y = host.output(shape, `${op} output`);
  host.ctx.run(code, params, [...inputs.map((t) => t.binding), y.binding], groups);
  host.ran(op, 'webgpu');
  return y;
}

export async function gpuRmsNorm(host: GpuHost, x: Tensor, w: Tensor | null, opts: RmsNormOptions) {
  const { rows, dim, eps } = validateRmsNorm(x, w, opts);
  const ins = [host.gpu(x, 'rmsNorm'), ...(w ? [host.gpu(w, 'rmsNorm')] : [])];
  const params = [rows, dim, f32Bits(eps), f32Bits(fr(1 / dim))];
  return run(host, 'rmsNorm', rmsNormWgsl(w !== null), params, ins, x.shape, rows);
}

export async function gpuLayerNorm(
  host: GpuHost,
  x: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  opts: LayerNormOptions,
) {
  const { rows, dim, eps } = validateLayerNorm(x, w, b, opts);
  const ins = [x, w, b].filter((t): t is Tensor => t !== null).map((t) => host.gpu(t, 'layerNorm'));
  const params = [rows, dim, f32Bits(eps), f32Bits(fr(1 / dim))];
  return run(host, 'layerNorm', layerNormWgsl(w !== null, b !== null), params, ins, x.shape, rows);
}

export async function gpuRope(host: GpuHost, x: Tensor, positions: ArrayLike<number>, opts: RopeOptions) {
  const q = validateRope(x, positions, opts);
  const count = q.nTokens * q.nHead * q.headDim;
  const pos = host.fromValues(Float32Array.from(positions, fr), [q.nTokens], 'rope positions');
  const ff = q.freqFactors && host.fromValues(q.freqFactors, [q.freqFactors.length], 'rope freq factors');
  try {
    const thetaScale = fr(q.freqBase ** fr(-2 / q.nDims));
    const params = [
      q.nTokens,
      q.nHead,
      q.headDim,
      q.nDims,
      f32Bits(thetaScale),
      f32Bits(q.freqScale),
      f32Bits(q.attnFactor),
    ];
    const ins = [host.gpu(x, 'rope'), pos, ...(ff ? [ff] : [])];
    return run(host, 'rope', ropeWgsl(q.mode, ff !== null), params, ins, x.shape, Math.ceil(count / ROPE_WG));
  } finally {
    // Safe right after submission: queued work keeps its buffers alive.
    pos.dispose();
    ff?.dispose();
  }
}

export async function gpuSoftmax(host: GpuHost, x: Tensor, opts: SoftmaxOptions = {}) {
  const { rows, dim, maskRows, scale } = validateSoftmax(x, opts);
  const ins = [host.gpu(x, 'softmax'), ...(opts.mask ? [host.gpu(opts.mask as Tensor, 'softmax')] : [])];
  const params = [rows, dim, maskRows, f32Bits(scale)];
  return run(host, 'softmax', softmaxWgsl(maskRows > 0), params, ins, x.shape, rows);
}

function unary(host: GpuHost, op: string, kind: UnaryKind, x: Tensor, count: number) {
  const groups = Math.ceil(count / ELEMENTWISE_WG);
  return run(host, op, unaryWgsl(kind), [count], [host.gpu(x, op)], x.shape, groups);
}

export async function gpuSilu(host: GpuHost, x: Tensor) {
  return unary(host, 'silu', 'silu', x, validateSilu(x));
}

export async function gpuGelu(host: GpuHost, x: Tensor, opts: GeluOptions = {}) {
  const { count, approximate } = validateGelu(x, opts);
  return unary(host, 'gelu', approximate === 'tanh' ? 'gelu' : 'geluErf', x, count);
}

export async function gpuSwiglu(host: GpuHost, gate: Tensor, up: Tensor) {
  const count = validateSwiglu(gate, up);
  const ins = [host.gpu(gate, 'swiglu'), host.gpu(up, 'swiglu')];
  return run(host, 'swiglu', swigluWgsl(), [count], ins, gate.shape, Math.ceil(count / ELEMENTWISE_WG));
}

export async function gpuAdd(host: GpuHost, a: Tensor, b: Tensor) {
  const { rows, dim, bRows } = validateAdd(a, b);
  const ins = [host.gpu(a, 'add'), host.gpu(b, 'add')];
  const count = rows * dim;
  return run(host, 'add', addWgsl(), [count, dim, bRows], ins, a.shape, Math.ceil(count / ELEMENTWISE_WG));
}
