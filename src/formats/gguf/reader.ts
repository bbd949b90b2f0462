/**
 * GGUF reader. Parses the header (metadata and tensor infos) by ranged reads
 * and leaves tensor data on disk until tensorData() asks for it. Files are
 * untrusted: every problem is a GgufError naming the field and byte offset.
 */
import { GgufError } from '../../errors.js';
import { type ByteSource, openSource } from '../byte-source.js';
import { DEFAULT_CHUNK_SIZE, HeaderCursor } from './cursor.js';
import { readGgufString, readMetadataValue, readValueType } from './read-metadata.js';
import { type GgufTensorInfo, MIN_TENSOR_INFO_BYTES, readTensorInfos } from './read-tensor-infos.js';
import {
  type GgufMetadataValue,
  type GgufPlainValue,
  GgufValueType,
  ggufValueTypeName,
  toPlainValue,
} from './value-types.js';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = 'general.alignment';
/** Versions this reader understands (v2 and v3 have the same layout; v1 had 32-bit counts). */
export const GGUF_READABLE_VERSIONS: readonly number[] = [2, 3];

// Smallest key-value pair: key length (u64) + a 1-byte key + value type (u32) + a 1-byte value.
const MIN_KV_BYTES = 8 + 1 + 4 + 1;

export interface ReadGgufOptions {
  /** Name for error messages when reading bytes (a path names itself). */
  name?: string;
  /** Bytes fetched per header read (default 64 KiB). */
  chunkSize?: number;
}

export interface GgufFile {
  /** The path, or the name given for bytes. */
  readonly name: string;
  readonly fileSize: number;
  readonly version: number;
  readonly alignment: number;
  /** Absolute offset of the data section; tensor offsets are relative to it. */
  readonly dataOffset: number;
  /** Every key in file order, each value with its GGUF type. */
  readonly metadata: Map<string, GgufMetadataValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** A metadata value without its GGUF type (arrays as plain arrays), or undefined. */
  get(key: string): GgufPlainValue | undefined;
  /** The tensor info of that name, or undefined. */
  tensor(name: string): GgufTensorInfo | undefined;
  /**
   * One tensor's bytes, read by range (for bytes input, a view into them).
   * A GgufError if there is no such tensor or the file is closed.
   */
  tensorData(nameOrInfo: string | GgufTensorInfo): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Reads a GGUF file's header from a path (lazily, by range) or from bytes. */
export async function readGguf(input: string | Uint8Array, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  const source = await openSource(input, opts.name);
  return readGgufFromSource(source, opts);
}

/** Reads from any ByteSource; the GgufFile owns it (close() closes it; a failed read closes it too). */
export async function readGgufFromSource(source: ByteSource, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  try {
    return await parse(source, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
  } catch (e) {
    await source.close();
    throw e;
  }
}

async function parse(source: ByteSource, chunkSize: number): Promise<GgufFile> {
  const cur = new HeaderCursor(source, chunkSize);
  const version = await readMagicAndVersion(cur);

  await cur.need(16, 'tensor and metadata counts');
  const countsAt = cur.pos;
  const tensorCount = cur.u64();
  const kvCount = cur.u64();
  const needed = tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) + kvCount * BigInt(MIN_KV_BYTES);
  if (needed > BigInt(cur.remaining)) {
    cur.fail(
      `${tensorCount} tensors and ${kvCount} metadata keys cannot fit in the ${cur.remaining} bytes left in the file`,
      countsAt,
    );
  }

  const { metadata, valueOffsets } = await readMetadata(cur, Number(kvCount));
  const alignment = readAlignment(cur, metadata, valueOffsets.get(GGUF_ALIGNMENT_KEY));
  const { tensors, dataOffset } = await readTensorInfos(cur, Number(tensorCount), alignment);
  return new OpenGgufFile(source, version, alignment, dataOffset, metadata, tensors);
}

async function readMagicAndVersion(cur: HeaderCursor): Promise<number> {
  await cur.need(4, 'magic');
  const magic = [cur.u8(), cur.u8(), cur.u8(), cur.u8()];
  if (String.fromCharCode(...magic) !== GGUF_MAGIC) {
    const hex = magic.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    cur.fail(`not a GGUF file: magic is ${hex}, expected 47 47 55 46 ("GGUF")`, 0);
  }
  await cur.need(4, 'version');
  const version = cur.u32();
  if (!GGUF_READABLE_VERSIONS.includes(version)) {
    // A big-endian file's version reads as e.g. 0x03000000 here.
    const hint =
      version !== 0 && (version & 0xffff) === 0
        ? ' (a big-endian GGUF? only little-endian files are read)'
        : version === 1
          ? ' (GGUF v1 is obsolete; re-convert the model)'
          : '';
    cur.fail(`unsupported version ${version}${hint}; readable versions are 2 and 3`, 4);
  }
  return version;
}

async function readMetadata(
  cur: HeaderCursor,
  count: number,
): Promise<{ metadata: Map<string, GgufMetadataValue>; valueOffsets: Map<string, number> }> {
  // A Map, never a plain object: a key named __proto__ or constructor is just data.
  const metadata = new Map<string, GgufMetadataValue>();
  const valueOffsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const keyAt = cur.pos;
    const key = await readGgufString(cur, `metadata key #${i}`);
    if (key === '') cur.fail(`metadata key #${i} is empty`, keyAt);
    if (metadata.has(key)) cur.fail(`duplicate metadata key ${JSON.stringify(key)}`, keyAt);
    const label = `metadata ${JSON.stringify(key)}`;
    const type = await readValueType(cur, `${label} value type`);
    valueOffsets.set(key, cur.pos);
    metadata.set(key, await readMetadataValue(cur, type, label));
  }
  return { metadata, valueOffsets };
}

/** general.alignment: a u32 (llama.cpp insists on the type), a nonzero power of two. */
function readAlignment(
  cur: HeaderCursor,
  metadata: Map<string, GgufMetadataValue>,
  valueAt: number | undefined,
): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (!v) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== GgufValueType.UINT32) {
    cur.fail(`${GGUF_ALIGNMENT_KEY} must be a u32 but is a ${ggufValueTypeName(v.type)}`, valueAt);
  }
  const a = v.value;
  if (a === 0 || (a & (a - 1)) !== 0) {
    cur.fail(`${GGUF_ALIGNMENT_KEY} = ${a} is not a nonzero power of two`, valueAt);
  }
  return a;
}

class OpenGgufFile implements GgufFile {
  private readonly byName: Map<string, GgufTensorInfo>;
  private closed = false;

  constructor(
    private readonly source: ByteSource,
    readonly version: number,
    readonly alignment: number,
    readonly dataOffset: number,
    readonly metadata: Map<string, GgufMetadataValue>,
    readonly tensors: readonly GgufTensorInfo[],
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  get name(): string {
    return this.source.name;
  }

  get fileSize(): number {
    return this.source.size;
  }

  get(key: string): GgufPlainValue | undefined {
    const v = this.metadata.get(key);
    return v === undefined ? undefined : toPlainValue(v);
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  async tensorData(nameOrInfo: string | GgufTensorInfo): Promise<Uint8Array> {
    const name = typeof nameOrInfo === 'string' ? nameOrInfo : nameOrInfo.name;
    // Look the name up rather than trusting a caller's info: its offsets may be from another file.
    const info = this.byName.get(name);
    if (!info) throw new GgufError(`no tensor named ${JSON.stringify(name)}`, undefined, this.name);
    if (this.closed) throw new GgufError('file is closed', undefined, this.name);
    return this.source.read(info.absoluteOffset, info.byteSize);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }
}
