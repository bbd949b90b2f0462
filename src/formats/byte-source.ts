/**
 * Random access to a file's bytes without holding the whole file in JS memory:
 * parsers read headers by range, and tensor data is read only when asked for.
 */
import { FormatError } from '../errors.js';

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** A name for error messages (the path, or '<bytes>'). */
  readonly name: string;
  /**
   * Exactly `length` bytes at `offset`. The caller checks bounds first; a
   * read past the end is still refused here (never a short read).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(src: ByteSource, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > src.size
  ) {
    throw new FormatError(
      'file',
      `read of ${length} bytes at ${offset} is outside the ${src.size}-byte file`,
      offset,
      src.name,
    );
  }
}

/** A source over bytes already in memory (reads are zero-copy views). */
export function bytesSource(bytes: Uint8Array, name = '<bytes>'): ByteSource {
  const src: ByteSource = {
    size: bytes.byteLength,
    name,
    async read(offset, length) {
      checkRange(src, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    async close() {},
  };
  return src;
}

/** A source over a file on disk (Node only; loaded lazily so browser bundles do not need node:fs). */
export async function fileSource(path: string): Promise<ByteSource> {
  const { open } = await import('node:fs/promises');
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  const src: ByteSource = {
    size,
    name: path,
    async read(offset, length) {
      checkRange(src, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new FormatError('file', 'file shrank while being read', offset + done, path);
        done += bytesRead;
      }
      return out;
    },
    async close() {
      await handle.close();
    },
  };
  return src;
}

/** A source from either a path or bytes. */
export async function openSource(input: string | Uint8Array, name?: string): Promise<ByteSource> {
  return typeof input === 'string' ? fileSource(input) : bytesSource(input, name);
}
