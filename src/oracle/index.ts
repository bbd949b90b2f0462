/** The parity oracle's public surface: compare, tiers, reports, numerics emulation. */
export {
  type BoundCheck,
  type CompareOptions,
  type Comparison,
  compare,
  isParityTier,
  type ParityTier,
  type Verdict,
  type WorstElement,
} from './compare.js';
export {
  type DiffOptions,
  type DiffResult,
  diff,
  type StageMetrics,
  type StageRow,
  type StageVerdict,
  type TraceSummary,
} from './diff.js';
export { type DiffHtmlOptions, HEAT_METRICS, type HeatMetric, renderDiffHtml } from './diff-html.js';
export { type DiffJson, diffToJson, finiteJson, formatDiff } from './diff-report.js';
export {
  type Int8Options,
  type Int8Quantized,
  type OperandRounding,
  quantizationMagnitude,
  quantizeInt8,
  roundBf16,
  roundF16,
  roundOperands,
  roundTf32Rna,
  roundTf32Rne,
  roundTies,
  stageF16,
  type TieRule,
  truncTf32,
} from './emulate.js';
export {
  type EmulatedInputs,
  type EmulatedMatmul,
  type EmulatedMatmulOptions,
  emulatedMatmul,
} from './emulated-matmul.js';
export { CountMismatchError, ParityOptionError } from './errors.js';
export {
  GGML_NMSE_LIMITS,
  GGML_OP_KINDS,
  type GgmlOpKind,
  type GgmlVerdict,
  ggmlVerdict,
  isGgmlOpKind,
} from './ggml-limits.js';
export {
  type ErrorMetrics,
  errorMetrics,
  type Located,
  type MismatchCensus,
  type NonFiniteCensus,
  REL_FLOOR,
} from './metrics.js';
export {
  PARITY_OPS,
  type ParityMatrixOptions,
  type ParityOp,
  type ParityRow,
  parityMatrix,
} from './parity-matrix.js';
export {
  type ReplayOptions,
  type ReplayResult,
  type ReplayStageRow,
  type ReplayTier,
  type ReplayVerdict,
  replay,
} from './replay.js';
export { ReplayModel } from './replay-model.js';
export {
  formatReplay,
  type ReplayHtmlOptions,
  type ReplayJson,
  renderReplayHtml,
  replayToJson,
} from './replay-report.js';
export {
  type RegisterReplayRuleOptions,
  type ReplayContext,
  type ReplayInputs,
  type ReplayOutput,
  type ReplayRule,
  type ReplayStageKind,
  registerReplayRule,
  replayBound,
  replayRule,
  replayStages,
} from './replay-rules.js';
export { formatComparison } from './report.js';
export { type StdRatio, stdRatio, type TensorStats, tensorStats } from './stats.js';
export type { TensorLike } from './tensor-input.js';
export {
  type Accumulation,
  dotBound,
  dotBoundProbabilistic,
  gamma,
  isTierName,
  STATISTICAL_SAFETY,
  TIER_NAMES,
  TIERS,
  type TierBoundOptions,
  type TierName,
  type TierSpec,
  type TierThresholds,
  tierBound,
  tierThresholds,
  tierVariance,
  UNIT_ROUNDOFF,
} from './tiers.js';
export { type TopKAgreement, topKAgreement } from './topk.js';
export { f32Key, ulpDistance } from './ulp.js';
