/**
 * Every tensor type id a GGUF file can name. plumbline computes with the types
 * in src/types/ggml-types.ts; the others (iq2_xxs, tq1_0, mxfp4, ...) are still
 * listed with their geometry, so a file using them can be inspected and its
 * sizes and offsets checked, and its tensors copied byte for byte.
 */
import { type GgmlTypeInfo, ggmlTypeById } from '../../types/ggml-types.js';

/** A ggml type that exists upstream but that plumbline has no kernels for. */
export interface UnsupportedGgmlTypeInfo {
  readonly name: string;
  readonly id: number;
  readonly blockSize: number;
  readonly typeSize: number;
  readonly supported: false;
}

/** A GGUF tensor's type: one plumbline implements, or one it can only list and copy. */
export type GgufTensorType = GgmlTypeInfo | UnsupportedGgmlTypeInfo;

export interface GgmlTypeGeometry {
  readonly id: number;
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
}

/**
 * ggml's type_traits (ggml.c and ggml-common.h at ggml d99724f2): id, name,
 * elements per block, bytes per block. Ids missing here were removed from
 * ggml (see REMOVED_GGML_TYPES) and no loader accepts them.
 */
export const GGML_TYPE_GEOMETRY: readonly GgmlTypeGeometry[] = [
  g(0, 'f32', 1, 4),
  g(1, 'f16', 1, 2),
  g(2, 'q4_0', 32, 18),
  g(3, 'q4_1', 32, 20),
  g(6, 'q5_0', 32, 22),
  g(7, 'q5_1', 32, 24),
  g(8, 'q8_0', 32, 34),
  g(9, 'q8_1', 32, 36),
  g(10, 'q2_K', 256, 84),
  g(11, 'q3_K', 256, 110),
  g(12, 'q4_K', 256, 144),
  g(13, 'q5_K', 256, 176),
  g(14, 'q6_K', 256, 210),
  g(15, 'q8_K', 256, 292),
  g(16, 'iq2_xxs', 256, 66),
  g(17, 'iq2_xs', 256, 74),
  g(18, 'iq3_xxs', 256, 98),
  g(19, 'iq1_s', 256, 50),
  g(20, 'iq4_nl', 32, 18),
  g(21, 'iq3_s', 256, 110),
  g(22, 'iq2_s', 256, 82),
  g(23, 'iq4_xs', 256, 136),
  g(24, 'i8', 1, 1),
  g(25, 'i16', 1, 2),
  g(26, 'i32', 1, 4),
  g(27, 'i64', 1, 8),
  g(28, 'f64', 1, 8),
  g(29, 'iq1_m', 256, 56),
  g(30, 'bf16', 1, 2),
  g(34, 'tq1_0', 256, 54),
  g(35, 'tq2_0', 256, 66),
  g(39, 'mxfp4', 32, 17),
  g(40, 'nvfp4', 64, 36),
  g(41, 'q1_0', 128, 18),
  g(42, 'q2_0', 64, 18),
];

/** Ids ggml once had and removed (blck_size 0 in type_traits): named in error messages. */
export const REMOVED_GGML_TYPES: ReadonlyMap<number, string> = new Map([
  [4, 'q4_2'],
  [5, 'q4_3'],
  [31, 'q4_0_4_4'],
  [32, 'q4_0_4_8'],
  [33, 'q4_0_8_8'],
  [36, 'iq4_nl_4_4'],
  [37, 'iq4_nl_4_8'],
  [38, 'iq4_nl_8_8'],
]);

function g(id: number, name: string, blockSize: number, typeSize: number): GgmlTypeGeometry {
  return { id, name, blockSize, typeSize };
}

const TENSOR_TYPES_BY_ID = new Map<number, GgufTensorType>(
  GGML_TYPE_GEOMETRY.map((t) => [
    t.id,
    ggmlTypeById(t.id) ?? Object.freeze({ ...t, supported: false as const }),
  ]),
);
const TENSOR_TYPES_BY_NAME = new Map<string, GgufTensorType>(
  [...TENSOR_TYPES_BY_ID.values()].map((t) => [t.name, t]),
);

/** The tensor type for a GGUF type id, or undefined if ggml has no such type. */
export function ggufTensorTypeById(id: number): GgufTensorType | undefined {
  return TENSOR_TYPES_BY_ID.get(id);
}

/** The tensor type for a ggml type name (`q4_K`, `iq2_xxs`, ...), or undefined. */
export function ggufTensorTypeByName(name: string): GgufTensorType | undefined {
  return TENSOR_TYPES_BY_NAME.get(name);
}

/** Whether plumbline implements the type (then it is a full GgmlTypeInfo). */
export function isSupportedTensorType(t: GgufTensorType): t is GgmlTypeInfo {
  return !('supported' in t);
}
