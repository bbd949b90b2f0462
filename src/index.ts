/**
 * plumbline: ggml formats, WebAssembly SIMD kernels and the parity oracle.
 * The public surface (design.md, "Public surface").
 */
export { type WasmStatus, wasmStatus } from './backends/wasm/default-runtime.js';
export type { WasmBuild } from './backends/wasm/module.js';
export { WebGpuUnavailableError } from './backends/webgpu/adapter.js';
export {
  type BackendChoice,
  BackendUnavailableError,
  createEngine,
  type Engine,
  type EngineOptions,
  type GruResult,
  type OpReport,
} from './engine/engine.js';
export type { Tensor } from './engine/tensor.js';
export * from './errors.js';
export * from './formats/gguf/index.js';
export * from './formats/safetensors/index.js';
export * from './model/index.js';
export { scanForward, scanTraceBytes } from './model/scan-forward.js';
export {
  SCAN_MODEL_FORMAT,
  type ScanLayerSpec,
  ScanModel,
  type ScanModelSpec,
  syntheticScanModel,
} from './model/scan-model.js';
export {
  type DecodeOptions,
  type EncodeOptions,
  Tokenizer,
  TokenizerError,
  type TokenizerModel,
} from './model/tokenizer/index.js';
export { type DequantizeOptions, dequantize } from './ops/dequantize.js';
export {
  GRU_STRUCTURES,
  type GruInt8Options,
  type GruOptions,
  type GruStructure,
  type GruWeights,
  gruShapes,
} from './ops/gru.js';
export {
  type Int8Calibration,
  Int8Quantizer,
  type Int8QuantizerConfig,
  QuantizerStateError,
  roundHalfEven,
} from './ops/int8-quantizer.js';
export type { MatmulNumerics, MatmulOptions } from './ops/matmul.js';
export type {
  MoeFfnOptions,
  MoeFfnResult,
  MoeFfnWeights,
  MoeSharedExpertWeights,
} from './ops/moe-ffn.js';
export type { MoeRouteOptions, MoeScheme } from './ops/moe-route.js';
export { quantize } from './ops/quantize.js';
export * from './oracle/index.js';
export {
  SCAN_REPLAY_TIERS,
  type ScanReplayResult,
  type ScanReplayRow,
  type ScanReplayTier,
  scanReplay,
} from './oracle/scan-replay.js';
export * from './trace/index.js';
export {
  byteSizeOf,
  GGML_TYPE_NAMES,
  GGML_TYPES,
  type GgmlTypeInfo,
  type GgmlTypeName,
  ggmlType,
  ggmlTypeById,
  isGgmlTypeName,
  QK_K,
} from './types/ggml-types.js';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './types/half.js';
