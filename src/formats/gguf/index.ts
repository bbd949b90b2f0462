/** GGUF: ggml's model file format. Reader (lazy, by range; hostile-file safe) and writer. */

export { type GgufMetadataInput, type GgufMetadataInputValue, knownKeyType } from './metadata-input.js';
export { GGUF_MAX_ARRAY_LENGTH, GGUF_MAX_STRING_BYTES } from './read-metadata.js';
export { GGUF_MAX_DIMS, type GgufTensorInfo } from './read-tensor-infos.js';
export {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_READABLE_VERSIONS,
  type GgufFile,
  type ReadGgufOptions,
  readGguf,
  readGgufFromSource,
} from './reader.js';
export {
  type GgufSummary,
  type GgufTokenizerSummary,
  type GgufTypeTotal,
  summarizeGguf,
} from './summary.js';
export {
  GGML_TYPE_GEOMETRY,
  type GgmlTypeGeometry,
  type GgufTensorType,
  ggufTensorTypeById,
  ggufTensorTypeByName,
  isSupportedTensorType,
  REMOVED_GGML_TYPES,
  type UnsupportedGgmlTypeInfo,
} from './tensor-types.js';
export {
  GGUF_MAX_ARRAY_NESTING,
  type GgufArrayValue,
  type GgufBigIntType,
  type GgufMetadataValue,
  type GgufNumberType,
  type GgufPlainValue,
  type GgufScalarType,
  type GgufScalarValue,
  GgufValueType,
  ggufValueTypeName,
  toPlainValue,
} from './value-types.js';
export {
  GGML_MAX_NAME,
  type GgufTensorInput,
  resolveTensorType,
  type WriteGgufOptions,
  writeGguf,
  writeGgufFile,
} from './writer.js';
