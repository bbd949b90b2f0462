/**
 * The reference engine: tensors as plain typed arrays, matmul in float64
 * (src/backends/reference/matmul.ts), results rounded once to f32. Slow and
 * obviously right: the oracle side of every parity question.
 */
import type { Engine } from '../../engine/engine.js';
import { tensorBytes } from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import { WasmRuntimeError } from '../../errors.js';
import { dequantize } from '../../ops/dequantize.js';
import { type MatmulOptions, validateMatmul } from '../../ops/matmul.js';
import { quantize } from '../../ops/quantize.js';
import { type GgmlTypeInfo, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import { referenceMatmul } from './matmul.js';

class ReferenceTensor implements Tensor {
  private bytes: Uint8Array | undefined;

  constructor(
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    bytes: Uint8Array,
    readonly count: number,
  ) {
    this.bytes = bytes;
  }

  values(): Float32Array {
    return dequantize(this.type.name, this.stored(), this.count, { backend: 'reference' });
  }

  stored(): Uint8Array {
    if (!this.bytes) throw new WasmRuntimeError('tensor used after dispose()');
    return this.bytes;
  }

  async read(): Promise<Float32Array> {
    return this.values();
  }

  async readBytes(): Promise<Uint8Array> {
    return this.stored().slice();
  }

  dispose(): void {
    this.bytes = undefined;
  }
}

/** ggml numerics: x rounded through the weight type's vec_dot type (reference quantizers, exact dequant). */
function ggmlActivations(x: Float32Array, w: GgmlTypeInfo): Float32Array {
  const vdt = w.vecDotType;
  if (!vdt || vdt === 'f32') return x;
  return dequantize(vdt, quantize(vdt, x), x.length, { backend: 'reference' });
}

export class ReferenceEngine implements Engine {
  readonly backend = 'reference';
  readonly threads = 1;

  static async create(): Promise<ReferenceEngine> {
    return new ReferenceEngine();
  }

  tensor(
    data: Float32Array | Uint8Array,
    shape: readonly number[],
    type: GgmlTypeName | string = 'f32',
  ): Tensor {
    const info = ggmlType(type);
    const { bytes, count } = tensorBytes(data, shape, info.name);
    return new ReferenceTensor([...shape], info, bytes.slice(), count);
  }

  async matmul(x: Tensor, w: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
    const { M, N, K, numerics } = validateMatmul(x, w, opts);
    const xs = (x as ReferenceTensor).values();
    const xv = numerics === 'ggml' ? ggmlActivations(xs, w.type) : xs;
    const { y } = referenceMatmul(xv, (w as ReferenceTensor).values(), M, N, K);
    const out = Float32Array.from(y);
    return new ReferenceTensor([M, N], ggmlType('f32'), new Uint8Array(out.buffer), M * N);
  }

  async dispose(): Promise<void> {}
}
