export {
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsDtypeInfo,
  type SafetensorsTypedArray,
  safetensorsDtypeInfo,
} from './dtypes.js';
export { SAFETENSORS_MAX_HEADER_BYTES } from './header.js';
export { readSafetensors } from './reader.js';
export type {
  SafetensorsFile,
  SafetensorsMetadataInput,
  SafetensorsTensorInfo,
  SafetensorsTensorInput,
  SafetensorsTensorsInput,
} from './types.js';
export { writeSafetensors, writeSafetensorsFile } from './writer.js';
