/** GGUF models on the engine: loading, the forward pass, generation, trace capture, synthetic test models. */
export {
  architectureStages,
  Capture,
  type CapturedStages,
  type CapturePlan,
  type ModelStage,
  type TraceTensor,
} from './capture.js';
export {
  HyperparameterError,
  ModelError,
  ModelTensorError,
  ModelTooLargeError,
  UnsupportedArchitectureError,
} from './errors.js';
export { type GenerateOptions, type GenerateResult, generate } from './generate.js';
export {
  ARCHITECTURES,
  type Architecture,
  type ArchSpec,
  type HParams,
  type MoeParams,
  readHParams,
} from './hparams.js';
export {
  DEFAULT_BATCH,
  DEFAULT_CONTEXT,
  type LoadModelOptions,
  loadModel,
  type ModelPlan,
  planModel,
} from './load.js';
export { estimateModelBytes, type MemoryEstimate, WASM32_MEMORY_BYTES } from './memory.js';
export { type ForwardOptions, type ForwardResult, Model, type Numerics } from './model.js';
export {
  compareLogits,
  type ForwardThresholds,
  forwardDepth,
  forwardThresholds,
  type LogitParity,
} from './parity.js';
export { argmax, Prng, Sampler, type SamplingOptions } from './sampling.js';
export {
  type SyntheticModelSpec,
  syntheticModel,
  type WeightRole,
  writeSyntheticModel,
} from './synthetic.js';
export { sha256Of, writeModelTrace } from './trace-output.js';
export type { DenseFfnWeights, LayerWeights, LoadProgress, MoeLayerWeights } from './weights.js';
