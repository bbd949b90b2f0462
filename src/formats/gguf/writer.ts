/**
 * GGUF writer. Lays tensors out the way ggml does (in the given order, each
 * offset aligned, zero padding between them and after the last), so a file
 * written here loads in llama.cpp and reads back identically here.
 */
import { GgufError, ShapeError, SizeError, UnsupportedTypeError } from '../../errors.js';
import type { GgmlTypeName } from '../../types/ggml-types.js';
import { ByteWriter, utf8Length } from './byte-writer.js';
import { type GgufMetadataInput, normalizeMetadata } from './metadata-input.js';
import { alignUp, GGUF_MAX_DIMS } from './read-tensor-infos.js';
import { GGUF_ALIGNMENT_KEY, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from './reader.js';
import { type GgufTensorType, ggufTensorTypeById, ggufTensorTypeByName } from './tensor-types.js';
import {
  type GgufArrayValue,
  type GgufMetadataValue,
  type GgufScalarType,
  GgufValueType,
} from './value-types.js';

/** ggml's GGML_MAX_NAME: a tensor name must be shorter than this many bytes or ggml refuses the file. */
export const GGML_MAX_NAME = 64;

export interface GgufTensorInput {
  name: string;
  /** A type info, a ggml type name (`'q4_K'`, `'iq2_xxs'`), or a ggml type id. */
  type: GgufTensorType | GgmlTypeName | string | number;
  /** Row-major shape, outermost first. Give `shape` or `ne`, not both. */
  shape?: readonly number[];
  /** ggml order, ne[0] contiguous (= shape reversed). */
  ne?: readonly number[];
  /** The tensor's bytes in ggml's layout; the length must equal the type's size for the shape. */
  data: Uint8Array;
}

export interface WriteGgufOptions {
  /** Keys in the order to write them; see metadata-input.ts for how plain JS values are typed. */
  metadata?: GgufMetadataInput;
  tensors?: readonly GgufTensorInput[];
  /**
   * Data alignment (a power of two). Defaults to `general.alignment` in the
   * metadata, else 32. A non-default alignment not in the metadata is added
   * to it as a u32, since readers learn the alignment only from that key.
   */
  alignment?: number;
  /** 3 (default) or 2; both have the same layout. */
  version?: 2 | 3;
}

/** A checked tensor, ready to write. */
interface PlannedTensor {
  name: string;
  type: GgufTensorType;
  ne: readonly number[];
  data: Uint8Array;
  offset: number;
}

interface Plan {
  header: Uint8Array;
  tensors: PlannedTensor[];
  alignment: number;
  totalSize: number;
}

/** The whole file in memory. */
export function writeGguf(opts: WriteGgufOptions): Uint8Array {
  const plan = planGguf(opts);
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.header);
  for (const t of plan.tensors) out.set(t.data, plan.header.length + t.offset);
  return out;
}

/** Writes the file piece by piece (header, then each tensor and its padding) without assembling it in memory. */
export async function writeGgufFile(path: string, opts: WriteGgufOptions): Promise<void> {
  const plan = planGguf(opts);
  const { open } = await import('node:fs/promises');
  const handle = await open(path, 'w');
  try {
    await handle.write(plan.header);
    let written = plan.header.length;
    for (const t of plan.tensors) {
      await handle.write(t.data);
      written += t.data.length;
      const pad = alignUp(written, plan.alignment) - written;
      if (pad > 0) await handle.write(new Uint8Array(pad));
      written += pad;
    }
  } finally {
    await handle.close();
  }
}

function planGguf(opts: WriteGgufOptions): Plan {
  const version = opts.version ?? 3;
  if (version !== 2 && version !== 3)
    throw new GgufError(`cannot write version ${String(version)}; only 2 and 3`);
  const metadata = normalizeMetadata(opts.metadata);
  const alignment = resolveAlignment(metadata, opts.alignment);
  const tensors = planTensors(opts.tensors ?? [], alignment);

  const w = new ByteWriter();
  for (const c of GGUF_MAGIC) w.u8(c.charCodeAt(0));
  w.u32(version);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(value.type);
    encodeValue(w, value);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const n of t.ne) w.u64(n);
    w.u32(t.type.id);
    w.u64(t.offset);
  }
  w.padTo(alignment);
  const header = w.finish();
  const last = tensors.at(-1);
  const dataSize = last ? alignUp(last.offset + last.data.length, alignment) : 0;
  return { header, tensors, alignment, totalSize: header.length + dataSize };
}

function resolveAlignment(metadata: Map<string, GgufMetadataValue>, requested: number | undefined): number {
  const inMetadata = metadata.get(GGUF_ALIGNMENT_KEY);
  if (inMetadata && inMetadata.type !== GgufValueType.UINT32) {
    throw new GgufError(`${GGUF_ALIGNMENT_KEY} must be a u32`);
  }
  const fromMetadata = inMetadata?.value as number | undefined;
  if (requested !== undefined && fromMetadata !== undefined && requested !== fromMetadata) {
    throw new GgufError(
      `alignment ${requested} contradicts ${GGUF_ALIGNMENT_KEY} = ${fromMetadata} in the metadata`,
    );
  }
  const alignment = requested ?? fromMetadata ?? GGUF_DEFAULT_ALIGNMENT;
  if (
    !Number.isInteger(alignment) ||
    alignment <= 0 ||
    alignment > 0x80000000 ||
    (alignment & (alignment - 1)) !== 0
  ) {
    throw new GgufError(`alignment ${alignment} is not a power of two that fits a u32`);
  }
  if (fromMetadata === undefined && alignment !== GGUF_DEFAULT_ALIGNMENT) {
    metadata.set(GGUF_ALIGNMENT_KEY, { type: GgufValueType.UINT32, value: alignment });
  }
  return alignment;
}

