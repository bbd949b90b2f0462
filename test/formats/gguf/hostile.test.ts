/**
 * Hostile and malformed files: each must be refused with a GgufError that
 * names the problem and the byte offset where it was found.
 */
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../../src/errors.js';
import { bytesSource } from '../../../src/formats/byte-source.js';
import { readGguf, readGgufFromSource, GgufValueType as T } from '../../../src/formats/gguf/index.js';
import { expectGgufError, RawGguf, sampleFile } from './helpers.js';

const HEADER = 24; // magic, version, n_tensors, n_kv

/** A file with one tensor info after `kvs` (already written), padded, with `dataBytes` of data. */
function withTensors(
  build: (r: RawGguf) => RawGguf,
  counts: { tensors: number; kvs?: number },
  dataBytes = 0,
) {
  const r = build(new RawGguf().header({ tensors: counts.tensors, kvs: counts.kvs ?? 0 }));
  return r.padTo(32).zeros(dataBytes).build();
}

describe('GGUF reader refuses hostile files with a typed error', () => {
  it('wrong magic', async () => {
    const bytes = new RawGguf().header({ magic: 'GGML', tensors: 0, kvs: 0 }).build();
    const e = await expectGgufError(readGguf(bytes), /not a GGUF file: magic is 47 47 4d 4c/);
    expect(e.offset).toBe(0);
  });

  it('unsupported versions: 1, 0, 4, and a big-endian v3', async () => {
    for (const version of [1, 0, 4]) {
      const e = await expectGgufError(
        readGguf(new RawGguf().header({ version, tensors: 0, kvs: 0 }).build()),
        new RegExp(`unsupported version ${version}\\b`),
      );
      expect(e.offset).toBe(4);
    }
    await expectGgufError(
      readGguf(new RawGguf().header({ version: 0x03000000, tensors: 0, kvs: 0 }).build()),
      /unsupported version 50331648 \(a big-endian GGUF\?/,
    );
  });

  it('truncated at every byte of a valid file', async () => {
    const whole = sampleFile();
    for (let n = 0; n < whole.length; n++) {
      const err = await readGguf(whole.subarray(0, n)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(err instanceof GgufError))
        expect.fail(`prefix of ${n} bytes: expected a GgufError, got ${String(err)}`);
      expect(err.message).toMatch(/truncated|past the end|cannot fit|exceeds the \d+ bytes left/);
    }
  });

  it('tensor and key counts larger than the file can hold', async () => {
    for (const [tensors, kvs] of [
      [2n ** 64n - 1n, 0n],
      [0n, 2n ** 64n - 1n],
      [2n ** 40n, 2n ** 40n],
      [0n, 1n],
    ]) {
      const e = await expectGgufError(
        readGguf(new RawGguf().header({ tensors, kvs }).build()),
        new RegExp(`${tensors} tensors and ${kvs} metadata keys cannot fit`),
      );
      expect(e.offset).toBe(8);
    }
  });

  it('string lengths larger than the rest of the file', async () => {
    const key = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .u64(2n ** 63n)
      .zeros(20)
      .build();
    const e = await expectGgufError(
      readGguf(key),
      /metadata key #0: string length 9223372036854775808 exceeds the 20 bytes left/,
    );
    expect(e.offset).toBe(HEADER);
    const value = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .str('k')
      .u32(T.STRING)
      .u64(1000)
      .zeros(20)
      .build();
    await expectGgufError(readGguf(value), /metadata "k": string length 1000 exceeds the 20 bytes left/);
  });

  it('array counts that cannot fit, before allocating anything', async () => {
    for (const [itemType, count] of [
      [T.UINT8, 2n ** 64n - 1n],
      [T.UINT64, 2n ** 40n],
      [T.STRING, 100n],
      [T.ARRAY, 10n],
    ] as const) {
      const bytes = new RawGguf()
        .header({ tensors: 0, kvs: 1 })
        .str('arr')
        .u32(T.ARRAY)
        .u32(itemType)
        .u64(count)
        .zeros(64)
        .build();
      const e = await expectGgufError(
        readGguf(bytes),
        new RegExp(`metadata "arr": array of ${count} \\w+ items cannot fit in the 64 bytes left`),
      );
      expect(e.offset).toBe(HEADER + 8 + 3 + 4 + 4);
    }
  });

  it('arrays nested deeper than the limit', async () => {
    const r = new RawGguf().header({ tensors: 0, kvs: 1 }).str('deep').u32(T.ARRAY);
    for (let i = 0; i < 5; i++) r.u32(T.ARRAY).u64(1);
    r.u32(T.UINT8).u64(0);
    await expectGgufError(
      readGguf(r.build()),
      /metadata "deep"\[0\]\[0\]\[0\]\[0\]: arrays nested more than 4 deep/,
    );
    // Four levels is fine.
    const ok = new RawGguf().header({ tensors: 0, kvs: 1 }).str('deep').u32(T.ARRAY);
    for (let i = 0; i < 3; i++) ok.u32(T.ARRAY).u64(1);
    ok.u32(T.UINT8).u64(1).u8(7);
    expect((await readGguf(ok.build())).get('deep')).toEqual([[[[7]]]]);
  });

  it('unknown value types, top level and in arrays', async () => {
    const e = await expectGgufError(
      readGguf(new RawGguf().header({ tensors: 0, kvs: 1 }).str('k').u32(13).zeros(8).build()),
      /metadata "k" value type: unknown GGUF value type 13/,
    );
    expect(e.offset).toBe(HEADER + 9);
    await expectGgufError(
      readGguf(
        new RawGguf().header({ tensors: 0, kvs: 1 }).str('k').u32(T.ARRAY).u32(0xffffffff).u64(0).build(),
      ),
      /metadata "k": array item type: unknown GGUF value type 4294967295/,
    );
  });

  it('duplicate and empty metadata keys', async () => {
    const dup = new RawGguf().header({ tensors: 0, kvs: 2 }).kvU32('a', 1).kvU32('a', 2).build();
    const e = await expectGgufError(readGguf(dup), /duplicate metadata key "a"/);
    expect(e.offset).toBe(HEADER + 8 + 1 + 4 + 4);
    await expectGgufError(
      readGguf(new RawGguf().header({ tensors: 0, kvs: 1 }).kvU32('', 1).build()),
      /metadata key #0 is empty/,
    );
  });

  it('invalid UTF-8 in keys, values and tensor names', async () => {
    const badKey = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .rawStr([0x61, 0xff])
      .u32(T.UINT8)
      .u8(0)
      .build();
    const e = await expectGgufError(readGguf(badKey), /metadata key #0 is not valid UTF-8/);
    expect(e.offset).toBe(HEADER + 8);
    const badValue = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .str('k')
      .u32(T.STRING)
      .rawStr([0xc3, 0x28])
      .build();
    await expectGgufError(readGguf(badValue), /metadata "k" is not valid UTF-8/);
    const surrogate = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .str('k')
      .u32(T.STRING)
      .rawStr([0xed, 0xa0, 0x80])
      .build();
    await expectGgufError(readGguf(surrogate), /not valid UTF-8/);
    const badItem = new RawGguf().header({ tensors: 0, kvs: 1 }).str('k').u32(T.ARRAY).u32(T.STRING).u64(2);
    const item = await expectGgufError(
      readGguf(badItem.str('ok').rawStr([0xe2, 0x82]).build()),
      /metadata "k"\[1\] is not valid UTF-8/,
    );
    expect(item.offset).toBe(HEADER + 9 + 4 + 4 + 8 + 10 + 8);
    const badName = withTensors((r) => r.rawStr([0x80]).u32(1).u64(4).u32(0).u64(0), { tensors: 1 }, 16);
    await expectGgufError(readGguf(badName), /tensor #0 name is not valid UTF-8/);
  });

  it('general.alignment that is not a nonzero power of two, or not a u32', async () => {
    for (const a of [0, 48, 3]) {
      const bytes = new RawGguf().header({ tensors: 0, kvs: 1 }).kvU32('general.alignment', a).build();
      const e = await expectGgufError(
        readGguf(bytes),
        new RegExp(`general.alignment = ${a} is not a nonzero power of two`),
      );
      expect(e.offset).toBe(HEADER + 8 + 17 + 4);
    }
    const i32 = new RawGguf()
      .header({ tensors: 0, kvs: 1 })
      .str('general.alignment')
      .u32(T.INT32)
      .u32(32)
      .build();
    await expectGgufError(readGguf(i32), /general.alignment must be a u32 but is a i32/);
  });

  it('more than 4 dimensions', async () => {
    const bytes = withTensors((r) => r.str('t').u32(5), { tensors: 1 });
    const e = await expectGgufError(readGguf(bytes), /tensor "t" has 5 dimensions; at most 4 allowed/);
    expect(e.offset).toBe(HEADER + 9);
  });

  it('dimensions whose product overflows or exceeds 2^53', async () => {
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [2n ** 32n, 2n ** 32n], 0, 0), { tensors: 1 })),
      /tensor "t" has 18446744073709551616 elements .* more than 2\^53 - 1/,
    );
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [2n ** 27n, 2n ** 27n], 0, 0), { tensors: 1 })),
      /more than 2\^53 - 1/,
    );
    const e = await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [4, 2n ** 64n - 1n], 0, 0), { tensors: 1 })),
      /tensor "t" dimension ne\[1\] = 18446744073709551615 is larger than 2\^53 - 1/,
    );
    expect(e.offset).toBe(HEADER + 9 + 4 + 8);
    // Within 2^53 elements but not 2^53 bytes: f64 (8 bytes each).
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [2n ** 52n], 28, 0), { tensors: 1 })),
      /tensor "t" of 4503599627370496 f64 elements is larger than 2\^53 - 1 bytes/,
    );
  });

  it('ne[0] not a multiple of the block size', async () => {
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [33, 2], 2, 0), { tensors: 1 }, 1000)),
      /tensor "t": ne\[0\] = 33 is not a multiple of the q4_0 block size 32/,
    );
    // A quantized scalar has ne[0] = 1.
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('s', [], 12, 0), { tensors: 1 }, 1000)),
      /ne\[0\] = 1 is not a multiple of the q4_K block size 256/,
    );
  });

  it('unknown and removed ggml type ids', async () => {
    const e = await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [4], 99, 0), { tensors: 1 }, 16)),
      /tensor "t" has unknown ggml type id 99/,
    );
    expect(e.offset).toBe(HEADER + 9 + 4 + 8);
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [32], 31, 0), { tensors: 1 }, 64)),
      /ggml type id 31 \(q4_0_4_4\), which ggml removed/,
    );
  });

  it('duplicate tensor names', async () => {
    const bytes = withTensors((r) => r.tensor('t', [4], 0, 0).tensor('t', [4], 0, 32), { tensors: 2 }, 64);
    await expectGgufError(readGguf(bytes), /duplicate tensor name "t"/);
  });

  it('tensor data past the end of the file', async () => {
    const bytes = withTensors((r) => r.tensor('t', [16], 0, 0), { tensors: 1 }, 63);
    const e = await expectGgufError(
      readGguf(bytes),
      /tensor "t" data \[64, 128\) extends past the end of the 127-byte file/,
    );
    expect(e.offset).toBe(HEADER + 9 + 4 + 8 + 4);
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [4], 0, 2n ** 50n), { tensors: 1 }, 16)),
      /extends past the end/,
    );
    await expectGgufError(
      readGguf(withTensors((r) => r.tensor('t', [4], 0, 2n ** 64n - 32n), { tensors: 1 }, 16)),
      /tensor "t" data offset 18446744073709551584 is larger than 2\^53 - 1/,
    );
  });

  it('overlapping tensors, whatever their order in the file', async () => {
    const bytes = withTensors((r) => r.tensor('a', [16], 0, 32).tensor('b', [16], 0, 0), { tensors: 2 }, 96);
    await expectGgufError(
      readGguf(bytes),
      /tensor "a" data at offset 32 overlaps tensor "b" \(offset 0, 64 bytes\)/,
    );
  });

  it('misaligned tensor offsets', async () => {
    const bytes = withTensors((r) => r.tensor('t', [4], 0, 16), { tensors: 1 }, 64);
    await expectGgufError(readGguf(bytes), /tensor "t" data offset 16 is not a multiple of the alignment 32/);
  });

  it('names the file when reading a path, and the given name for bytes', async () => {
    const bytes = new RawGguf().header({ magic: 'XXXX', tensors: 0, kvs: 0 }).build();
    const e = await expectGgufError(
      readGguf(bytes, { name: 'model.gguf' }),
      /^GGUF model.gguf: not a GGUF file/,
    );
    expect(e.file).toBe('model.gguf');
    expect(e.message).toMatch(/\(at byte offset 0\)$/);
  });

  it('asks for a tensor that does not exist', async () => {
    const g = await readGguf(sampleFile());
    await expectGgufError(g.tensorData('nope'), /no tensor named "nope"/);
  });

  it('closes the source when parsing fails', async () => {
    let closed = false;
    const src = bytesSource(new RawGguf().header({ magic: 'XXXX', tensors: 0, kvs: 0 }).build());
    const spy = { ...src, close: async () => void (closed = true) };
    await expect(readGgufFromSource(spy)).rejects.toBeInstanceOf(GgufError);
    expect(closed).toBe(true);
  });
});

describe('metadata keys are data, never object properties', () => {
  it('__proto__, constructor and prototype are read, listed, and change no prototype', async () => {
    const bytes = new RawGguf()
      .header({ tensors: 0, kvs: 4 })
      .kvStr('__proto__', 'polluted')
      .kvU32('constructor', 7)
      .kvStr('prototype', 'x')
      .str('toString')
      .u32(T.ARRAY)
      .u32(T.STRING)
      .u64(1)
      .str('y')
      .build();
    const g = await readGguf(bytes);
    expect([...g.metadata.keys()]).toEqual(['__proto__', 'constructor', 'prototype', 'toString']);
    expect(g.get('__proto__')).toBe('polluted');
    expect(g.get('constructor')).toBe(7);
    expect(g.get('toString')).toEqual(['y']);
    expect(g.get('hasOwnProperty')).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(g.metadata)).toBe(Map.prototype);
  });
});
