/**
 * Sequential little-endian reads over a ByteSource, fetched in chunks: the
 * GGUF header (metadata and tensor infos) is parsed without ever loading the
 * tensor data, so a multi-gigabyte file can be listed with a few reads.
 *
 * Every read is preceded by `need(n, what)`, which checks the bytes exist
 * (throwing a GgufError that names `what` if the file ends first) and makes
 * them available; the typed getters after it are synchronous.
 */
import { GgufError } from '../../errors.js';
import type { ByteSource } from '../byte-source.js';

export const DEFAULT_CHUNK_SIZE = 64 * 1024;

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: keep a leading BOM so strings round-trip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class HeaderCursor {
  /** Absolute offset of the next byte to read. */
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(
    readonly source: ByteSource,
    private readonly chunkSize = DEFAULT_CHUNK_SIZE,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Bytes between the read position and the end of the file. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Throws a GgufError for this file; `offset` defaults to the read position. */
  fail(message: string, offset: number = this.pos): never {
    throw new GgufError(message, offset, this.source.name);
  }

  /** Ensures the next `n` bytes are buffered; `what` names the field for the truncation error. */
  need(n: number, what: string): Promise<void> | undefined {
    if (this.buffered(n)) return undefined;
    if (n > this.remaining) {
      this.fail(
        `truncated: ${what} needs ${n} bytes but only ${this.remaining} remain in the ${this.size}-byte file`,
      );
    }
    return this.fill(n);
  }

  private async fill(n: number): Promise<void> {
    const length = Math.min(Math.max(n, this.chunkSize), this.remaining);
    const start = this.pos;
    const bytes = await this.source.read(start, length);
    this.buf = bytes;
    this.bufStart = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private at(size: number): number {
    const i = this.pos - this.bufStart;
    this.pos += size;
    return i;
  }

  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.at(8), true);
  }

  /** Whether the next `n` bytes are already buffered. */
  buffered(n: number): boolean {
    const from = this.pos - this.bufStart;
    return from >= 0 && from + n <= this.buf.length;
  }

  /** Decodes the next `n` buffered bytes as strict UTF-8. */
  utf8(n: number, what: string): string {
    const start = this.pos;
    const i = this.at(n);
    try {
      return utf8.decode(this.buf.subarray(i, i + n));
    } catch {
      this.fail(`${what} is not valid UTF-8`, start);
    }
  }

  /** Like utf8, but invalid UTF-8 returns undefined and consumes nothing. */
  tryUtf8(n: number): string | undefined {
    const i = this.pos - this.bufStart;
    try {
      const s = utf8.decode(this.buf.subarray(i, i + n));
      this.pos += n;
      return s;
    } catch {
      return undefined;
    }
  }
}
