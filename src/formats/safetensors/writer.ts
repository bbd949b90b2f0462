/**
 * Writes safetensors files. Tensors are laid out in the order given, back to
 * back; the header JSON is padded with spaces to a multiple of 8 bytes (as the
 * reference writer does) so the data region starts 8-aligned. Callers who
 * want every tensor aligned for its element size can pass tensors sorted by
 * element size, largest first, as the reference writer orders them.
 */
import { SafetensorsError } from '../../errors.js';
import { elementCount, quoted, shapeText, tensorLabel } from './describe.js';
import {
  describeBadDtype,
  isSafetensorsDtype,
  type SafetensorsDtype,
  safetensorsDtypeInfo,
} from './dtypes.js';
import { LENGTH_PREFIX_BYTES, METADATA_KEY, SAFETENSORS_MAX_HEADER_BYTES } from './header.js';
import { littleEndianBytes } from './typed-data.js';
import type { SafetensorsMetadataInput, SafetensorsTensorInput, SafetensorsTensorsInput } from './types.js';

/** The file as bytes in memory. */
export function writeSafetensors(
  tensors: SafetensorsTensorsInput,
  metadata?: SafetensorsMetadataInput,
): Uint8Array {
  const parts = layout(tensors, metadata);
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch (error) {
    const wrapped = new SafetensorsError(
      `cannot allocate ${total} bytes for the file; use writeSafetensorsFile`,
    );
    wrapped.cause = error;
    throw wrapped;
  }
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * Writes the file part by part (the tensors are never concatenated in memory)
 * to a temporary file beside `path`, then renames it into place, so a reader
 * never sees a half-written file.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: SafetensorsTensorsInput,
  metadata?: SafetensorsMetadataInput,
): Promise<void> {
  const parts = layout(tensors, metadata);
  const { open, rename, rm } = await import('node:fs/promises');
  const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    const handle = await open(temporary, 'w');
    try {
      for (const part of parts) await handle.write(part);
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    const detail = error instanceof Error ? error.message : String(error);
    const wrapped = new SafetensorsError(`cannot write file: ${detail}`, undefined, path);
    wrapped.cause = error;
    throw wrapped;
  }
}

interface CheckedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Validates the input and returns the file as consecutive byte parts: length + header, then each tensor. */
function layout(
  tensors: SafetensorsTensorsInput,
  metadata: SafetensorsMetadataInput | undefined,
): Uint8Array[] {
  const checked = checkTensors(tensors);
  const metadataEntries = checkMetadata(metadata);

  const fields: string[] = [];
  if (metadataEntries.length > 0) {
    const body = metadataEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${body}}`);
  }
  let offset = 0;
  for (const t of checked) {
    const end = offset + t.bytes.byteLength;
    if (end > Number.MAX_SAFE_INTEGER)
      throw new SafetensorsError('tensor data is larger than 2^53 − 1 bytes');
    fields.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  if (headerLength > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `header would be ${headerLength} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const head = new Uint8Array(LENGTH_PREFIX_BYTES + headerLength).fill(0x20, LENGTH_PREFIX_BYTES);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, LENGTH_PREFIX_BYTES);
  return [head, ...checked.map((t) => t.bytes)];
}

function checkTensors(tensors: SafetensorsTensorsInput): CheckedTensor[] {
  let list: ReadonlyArray<SafetensorsTensorInput>;
  if (Array.isArray(tensors)) list = tensors as readonly SafetensorsTensorInput[];
  else if (tensors instanceof Map) list = [...tensors].map(([name, t]) => ({ ...t, name }));
  else throw new SafetensorsError('tensors must be an array or a Map');

  const seen = new Set<string>();
  return list.map((tensor, index) => {
    if (typeof tensor !== 'object' || tensor === null) {
      throw new SafetensorsError(`tensors[${index}] must be an object`);
    }
    const { name, dtype, shape, data } = tensor;
    checkString(name, `tensors[${index}].name`);
    const label = tensorLabel(name);
    if (name === METADATA_KEY) throw new SafetensorsError(`${label}: the name is reserved for the metadata`);
    if (seen.has(name)) throw new SafetensorsError(`${label}: duplicate tensor name`);
    seen.add(name);
    if (!isSafetensorsDtype(dtype)) {
      throw new SafetensorsError(
        `${label}: ${typeof dtype === 'string' ? describeBadDtype(dtype) : 'dtype must be a string'}`,
      );
    }
    const count = checkShape(shape, label);
    const { size, arrayName } = safetensorsDtypeInfo(dtype);
    if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      throw new SafetensorsError(`${label}: data must be a typed array, got ${typeof data}`);
    }
    // The tag, not instanceof, so arrays from another realm (a worker, vm) are recognized.
    const tag = Object.prototype.toString.call(data).slice(8, -1);
    const rawBytes = tag === 'Uint8Array';
    if (!rawBytes && tag !== arrayName) {
      throw new SafetensorsError(
        `${label}: ${dtype} data must be ${arrayName} (or raw bytes in a Uint8Array), got ${tag}`,
      );
    }
    const expected = count * size;
    if (data.byteLength !== expected) {
      throw new SafetensorsError(
        `${label}: shape ${shapeText(shape)} of ${dtype} needs ${expected} bytes, data has ${data.byteLength}`,
      );
    }
    const bytes = rawBytes
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : littleEndianBytes(data, size);
    return { name, dtype, shape: shape.slice(), bytes };
  });
}

/** Checks that every entry is a non-negative safe integer; returns the element count. */
function checkShape(shape: unknown, label: string): number {
  if (!Array.isArray(shape)) throw new SafetensorsError(`${label}: shape must be an array`);
  shape.forEach((dim, i) => {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new SafetensorsError(`${label}: shape[${i}] must be a non-negative integer, got ${String(dim)}`);
    }
  });
  const count = elementCount(shape);
  if (count === undefined)
    throw new SafetensorsError(`${label}: shape ${shapeText(shape)} has more than 2^53 − 1 elements`);
  return count;
}

function checkMetadata(metadata: SafetensorsMetadataInput | undefined): Array<[string, string]> {
  if (metadata === undefined) return [];
  let entries: Array<[unknown, unknown]>;
  if (metadata instanceof Map) entries = [...metadata];
  else if (typeof metadata === 'object' && metadata !== null) entries = Object.entries(metadata);
  else throw new SafetensorsError('metadata must be an object or a Map of strings');
  for (const [key, value] of entries) {
    checkString(key, 'metadata key');
    checkString(value, `metadata value for key ${quoted(key as string)}`);
  }
  return entries as Array<[string, string]>;
}

/** A string that UTF-8 can encode (no lone surrogates, which the reference rejects). */
function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new SafetensorsError(`${what} must be a string, got ${typeof value}`);
  if (/\p{Surrogate}/u.test(value))
    throw new SafetensorsError(`${what} ${quoted(value)} contains a lone surrogate`);
}
