/**
 * Reads safetensors files. From a path, only the 8-byte length and the header
 * are read up front; tensor bytes are read when asked for. Every length and
 * offset in the file is checked against the file size before it is used.
 */
import { FormatError, SafetensorsError } from '../../errors.js';
import { type ByteSource, openSource } from '../byte-source.js';
import { quoted, tensorLabel } from './describe.js';
import type { SafetensorsTypedArray } from './dtypes.js';
import { LENGTH_PREFIX_BYTES, parseHeader, SAFETENSORS_MAX_HEADER_BYTES } from './header.js';
import { bytesToTypedArray, typedArrayToF32 } from './typed-data.js';
import type { SafetensorsFile, SafetensorsTensorInfo } from './types.js';

/** Parses a safetensors file from a path (read lazily) or from bytes in memory (used in place). */
export async function readSafetensors(input: string | Uint8Array): Promise<SafetensorsFile> {
  // The tag, not instanceof, so bytes from another realm (a worker, vm) are accepted.
  const isBytes =
    ArrayBuffer.isView(input) && Object.prototype.toString.call(input) === '[object Uint8Array]';
  if (typeof input !== 'string' && !isBytes) {
    throw new SafetensorsError(`input must be a file path or a Uint8Array, got ${describeValue(input)}`);
  }
  const file = typeof input === 'string' ? input : undefined;
  const source = await guardIo(() => openSource(input), file, 'cannot open file');
  try {
    return await parseFile(source, file);
  } catch (error) {
    await source.close().catch(() => {});
    throw error;
  }
}

async function parseFile(source: ByteSource, file: string | undefined): Promise<SafetensorsFile> {
  if (source.size < LENGTH_PREFIX_BYTES) {
    throw new SafetensorsError(
      `file is ${source.size} bytes, too short for the ${LENGTH_PREFIX_BYTES}-byte header length`,
      0,
      file,
    );
  }
  const prefix = await guardIo(() => source.read(0, LENGTH_PREFIX_BYTES), file, 'cannot read header length');
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(
    0,
    true,
  );
  // Both checks happen on the bigint, before anything is sized by it.
  if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `header length ${headerLength} is over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`,
      0,
      file,
    );
  }
  if (headerLength > BigInt(source.size - LENGTH_PREFIX_BYTES)) {
    throw new SafetensorsError(
      `header length ${headerLength} runs past the end of the ${source.size}-byte file`,
      0,
      file,
    );
  }
  const headerBytes = await guardIo(
    () => source.read(LENGTH_PREFIX_BYTES, Number(headerLength)),
    file,
    'cannot read header',
  );
  const dataOffset = LENGTH_PREFIX_BYTES + Number(headerLength);
  const header = parseHeader(headerBytes, source.size - dataOffset, file);
  const tensors = header.tensors.map(
    (t): SafetensorsTensorInfo =>
      Object.freeze({
        name: t.name,
        dtype: t.dtype,
        shape: Object.freeze(t.shape), // ours alone: parsed from the header, never shared
        byteOffset: dataOffset + t.begin,
        byteLength: t.end - t.begin,
      }),
  );
  return new LazySafetensorsFile(source, file, header.metadata, Object.freeze(tensors), dataOffset);
}

class LazySafetensorsFile implements SafetensorsFile {
  readonly name: string;
  private readonly byName = new Map<string, SafetensorsTensorInfo>();
  private closed = false;

  constructor(
    private readonly source: ByteSource,
    private readonly file: string | undefined,
    readonly metadata: Map<string, string>,
    readonly tensors: readonly SafetensorsTensorInfo[],
    readonly dataOffset: number,
  ) {
    this.name = source.name;
    for (const tensor of tensors) this.byName.set(tensor.name, tensor);
  }

  get(name: string): SafetensorsTensorInfo | undefined {
    return this.byName.get(name);
  }

  async tensorBytes(name: string): Promise<Uint8Array> {
    const info = this.require(name);
    if (this.closed)
      throw new SafetensorsError(`cannot read ${tensorLabel(name)}: file is closed`, undefined, this.file);
    return guardIo(
      () => this.source.read(info.byteOffset, info.byteLength),
      this.file,
      `cannot read ${tensorLabel(name)} (${info.byteLength} bytes at offset ${info.byteOffset})`,
    );
  }

  async tensorData(name: string): Promise<SafetensorsTypedArray> {
    const bytes = await this.tensorBytes(name);
    return bytesToTypedArray(bytes, this.byName.get(name)!.dtype);
  }

  async tensorF32(name: string): Promise<Float32Array> {
    const data = await this.tensorData(name);
    return typedArrayToF32(data, this.byName.get(name)!.dtype);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }

  private require(name: string): SafetensorsTensorInfo {
    const info = this.byName.get(name);
    if (info === undefined) {
      throw new SafetensorsError(`no tensor named ${quoted(String(name))}`, undefined, this.file);
    }
    return info;
  }
}

/**
 * Runs a read and turns failures that are not already SafetensorsError (a file
 * that shrank, an I/O error, an allocation too large for this runtime) into
 * SafetensorsError, keeping the original as `cause`.
 */
async function guardIo<T>(read: () => Promise<T>, file: string | undefined, what: string): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof SafetensorsError) throw error;
    const offset = error instanceof FormatError ? error.offset : undefined;
    const detail = error instanceof Error ? error.message : String(error);
    const wrapped = new SafetensorsError(`${what}: ${detail}`, offset, file);
    wrapped.cause = error;
    throw wrapped;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}
