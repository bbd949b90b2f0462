/**
 * Reading and checking GGUF tensor infos: dimensions, type, offset, and where
 * the data lies. Everything a later tensorData() read relies on is checked
 * here, once: in the file, aligned, no overlaps, sizes that fit a double.
 */
import { byteSizeOf } from '../../types/ggml-types.js';
import type { HeaderCursor } from './cursor.js';
import { readGgufString } from './read-metadata.js';
import {
  type GgufTensorType,
  ggufTensorTypeById,
  isSupportedTensorType,
  REMOVED_GGML_TYPES,
} from './tensor-types.js';

/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

export interface GgufTensorInfo {
  readonly name: string;
  /** The ggml type; `isSupportedTensorType(type)` says whether plumbline can compute with it. */
  readonly type: GgufTensorType;
  /** Dimensions in ggml order: ne[0] is the contiguous (innermost) one. */
  readonly ne: readonly number[];
  /** Row-major shape, outermost first: `ne` reversed. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly count: number;
  /** Bytes of data. */
  readonly byteSize: number;
  /** Offset of the data from the start of the data section (as stored in the file). */
  readonly offset: number;
  /** Offset of the data from the start of the file. */
  readonly absoluteOffset: number;
}

/** A tensor info and where in the file its fields were, for error messages. */
interface PendingTensor {
  name: string;
  type: GgufTensorType;
  ne: number[];
  count: number;
  byteSize: number;
  offset: number;
  offsetFieldAt: number;
}

// Smallest tensor info: empty name (u64 length), n_dims = 0 (u32), type (u32), offset (u64).
export const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export async function readTensorInfos(
  cur: HeaderCursor,
  tensorCount: number,
  alignment: number,
): Promise<{ tensors: GgufTensorInfo[]; dataOffset: number }> {
  const pending: PendingTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const nameAt = cur.pos;
    const name = await readGgufString(cur, `tensor #${i} name`);
    if (names.has(name)) cur.fail(`duplicate tensor name ${JSON.stringify(name)}`, nameAt);
    names.add(name);
    pending.push(await readOneInfo(cur, name, alignment));
  }
  // The data section starts at the next multiple of the alignment after the infos.
  const dataOffset = alignUp(cur.pos, alignment);
  checkLayout(cur, pending, dataOffset);
  const tensors = pending.map((p): GgufTensorInfo => {
    const ne = Object.freeze(p.ne);
    return Object.freeze({
      name: p.name,
      type: p.type,
      ne,
      shape: Object.freeze([...ne].reverse()),
      count: p.count,
      byteSize: p.byteSize,
      offset: p.offset,
      absoluteOffset: dataOffset + p.offset,
    });
  });
  return { tensors, dataOffset };
}

async function readOneInfo(cur: HeaderCursor, name: string, alignment: number): Promise<PendingTensor> {
  const label = `tensor ${JSON.stringify(name)}`;
  await cur.need(4, `${label} n_dims`);
  const nDimsAt = cur.pos;
  const nDims = cur.u32();
  if (nDims > GGUF_MAX_DIMS)
    cur.fail(`${label} has ${nDims} dimensions; at most ${GGUF_MAX_DIMS} allowed`, nDimsAt);

  await cur.need(8 * nDims, `${label} dimensions`);
  const neAt = cur.pos;
  const ne: number[] = [];
  let product = 1n;
  for (let d = 0; d < nDims; d++) {
    const n = cur.u64();
    if (n > MAX_SAFE) cur.fail(`${label} dimension ne[${d}] = ${n} is larger than 2^53 - 1`, neAt + 8 * d);
    ne.push(Number(n));
    product *= n;
  }
  if (product > MAX_SAFE) {
    cur.fail(`${label} has ${product} elements (ne = [${ne.join(', ')}]), more than 2^53 - 1`, neAt);
  }
  const count = Number(product);

  await cur.need(4, `${label} type`);
  const typeAt = cur.pos;
  const typeId = cur.u32();
  const type = ggufTensorTypeById(typeId);
  if (!type) {
    const removed = REMOVED_GGML_TYPES.get(typeId);
    cur.fail(
      removed
        ? `${label} has ggml type id ${typeId} (${removed}), which ggml removed; no loader accepts it`
        : `${label} has unknown ggml type id ${typeId}`,
      typeAt,
    );
  }
  const rowLength = nDims > 0 ? ne[0] : 1;
  if (rowLength % type.blockSize !== 0) {
    cur.fail(
      `${label}: ne[0] = ${rowLength} is not a multiple of the ${type.name} block size ${type.blockSize}`,
      neAt,
    );
  }
  const byteSize = tensorByteSize(type, count);
  if (byteSize > Number.MAX_SAFE_INTEGER) {
    cur.fail(`${label} of ${count} ${type.name} elements is larger than 2^53 - 1 bytes`, neAt);
  }

  await cur.need(8, `${label} offset`);
  const offsetFieldAt = cur.pos;
  const offset = cur.u64();
  if (offset > MAX_SAFE) cur.fail(`${label} data offset ${offset} is larger than 2^53 - 1`, offsetFieldAt);
  if (offset % BigInt(alignment) !== 0n) {
    cur.fail(`${label} data offset ${offset} is not a multiple of the alignment ${alignment}`, offsetFieldAt);
  }
  return { name, type, ne, count, byteSize, offset: Number(offset), offsetFieldAt };
}

/** Bytes of `count` elements; exact for any count ≤ 2^53 (the caller has checked ne[0] against the block size). */
function tensorByteSize(type: GgufTensorType, count: number): number {
  if (isSupportedTensorType(type)) return byteSizeOf(type, count);
  return (count / type.blockSize) * type.typeSize;
}

/** Every tensor's data inside the file, and no two overlapping. */
function checkLayout(cur: HeaderCursor, tensors: PendingTensor[], dataOffset: number): void {
  for (const t of tensors) {
    const start = dataOffset + t.offset;
    if (start + t.byteSize > cur.size) {
      cur.fail(
        `tensor ${JSON.stringify(t.name)} data [${start}, ${start + t.byteSize}) extends past the end of the ${cur.size}-byte file`,
        t.offsetFieldAt,
      );
    }
  }
  const byStart = tensors.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1];
    const t = byStart[i];
    if (t.offset < prev.offset + prev.byteSize) {
      cur.fail(
        `tensor ${JSON.stringify(t.name)} data at offset ${t.offset} overlaps tensor ${JSON.stringify(prev.name)} (offset ${prev.offset}, ${prev.byteSize} bytes)`,
        t.offsetFieldAt,
      );
    }
  }
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
