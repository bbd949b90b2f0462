/** Traces: canonical stage names, trace files, name maps for other producers (design.md, "Trace stages"). */
export { NotATraceError, TraceFormatError, TraceMapError, TraceNameError } from './errors.js';
export {
  applyTransform,
  type MappedName,
  mapName,
  NAME_MAPS,
  type NameMap,
  type NameRule,
  nameMap,
  type TensorTransform,
} from './name-maps.js';
export {
  canonicalNames,
  compareStages,
  type GlobalStage,
  isCanonicalName,
  LAYER_STAGES,
  type LayerStage,
  POST_STAGES,
  PRE_STAGES,
  parseStageName,
  type Stage,
  type StageKind,
  type StageRef,
  sortStageNames,
  stageInputs,
  stageKind,
  stageName,
} from './stages.js';
export {
  encodeTrace,
  type ReadTraceOptions,
  readTrace,
  TRACE_FORMAT,
  type Trace,
  type TraceEntry,
  type TraceMetadata,
  TraceRecorder,
  type TraceTensorInput,
  type TraceWriteMetadata,
  writeTraceFile,
} from './trace-file.js';
