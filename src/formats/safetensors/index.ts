export {
  dtypeInfo,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsDtypeInfo,
  type SafetensorsTypedArray,
} from './dtypes.js';
export { MAX_HEADER_BYTES } from './header.js';
export { readSafetensors } from './reader.js';
export type {
  SafetensorsFile,
  SafetensorsMetadataInput,
  SafetensorsTensorInfo,
  SafetensorsTensorInput,
  SafetensorsTensorsInput,
} from './types.js';
export { writeSafetensors, writeSafetensorsFile } from './writer.js';
