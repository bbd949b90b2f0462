/** Files on disk: lazy reads by path, atomic writes, and I/O failures reported as SafetensorsError. */
import { mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readSafetensors,
  type SafetensorsTensorInput,
  writeSafetensors,
  writeSafetensorsFile,
} from '../../../src/formats/safetensors/index.js';
import { expectSafetensorsError } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plumbline-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tensors: SafetensorsTensorInput[] = [
  { name: 'blk.0.attn_norm', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  { name: 'tokens', dtype: 'I64', shape: [3], data: new BigInt64Array([1n, 2n, 3n]) },
  { name: 'mask', dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
];
const metadata = { format: 'plumbline-trace/1', producer: 'test' };

describe('safetensors files on disk', () => {
  it('writeSafetensorsFile writes the same bytes as writeSafetensors, and leaves no temporary file', async () => {
    const path = join(dir, 'same.safetensors');
    await writeSafetensorsFile(path, tensors, metadata);
    expect(new Uint8Array(await readFile(path))).toEqual(writeSafetensors(tensors, metadata));
    expect((await readdir(dir)).filter((f) => f.startsWith('same.'))).toEqual(['same.safetensors']);
  });

  it('reads by path: header up front, tensor bytes on request', async () => {
    const path = join(dir, 'lazy.safetensors');
    await writeSafetensorsFile(path, tensors, metadata);
    const file = await readSafetensors(path);
    try {
      expect(file.name).toBe(path);
      expect(Object.fromEntries(file.metadata)).toEqual(metadata);
      expect(file.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));

      // Change the tensor's bytes on disk after opening: a lazy reader sees the new bytes.
      const info = file.get('blk.0.attn_norm')!;
      const handle = await open(path, 'r+');
      await handle.write(new Uint8Array(new Float32Array([42]).buffer), 0, 4, info.byteOffset);
      await handle.close();
      expect(await file.tensorF32('blk.0.attn_norm')).toEqual(new Float32Array([42, 2, 3, 4, 5, 6]));
      expect(await file.tensorData('tokens')).toEqual(new BigInt64Array([1n, 2n, 3n]));
      expect(await file.tensorData('mask')).toEqual(new Uint8Array([1, 0, 1]));
    } finally {
      await file.close();
    }
    await expectSafetensorsError(file.tensorBytes('mask'), /file is closed/);
  });

  it('a file that shrinks after it was opened gives a SafetensorsError naming the tensor', async () => {
    const path = join(dir, 'shrinks.safetensors');
    await writeSafetensorsFile(path, tensors);
    const file = await readSafetensors(path);
    try {
      await truncate(path, file.dataOffset + 4);
      await expectSafetensorsError(
        file.tensorBytes('mask'),
        /cannot read tensor "mask" \(3 bytes at offset \d+\): .*shrank/,
      );
    } finally {
      await file.close();
    }
  });

  it('hostile files are rejected by path too, and the file is closed', async () => {
    const path = join(dir, 'hostile.safetensors');
    const header = new TextEncoder().encode('{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
    const bytes = new Uint8Array(8 + header.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    await writeFile(path, bytes);
    const error = await expectSafetensorsError(
      readSafetensors(path),
      /reach past the end of the 8-byte data region/,
    );
    expect(error.file).toBe(path);
    expect(error.message).toContain(path);

    await writeFile(path, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await expectSafetensorsError(
      readSafetensors(path),
      /header length 18446744073709551615 is over the 100000000-byte limit/,
    );
  });

  it('a missing file or a directory gives a SafetensorsError that keeps the cause', async () => {
    const missing = await expectSafetensorsError(
      readSafetensors(join(dir, 'nope.safetensors')),
      /cannot open file: .*ENOENT/,
    );
    expect((missing.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    await expectSafetensorsError(readSafetensors(dir), /cannot|too short/);
  });

  it('writing into a missing directory gives a SafetensorsError', async () => {
    await expectSafetensorsError(
      writeSafetensorsFile(join(dir, 'no', 'such', 'dir', 'x.safetensors'), tensors),
      /cannot write file: .*ENOENT/,
    );
  });

  it('invalid input is refused before anything is written', async () => {
    const path = join(dir, 'never.safetensors');
    await expectSafetensorsError(
      writeSafetensorsFile(path, [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }]),
      /needs 12 bytes, data has 8/,
    );
    expect((await readdir(dir)).some((f) => f.startsWith('never.'))).toBe(false);
  });
});
