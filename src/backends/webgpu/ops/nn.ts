/** The transformer's elementwise and row ops on the GPU (src/ops/*: rms-norm, layer-norm, rope, softmax, silu, gelu, swiglu, add). */
import type { Tensor } from '../../../engine/tensor.js';
import { validateAdd } from '../../../ops/add.js';
import { type GeluOptions, validateGelu } from '../../../ops/gelu.js';
import { type LayerNormOptions, validateLayerNorm } from '../../../ops/layer-norm.js';
import { type RmsNormOptions, validateRmsNorm } from '../../../ops/rms-norm.js';
import { type RopeOptions, validateRope } from '../../../ops/rope.js';
import { validateSilu } from '../../../ops/silu.js';
import { type SoftmaxOptions, validateSoftmax } from '../../../ops/softmax.js';
import { validateSwiglu } from '../../../ops/swiglu.js';
import type { GpuHost } from '../host.js';

const WHY = 'no WebGPU kernel yet';

export async function gpuRmsNorm(host: GpuHost, x: Tensor, w: Tensor | null, opts: RmsNormOptions) {
  validateRmsNorm(x, w, opts);
  return host.fallback('rmsNorm', WHY, [x, w], (cpu, [a, b]) => cpu.rmsNorm(a!, b, opts));
}

export async function gpuLayerNorm(
  host: GpuHost,
  x: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  opts: LayerNormOptions,
) {
  validateLayerNorm(x, w, b, opts);
  return host.fallback('layerNorm', WHY, [x, w, b], (cpu, [a, c, d]) => cpu.layerNorm(a!, c, d, opts));
}

export async function gpuRope(host: GpuHost, x: Tensor, positions: ArrayLike<number>, opts: RopeOptions) {
  validateRope(x, positions, opts);
  return host.fallback('rope', WHY, [x], (cpu, [a]) => cpu.rope(a!, positions, opts));
}

export async function gpuSoftmax(host: GpuHost, x: Tensor, opts: SoftmaxOptions = {}) {
  validateSoftmax(x, opts);
  return host.fallback('softmax', WHY, [x], (cpu, [a]) => cpu.softmax(a!, opts));
}

export async function gpuSilu(host: GpuHost, x: Tensor) {
  validateSilu(x);
  return host.fallback('silu', WHY, [x], (cpu, [a]) => cpu.silu(a!));
}

export async function gpuGelu(host: GpuHost, x: Tensor, opts: GeluOptions = {}) {
  validateGelu(x, opts);
  return host.fallback('gelu', WHY, [x], (cpu, [a]) => cpu.gelu(a!, opts));
}

export async function gpuSwiglu(host: GpuHost, gate: Tensor, up: Tensor) {
  validateSwiglu(gate, up);
  return host.fallback('swiglu', WHY, [gate, up], (cpu, [a, b]) => cpu.swiglu(a!, b!));
}

export async function gpuAdd(host: GpuHost, a: Tensor, b: Tensor) {
  validateAdd(a, b);
  return host.fallback('add', WHY, [a, b], (cpu, [x, y]) => cpu.add(x!, y!));
}
