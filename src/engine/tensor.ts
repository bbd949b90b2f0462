/** What createEngine's tensors look like to a user, whatever backend holds them. */
import type { GgmlTypeInfo } from '../types/ggml-types.js';

export interface Tensor {
  /** Row-major, outermost first (a linear weight is [N, K]). */
  readonly shape: readonly number[];
  readonly type: GgmlTypeInfo;
  /** The values as f32 (quantized tensors are dequantized, bit-identical to ggml). */
  read(): Promise<Float32Array>;
  /** The stored bytes (ggml's block layout for quantized types). */
  readBytes(): Promise<Uint8Array>;
  dispose(): void;
}
