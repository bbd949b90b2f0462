import type { SafetensorsDtype, SafetensorsTypedArray } from './dtypes.js';

/** One tensor of a safetensors file, as its header describes it. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute offset of the tensor's first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A parsed safetensors file; tensor bytes are read only when asked for. */
export interface SafetensorsFile {
  /** The path, or '<bytes>' for in-memory input. */
  readonly name: string;
  /** `__metadata__`, in header order (empty when absent). */
  readonly metadata: Map<string, string>;
  /** Every tensor in file (data offset) order. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** Absolute offset where the data region starts (8 + header length). */
  readonly dataOffset: number;
  get(name: string): SafetensorsTensorInfo | undefined;
  /**
   * The tensor's raw little-endian bytes. For in-memory input this is a view
   * of the caller's bytes (no copy); for a path it is freshly read.
   */
  tensorBytes(name: string): Promise<Uint8Array>;
  /** The tensor's elements in the dtype's typed array (F16/BF16: raw bits in a Uint16Array). */
  tensorData(name: string): Promise<SafetensorsTypedArray>;
  /** The tensor's elements converted to f32 (64-bit integers and F64 are rounded to the nearest f32). */
  tensorF32(name: string): Promise<Float32Array>;
  /** Releases the file handle; later reads fail with SafetensorsError. */
  close(): Promise<void>;
}

/** One tensor to write. `data` is the dtype's typed array (F16/BF16: Uint16Array bits) or raw bytes. */
export interface SafetensorsTensorInput {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
}

export type SafetensorsTensorsInput =
  | readonly SafetensorsTensorInput[]
  | ReadonlyMap<string, Omit<SafetensorsTensorInput, 'name'>>;

export type SafetensorsMetadataInput = Readonly<Record<string, string>> | ReadonlyMap<string, string>;
