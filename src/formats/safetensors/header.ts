/**
 * Interprets and validates a safetensors header: `{ name: { dtype, shape,
 * data_offsets }, ..., "__metadata__": { key: "value" } }`. The rules follow
 * the reference implementation (huggingface/safetensors): tensors sorted by
 * data_offsets must tile the data region exactly, from 0 to its end, with no
 * hole or overlap; each tensor's byte count is product(shape) × dtype size;
 * `__metadata__` maps strings to strings (or is null). Unknown fields inside a
 * tensor entry are ignored, as the reference ignores them.
 *
 * Stricter than the reference, deliberately: a duplicate key in the root, a
 * tensor entry or the metadata is an error (serde keeps the last one for
 * maps, so two readers could see two different files); integers are limited
 * to 2^53 − 1 rather than 2^64 − 1 (no real file comes near either; beyond it
 * JavaScript numbers are inexact); a tensor entry must be a JSON object
 * (serde would also take a [dtype, shape, data_offsets] array).
 */
import { SafetensorsError } from '../../errors.js';
import { elementCount, quoted, shapeText, tensorLabel } from './describe.js';
import {
  describeBadDtype,
  isSafetensorsDtype,
  type SafetensorsDtype,
  safetensorsDtypeInfo,
} from './dtypes.js';
import { JsonReader, JsonSyntaxError } from './json.js';
import { decodeUtf8, utf8ByteLength } from './utf8.js';

/** Bytes of the little-endian u64 header length that starts the file. */
export const LENGTH_PREFIX_BYTES = 8;
/** The reference refuses headers above this size (100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';

export interface HeaderTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Offsets relative to the start of the data region. */
  readonly begin: number;
  readonly end: number;
}

export interface ParsedHeader {
  readonly metadata: Map<string, string>;
  /** Sorted by data offsets: file order. */
  readonly tensors: HeaderTensor[];
}

/**
 * Parses the header bytes (the N bytes after the length prefix) of a file
 * whose data region, after the header, is `dataSize` bytes long.
 */
export function parseHeader(headerBytes: Uint8Array, dataSize: number, file?: string): ParsedHeader {
  const decoded = decodeUtf8(headerBytes);
  if ('invalidAt' in decoded) {
    throw new SafetensorsError('header is not valid UTF-8', LENGTH_PREFIX_BYTES + decoded.invalidAt, file);
  }
  const text = decoded.text;
  /** Error at character `pos` of the header text, reported as a file offset. */
  const fail = (message: string, pos: number): never => {
    throw new SafetensorsError(message, LENGTH_PREFIX_BYTES + utf8ByteLength(text.slice(0, pos)), file);
  };

  const json = new JsonReader(text);
  let metadata = new Map<string, string>();
  const tensors: PositionedTensor[] = [];
  try {
    if (json.peekKind() !== 'object') {
      const pos = json.pos;
      fail(`header JSON must be an object, found ${json.skipAndDescribe(1)}`, pos);
    }
    json.readObject(1, (key, keyPos) => {
      if (key === METADATA_KEY) metadata = readMetadata(json, fail);
      else tensors.push(readTensorEntry(key, keyPos, json, fail));
    });
    json.finish();
  } catch (error) {
    if (error instanceof JsonSyntaxError)
      return fail(`header is not valid JSON: ${error.message}`, error.pos);
    throw error;
  }

  // Array.prototype.sort is stable: tensors at equal offsets (empty ones) keep header order.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkLayout(tensors, dataSize, fail);
  return { metadata, tensors: tensors.map(({ pos: _pos, ...tensor }) => tensor) };
}

type Fail = (message: string, pos: number) => never;

type PositionedTensor = HeaderTensor & { readonly pos: number };

/** Depths of the values the header format has: the root object, a tensor entry or metadata, a shape. */
const ENTRY_DEPTH = 2;
const FIELD_DEPTH = 3;

function readMetadata(json: JsonReader, fail: Fail): Map<string, string> {
  const metadata = new Map<string, string>();
  const pos = json.pos;
  const kind = json.peekKind();
  if (kind === 'literal' && json.readLiteral() === null) return metadata; // serde reads null as "no metadata"
  if (kind !== 'object')
    return fail(`${METADATA_KEY} must be an object, found ${describeAt(json, pos)}`, pos);
  json.readObject(ENTRY_DEPTH, (key) => {
    const valuePos = json.pos;
    if (json.peekKind() !== 'string') {
      fail(
        `${METADATA_KEY} value for key ${quoted(key)} must be a string, found ${json.skipAndDescribe(ENTRY_DEPTH)}`,
        valuePos,
      );
    }
    metadata.set(key, json.readString());
  });
  return metadata;
}

/** Describes a value already partly read (a literal that was not null): re-reads it from `pos`. */
function describeAt(json: JsonReader, pos: number): string {
  json.pos = pos;
  return json.skipAndDescribe(ENTRY_DEPTH);
}

