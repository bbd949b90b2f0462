/**
 * The format as specified, checked against files built by hand byte by byte,
 * so the writer agrees with the format and not only with our reader.
 */
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../../src/formats/safetensors/index.js';
import { rawFile } from './helpers.js';

/** ASCII text → bytes, one char code per byte (no encoder involved). */
function ascii(text: string): number[] {
  return Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    if (code > 0x7f) throw new Error('not ASCII');
    return code;
  });
}

describe('safetensors format, byte for byte', () => {
  it('the writer produces exactly the hand-made file', () => {
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    expect(header.length).toBe(138);
    // biome-ignore format: one row per part of the file
    const expected = new Uint8Array([
      // u64 little-endian header length: 138 bytes of JSON padded to 144 = 0x90
      0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      ...ascii(header),
      ...ascii('      '), // 6 spaces of padding: the data starts 8-aligned
      // w: f32 1.0 and -2.0, little-endian
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
      // b: u8 1, 2, 3
      0x01, 0x02, 0x03,
    ]);
    const written = writeSafetensors(
      [
        { name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
        { name: 'b', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      ],
      { format: 'pt' },
    );
    expect(written).toEqual(expected);
  });

  it('no tensors and no metadata: the length, "{}" and six spaces', () => {
    expect(writeSafetensors([])).toEqual(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, ...ascii('{}      ')]));
  });

  it('reads the hand-made file', async () => {
    const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const file = await readSafetensors(rawFile(header, [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]));
    expect(file.dataOffset).toBe(8 + header.length);
    expect(file.tensors).toEqual([
      { name: 'w', dtype: 'F32', shape: [2], byteOffset: 8 + header.length, byteLength: 8 },
    ]);
    expect(await file.tensorData('w')).toEqual(new Float32Array([1, -2]));
  });

  it('pads the header with spaces to a multiple of 8 whatever the name length', async () => {
    for (let length = 0; length < 16; length++) {
      const name = 'x'.repeat(length);
      const bytes = writeSafetensors([{ name, dtype: 'F64', shape: [1], data: new Float64Array([length]) }]);
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(headerLength % 8).toBe(0);
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      expect(text.trimEnd().endsWith('}')).toBe(true);
      expect(text.slice(text.trimEnd().length)).toMatch(/^ {0,7}$/);
      const file = await readSafetensors(bytes);
      expect(file.get(name)!.byteOffset % 8).toBe(0);
      // Aligned data is exposed as a view of the input, not a copy.
      const data = await file.tensorData(name);
      expect(data.buffer).toBe(bytes.buffer);
      expect(data[0]).toBe(length);
    }
  });

  it('misaligned tensors (odd sizes before them, or an unpadded header) still read correctly', async () => {
    const bytes = writeSafetensors([
      { name: 'odd', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      { name: 'f32', dtype: 'F32', shape: [2], data: new Float32Array([0.5, -7]) },
      { name: 'i64', dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
    ]);
    const file = await readSafetensors(bytes);
    expect(file.get('f32')!.byteOffset % 4).not.toBe(0);
    expect(await file.tensorData('f32')).toEqual(new Float32Array([0.5, -7]));
    expect(await file.tensorData('i64')).toEqual(new BigInt64Array([-5n]));

    const header = '{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}'; // 55 bytes, not padded
    const unpadded = await readSafetensors(rawFile(header, [0x00, 0x3c]));
    expect(await unpadded.tensorF32('h')).toEqual(new Float32Array([1]));

    // Input bytes at an odd offset inside a larger buffer.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const fromShifted = await readSafetensors(shifted.subarray(1));
    expect(await fromShifted.tensorData('f32')).toEqual(new Float32Array([0.5, -7]));
  });

  it('accepts JSON whitespace before and after the object, as the reference does', async () => {
    for (const [before, after] of [
      ['', '        '],
      ['', '\r \t\n'],
      [' \n', ''],
      ['\t', '  '],
    ]) {
      const file = await readSafetensors(rawFile(`${before}{"__metadata__":{"k":"v"}}${after}`));
      expect([...file.metadata]).toEqual([['k', 'v']]);
    }
  });

  it('lists tensors in data order, whatever the order of the JSON keys', async () => {
    const header =
      '{"c":{"dtype":"U8","shape":[1],"data_offsets":[3,4]},' +
      '"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},' +
      '"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},' +
      '"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}';
    const file = await readSafetensors(rawFile(header, [10, 11, 12, 13]));
    expect(file.tensors.map((t) => t.name)).toEqual(['a', 'e', 'b', 'c']);
    expect(await file.tensorBytes('c')).toEqual(new Uint8Array([13]));
  });

  it('ignores unknown fields in a tensor entry and reads "__metadata__": null as no metadata', async () => {
    const header =
      '{"__metadata__":null,"t":{"extra":{"nested":[1,2.5e3,true,null,"x"]},' +
      '"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
    const file = await readSafetensors(rawFile(header, [1, 0, 0, 0]));
    expect(file.metadata.size).toBe(0);
    expect(await file.tensorData('t')).toEqual(new Int32Array([1]));
  });

  it('decodes JSON escapes and UTF-8 in names and metadata', async () => {
    const header =
      '{"__metadata__":{"a\\nb":"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/","日本":"語"},' +
      '"t\\u0000":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}';
    const file = await readSafetensors(rawFile(header));
    expect([...file.metadata]).toEqual([
      ['a\nb', 'é😀 "q" \\ /'],
      ['日本', '語'],
    ]);
    expect(file.tensors[0].name).toBe('t\u0000');
  });

  it('a zero in the shape makes any other dimension fine (product taken left to right)', async () => {
    const big = 2 ** 52;
    const file = await readSafetensors(
      rawFile(`{"z":{"dtype":"F64","shape":[0,${big},${big}],"data_offsets":[0,0]}}`),
    );
    expect(file.get('z')!.shape).toEqual([0, big, big]);
    expect(await file.tensorData('z')).toEqual(new Float64Array(0));
  });
});
