/**
 * Reading GGUF metadata values from an untrusted file: every length and count
 * is checked against the bytes left before anything is allocated for it.
 */
import type { HeaderCursor } from './cursor.js';
import {
  fixedSizeOf,
  GGUF_MAX_ARRAY_NESTING,
  type GgufArrayValue,
  type GgufMetadataValue,
  type GgufScalarType,
  GgufValueType,
  ggufValueTypeName,
  isGgufValueType,
  minEncodedSize,
} from './value-types.js';

/**
 * Longest string accepted. ggml allows 1 GiB, but a JS engine cannot hold a
 * string that long (V8 stops near 2^29 characters), and no real key, token or
 * template comes close.
 */
export const GGUF_MAX_STRING_BYTES = 256 * 1024 * 1024;

const MAX_STRING_BIGINT = BigInt(GGUF_MAX_STRING_BYTES);

/** Most items in one array (ggml's GGUF_MAX_ARRAY_ELEMENTS). */
export const GGUF_MAX_ARRAY_LENGTH = 1024 * 1024 * 1024;

/** Fixed-size array items are decoded this many bytes at a time, so no single read is huge. */
const ARRAY_READ_BYTES = 1024 * 1024;

export async function readGgufString(cur: HeaderCursor, what: string): Promise<string> {
  return readBufferedString(cur) ?? readStringChecked(cur, what);
}

/**
 * The common case without awaiting (a vocabulary has 10^5 strings): a string
 * wholly buffered, within limits and valid UTF-8. Otherwise undefined with
 * nothing consumed, and readStringChecked reports the problem.
 */
function readBufferedString(cur: HeaderCursor): string | undefined {
  if (!cur.buffered(8)) return undefined;
  const start = cur.pos;
  const length = cur.u64();
  const s =
    length <= MAX_STRING_BIGINT && cur.buffered(Number(length)) ? cur.tryUtf8(Number(length)) : undefined;
  if (s === undefined) cur.pos = start;
  return s;
}

async function readStringChecked(cur: HeaderCursor, what: string): Promise<string> {
  await cur.need(8, `length of ${what}`);
  const start = cur.pos;
  const length = cur.u64();
  if (length > BigInt(cur.remaining)) {
    cur.fail(`${what}: string length ${length} exceeds the ${cur.remaining} bytes left in the file`, start);
  }
  if (length > BigInt(GGUF_MAX_STRING_BYTES)) {
    cur.fail(`${what}: string length ${length} exceeds the limit of ${GGUF_MAX_STRING_BYTES} bytes`, start);
  }
  const n = Number(length);
  await cur.need(n, what);
  return cur.utf8(n, what);
}

/** Reads a u32 value type id and checks that it is one GGUF defines. */
export async function readValueType(cur: HeaderCursor, what: string): Promise<GgufValueType> {
  await cur.need(4, what);
  const start = cur.pos;
  const t = cur.u32();
  if (!isGgufValueType(t)) cur.fail(`${what}: unknown GGUF value type ${t}`, start);
  return t;
}

/** Reads one value of type `type` (already read); `what` names it in errors (the key, an index). */
export async function readMetadataValue(
  cur: HeaderCursor,
  type: GgufValueType,
  what: string,
  depth = 0,
): Promise<GgufMetadataValue> {
  if (type === GgufValueType.ARRAY) return readArray(cur, what, depth + 1);
  if (type === GgufValueType.STRING) return { type, value: await readGgufString(cur, what) };
  await cur.need(fixedSizeOf(type), what);
  return { type, value: readFixed(cur, type) } as GgufMetadataValue;
}

async function readArray(cur: HeaderCursor, what: string, depth: number): Promise<GgufArrayValue> {
  const start = cur.pos;
  if (depth > GGUF_MAX_ARRAY_NESTING) {
    cur.fail(`${what}: arrays nested more than ${GGUF_MAX_ARRAY_NESTING} deep`, start);
  }
  const itemType = await readValueType(cur, `${what}: array item type`);
  await cur.need(8, `${what}: array length`);
  const countAt = cur.pos;
  const count = cur.u64();
  const minBytes = BigInt(minEncodedSize(itemType));
  if (count * minBytes > BigInt(cur.remaining)) {
    cur.fail(
      `${what}: array of ${count} ${ggufValueTypeName(itemType)} items cannot fit in the ${cur.remaining} bytes left in the file`,
      countAt,
    );
  }
  if (count > BigInt(GGUF_MAX_ARRAY_LENGTH)) {
    cur.fail(`${what}: array length ${count} exceeds the limit of ${GGUF_MAX_ARRAY_LENGTH}`, countAt);
  }
  const n = Number(count);
  if (itemType === GgufValueType.ARRAY) {
    const items: GgufArrayValue[] = [];
    for (let i = 0; i < n; i++) items.push(await readArray(cur, `${what}[${i}]`, depth + 1));
    return { type: GgufValueType.ARRAY, itemType, value: items };
  }
  if (itemType === GgufValueType.STRING) {
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      items.push(readBufferedString(cur) ?? (await readStringChecked(cur, `${what}[${i}]`)));
    }
    return { type: GgufValueType.ARRAY, itemType, value: items };
  }
  return {
    type: GgufValueType.ARRAY,
    itemType,
    value: await readFixedArray(cur, itemType, n, what),
  } as GgufArrayValue;
}

async function readFixedArray(
  cur: HeaderCursor,
  itemType: GgufScalarType,
  count: number,
  what: string,
): Promise<(number | bigint | boolean)[]> {
  const size = fixedSizeOf(itemType);
  const perRead = Math.max(1, Math.floor(ARRAY_READ_BYTES / size));
  const items: (number | bigint | boolean)[] = [];
  for (let done = 0; done < count; ) {
    const n = Math.min(perRead, count - done);
    await cur.need(n * size, `${what}: array items ${done}..${done + n - 1}`);
    for (let i = 0; i < n; i++) items.push(readFixed(cur, itemType));
    done += n;
  }
  return items;
}

/** Decodes one buffered fixed-size value. */
function readFixed(cur: HeaderCursor, type: GgufScalarType): number | bigint | boolean {
  switch (type) {
    case GgufValueType.UINT8:
      return cur.u8();
    case GgufValueType.INT8:
      return cur.i8();
    case GgufValueType.UINT16:
      return cur.u16();
    case GgufValueType.INT16:
      return cur.i16();
    case GgufValueType.UINT32:
      return cur.u32();
    case GgufValueType.INT32:
      return cur.i32();
    case GgufValueType.FLOAT32:
      return cur.f32();
    case GgufValueType.BOOL:
      return cur.u8() !== 0; // ggml reads a bool as int8 != 0
    case GgufValueType.UINT64:
      return cur.u64();
    case GgufValueType.INT64:
      return cur.i64();
    case GgufValueType.FLOAT64:
      return cur.f64();
    default:
      throw new Error(`unreachable: ${ggufValueTypeName(type)} is not fixed-size`);
  }
}