function readTensorEntry(name: string, keyPos: number, json: JsonReader, fail: Fail): PositionedTensor {
  const label = tensorLabel(name);
  const entryPos = json.pos;
  if (json.peekKind() !== 'object') {
    return fail(`${label}: entry must be an object, found ${json.skipAndDescribe(ENTRY_DEPTH)}`, entryPos);
  }
  let dtype: SafetensorsDtype | undefined;
  let shape: number[] | undefined;
  let offsets: number[] | undefined;
  json.readObject(ENTRY_DEPTH, (key) => {
    const pos = json.pos;
    if (key === 'dtype') {
      if (json.peekKind() !== 'string') {
        fail(`${label}: dtype must be a string, found ${json.skipAndDescribe(ENTRY_DEPTH)}`, pos);
      }
      const value = json.readString();
      if (!isSafetensorsDtype(value)) fail(`${label}: ${describeBadDtype(value)}`, pos);
      dtype = value as SafetensorsDtype;
    } else if (key === 'shape') {
      shape = readIntegers(json, `${label}: shape`, fail);
    } else if (key === 'data_offsets') {
      offsets = readIntegers(json, `${label}: data_offsets`, fail);
      if (offsets.length !== 2) {
        fail(`${label}: data_offsets must be an array [begin, end], found ${offsets.length} entries`, pos);
      }
    } else {
      json.skipValue(ENTRY_DEPTH); // unknown fields are ignored, as the reference ignores them
    }
  });
  const missing = (field: string): never => fail(`${label}: missing field ${quoted(field)}`, entryPos);
  return {
    name,
    dtype: dtype ?? missing('dtype'),
    shape: shape ?? missing('shape'),
    begin: offsets?.[0] ?? missing('data_offsets'),
    end: offsets![1],
    pos: keyPos,
  };
}

const DIGITS = /^[0-9]+$/;

/** An array of non-negative integer literals, each at most 2^53 − 1. */
function readIntegers(json: JsonReader, what: string, fail: Fail): number[] {
  const pos = json.pos;
  if (json.peekKind() !== 'array') {
    const shape = what.endsWith('data_offsets') ? 'an array [begin, end]' : 'an array';
    return fail(`${what} must be ${shape}, found ${json.skipAndDescribe(ENTRY_DEPTH)}`, pos);
  }
  const values: number[] = [];
  json.readArray(FIELD_DEPTH, (index) => {
    const itemPos = json.pos;
    if (json.peekKind() !== 'number') {
      fail(
        `${what}[${index}] must be a non-negative integer, found ${json.skipAndDescribe(FIELD_DEPTH)}`,
        itemPos,
      );
    }
    const text = json.readNumberText();
    const value = Number(text);
    // Messages are built only on failure: a shape can have millions of entries.
    if (!(value <= Number.MAX_SAFE_INTEGER && DIGITS.test(text)))
      fail(`${what}[${index}] ${integerProblem(text)}`, itemPos);
    values.push(value);
  });
  return values;
}

/** What is wrong with a number literal that is not a non-negative integer up to 2^53 − 1. */
function integerProblem(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  if (text.startsWith('-')) return `is negative (${shown})`;
  if (!DIGITS.test(text)) return `must be an integer, found ${shown}`;
  return `is too large (${shown} > 2^53 − 1)`;
}

function checkLayout(tensors: readonly PositionedTensor[], dataSize: number, fail: Fail): void {
  let covered = 0;
  let previous: HeaderTensor | undefined;
  for (const tensor of tensors) {
    const { begin, end, pos } = tensor;
    const label = tensorLabel(tensor.name);
    const offsets = `data_offsets [${begin}, ${end}]`;
    if (end < begin) fail(`${label}: ${offsets} end before they begin`, pos);
    if (begin > covered) {
      const after = previous ? `the end of ${tensorLabel(previous.name)}` : 'the start of the data region';
      fail(
        `${label}: ${offsets} leave a ${begin - covered}-byte hole after ${after} (offset ${covered})`,
        pos,
      );
    }
    if (begin < covered) {
      fail(`${label}: ${offsets} overlap ${tensorLabel(previous!.name)}, which ends at ${covered}`, pos);
    }
    if (end > dataSize) {
      fail(`${label}: ${offsets} reach past the end of the ${dataSize}-byte data region`, pos);
    }
    const count = elementCount(tensor.shape);
    const { size } = safetensorsDtypeInfo(tensor.dtype);
    if (count === undefined || count * size > Number.MAX_SAFE_INTEGER) {
      fail(
        `${label}: shape ${shapeText(tensor.shape)} of ${tensor.dtype} is larger than 2^53 − 1 bytes`,
        pos,
      );
    }
    const expected = count! * size;
    if (end - begin !== expected) {
      fail(
        `${label}: ${offsets} span ${end - begin} bytes, but shape ${shapeText(tensor.shape)} of ${tensor.dtype} needs ${expected}`,
        pos,
      );
    }
    covered = end;
    previous = tensor;
  }
  if (covered !== dataSize) {
    const what = tensors.length === 0 ? 'the header lists no tensors' : `tensor data ends at ${covered}`;
    // Reported at the header start: no single tensor is at fault.
    fail(
      `${what}, but the data region holds ${dataSize} bytes (${dataSize - covered} not covered by any tensor)`,
      0,
    );
  }
}