function planTensors(inputs: readonly GgufTensorInput[], alignment: number): PlannedTensor[] {
  const names = new Set<string>();
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const input of inputs) {
    const label = `tensor ${JSON.stringify(input.name)}`;
    checkTensorName(input.name, label, names);
    const type = resolveTensorType(input.type);
    const ne = resolveNe(input, label);
    const count = ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count))
      throw new ShapeError(`${label}: ${ne.join(' × ')} elements is more than 2^53 - 1`);
    const rowLength = ne.length > 0 ? ne[0] : 1;
    if (rowLength % type.blockSize !== 0) {
      throw new ShapeError(
        `${label}: ne[0] = ${rowLength} is not a multiple of the ${type.name} block size ${type.blockSize}`,
      );
    }
    const byteSize = (count / type.blockSize) * type.typeSize;
    if (!(input.data instanceof Uint8Array)) throw new GgufError(`${label}: data must be a Uint8Array`);
    if (input.data.length !== byteSize) {
      throw new SizeError(
        `${label}: ${input.data.length} bytes of data, but ${type.name} with ne = [${ne.join(', ')}] takes ${byteSize}`,
      );
    }
    planned.push({ name: input.name, type, ne, data: input.data, offset });
    offset = alignUp(offset + byteSize, alignment);
  }
  return planned;
}

function checkTensorName(name: unknown, label: string, seen: Set<string>): asserts name is string {
  if (typeof name !== 'string') throw new GgufError(`tensor name ${String(name)} is not a string`);
  if (/[\uD800-\uDFFF]/u.test(name)) throw new GgufError(`${label}: name contains a lone UTF-16 surrogate`);
  if (utf8Length(name) >= GGML_MAX_NAME)
    throw new GgufError(`${label}: name is ${GGML_MAX_NAME} bytes or longer; ggml cannot load it`);
  if (seen.has(name)) throw new GgufError(`duplicate tensor name ${JSON.stringify(name)}`);
  seen.add(name);
}

/** Any ggml type that exists upstream (written byte for byte), by info, name or id. */
export function resolveTensorType(t: GgufTensorInput['type']): GgufTensorType {
  const found =
    typeof t === 'string'
      ? ggufTensorTypeByName(t)
      : typeof t === 'number'
        ? ggufTensorTypeById(t)
        : typeof t === 'object' && t !== null
          ? ggufTensorTypeById(t.id)
          : undefined;
  if (!found || (typeof t === 'object' && found.name !== t.name)) {
    throw new UnsupportedTypeError(
      typeof t === 'object' ? String(t?.name) : String(t),
      'not a ggml tensor type',
    );
  }
  return found;
}

function resolveNe(input: GgufTensorInput, label: string): readonly number[] {
  if ((input.shape === undefined) === (input.ne === undefined))
    throw new ShapeError(`${label}: give shape or ne (exactly one)`);
  const dims = input.ne ?? [...(input.shape ?? [])].reverse();
  if (!Array.isArray(dims) || dims.length > GGUF_MAX_DIMS) {
    throw new ShapeError(`${label}: ${GGUF_MAX_DIMS} dimensions at most, got ${String(dims.length)}`);
  }
  for (const n of dims) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ShapeError(`${label}: dimension ${String(n)} is not a non-negative integer`);
  }
  return Object.freeze([...dims]);
}

function encodeValue(w: ByteWriter, v: GgufMetadataValue): void {
  if (v.type === GgufValueType.ARRAY) encodeArray(w, v);
  else encodeScalar(w, v.type, v.value);
}

function encodeArray(w: ByteWriter, v: Pick<GgufArrayValue, 'itemType' | 'value'>): void {
  w.u32(v.itemType);
  w.u64(v.value.length);
  if (v.itemType === GgufValueType.ARRAY) {
    for (const inner of v.value as readonly GgufArrayValue[]) encodeArray(w, inner);
  } else {
    for (const x of v.value as readonly (number | bigint | boolean | string)[])
      encodeScalar(w, v.itemType, x);
  }
}

function encodeScalar(w: ByteWriter, type: GgufScalarType, x: number | bigint | boolean | string): void {
  switch (type) {
    case GgufValueType.UINT8:
      w.u8(x as number);
      return;
    case GgufValueType.INT8:
      w.i8(x as number);
      return;
    case GgufValueType.UINT16:
      w.u16(x as number);
      return;
    case GgufValueType.INT16:
      w.i16(x as number);
      return;
    case GgufValueType.UINT32:
      w.u32(x as number);
      return;
    case GgufValueType.INT32:
      w.i32(x as number);
      return;
    case GgufValueType.FLOAT32:
      w.f32(x as number);
      return;
    case GgufValueType.BOOL:
      w.u8(x ? 1 : 0);
      return;
    case GgufValueType.STRING:
      w.string(x as string);
      return;
    case GgufValueType.UINT64:
      w.u64(BigInt(x as bigint | number));
      return;
    case GgufValueType.INT64:
      w.i64(BigInt(x as bigint | number));
      return;
    case GgufValueType.FLOAT64:
      w.f64(x as number);
      return;
  }
}
