import { describe, expect, it } from 'vitest';
import { GgufError, ShapeError, SizeError, UnsupportedTypeError } from '../../../src/errors.js';
import {
  GGML_TYPE_GEOMETRY,
  ggufTensorTypeById,
  isSupportedTensorType,
  knownKeyType,
  readGguf,
  GgufValueType as T,
  writeGguf,
} from '../../../src/formats/gguf/index.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import { pattern } from './helpers.js';

describe('writeGguf: plain metadata values get a type only when it is unambiguous', () => {
  it('strings, booleans and their arrays; numbers for well-known keys', async () => {
    const g = await readGguf(
      writeGguf({
        metadata: new Map<string, unknown>([
          ['general.architecture', 'qwen3'],
          ['qwen3.context_length', 4096],
          ['qwen3.attention.layer_norm_rms_epsilon', 1e-6],
          ['qwen3.expert_weights_norm', true],
          ['general.alignment', 32],
          ['tokenizer.ggml.bos_token_id', 151643],
          ['tokenizer.ggml.token_type', [1, 3, 3]],
          ['tokenizer.ggml.merges', ['a b', 'c d']],
          ['flags', [true, false]],
        ]) as never,
      }),
    );
    expect(g.metadata.get('general.architecture')).toEqual({ type: T.STRING, value: 'qwen3' });
    expect(g.metadata.get('qwen3.context_length')).toEqual({ type: T.UINT32, value: 4096 });
    expect(g.metadata.get('qwen3.attention.layer_norm_rms_epsilon')).toEqual({
      type: T.FLOAT32,
      value: Math.fround(1e-6),
    });
    expect(g.metadata.get('qwen3.expert_weights_norm')).toEqual({ type: T.BOOL, value: true });
    expect(g.metadata.get('general.alignment')).toEqual({ type: T.UINT32, value: 32 });
    expect(g.metadata.get('tokenizer.ggml.bos_token_id')).toEqual({ type: T.UINT32, value: 151643 });
    expect(g.metadata.get('tokenizer.ggml.token_type')).toEqual({
      type: T.ARRAY,
      itemType: T.INT32,
      value: [1, 3, 3],
    });
    expect(g.metadata.get('tokenizer.ggml.merges')).toMatchObject({ itemType: T.STRING });
    expect(g.metadata.get('flags')).toMatchObject({ itemType: T.BOOL, value: [true, false] });
    expect(knownKeyType('llama.rope.freq_base')).toEqual({ array: false, type: T.FLOAT32 });
    expect(knownKeyType('something.else')).toBeUndefined();
  });

  it('refuses numbers, bigints and empty arrays with no known type', () => {
    for (const value of [5, 5n, 0.5, [1, 2], []]) {
      expect(() => writeGguf({ metadata: [['my.count', value as never]] })).toThrow(
        /no unambiguous GGUF type/,
      );
    }
  });

  it('refuses values that do not fit their declared type', () => {
    const bad: [number, unknown][] = [
      [T.UINT8, 256],
      [T.INT8, -129],
      [T.UINT16, 1.5],
      [T.UINT32, -1],
      [T.INT32, 2 ** 31],
      [T.UINT64, -1n],
      [T.INT64, 2n ** 63n],
      [T.UINT64, 2 ** 60],
      [T.FLOAT32, '1'],
      [T.BOOL, 1],
      [T.STRING, 5],
      [13, 0],
    ];
    for (const [type, value] of bad) {
      expect(
        () => writeGguf({ metadata: [['k', { type, value } as never]] }),
        `${type} ${String(value)}`,
      ).toThrow(GgufError);
    }
    expect(() =>
      writeGguf({ metadata: [['k', { type: T.ARRAY, itemType: T.UINT8, value: [1, 300] }]] }),
    ).toThrow(/metadata "k"\[1\]: 300 is not an integer in \[0, 255\] for a u8/);
    expect(() => writeGguf({ metadata: [['k', '\uD800 lone']] })).toThrow(/lone UTF-16 surrogate/);
  });

  it('accepts a safe-integer number for a u64/i64 and reads it back as a bigint', async () => {
    const g = await readGguf(writeGguf({ metadata: [['n', { type: T.UINT64, value: 12 }]] }));
    expect(g.metadata.get('n')).toEqual({ type: T.UINT64, value: 12n });
  });

  it('refuses duplicate and empty keys, and arrays nested too deep', () => {
    expect(() =>
      writeGguf({
        metadata: [
          ['a', 'x'],
          ['a', 'y'],
        ],
      }),
    ).toThrow(/duplicate metadata key "a"/);
    expect(() => writeGguf({ metadata: [['', 'x']] })).toThrow(GgufError);
    let deep: never = { type: T.ARRAY, itemType: T.UINT8, value: [] } as never;
    for (let i = 0; i < 4; i++) deep = { type: T.ARRAY, itemType: T.ARRAY, value: [deep] } as never;
    expect(() => writeGguf({ metadata: [['deep', deep]] })).toThrow(/nested more than 4 deep/);
  });
});

describe('writeGguf: tensors are checked against their data', () => {
  const f32 = (name: string, n: number) => ({ name, type: 'f32', shape: [n], data: pattern(4 * n) });

  it('data length must match type and shape', () => {
    expect(() =>
      writeGguf({ tensors: [{ name: 't', type: 'q4_0', shape: [2, 32], data: pattern(35) }] }),
    ).toThrow(SizeError);
    expect(() =>
      writeGguf({ tensors: [{ name: 't', type: 'q4_0', shape: [2, 32], data: pattern(35) }] }),
    ).toThrow(/tensor "t": 35 bytes of data, but q4_0 with ne = \[32, 2\] takes 36/);
  });

  it('shapes: block multiples, at most 4 dims, non-negative integers, exactly one of shape/ne', () => {
    const cases = [
      { name: 't', type: 'q4_K', shape: [128], data: pattern(72) },
      { name: 't', type: 'f32', shape: [1, 1, 1, 1, 1], data: pattern(4) },
      { name: 't', type: 'f32', shape: [-1], data: pattern(0) },
      { name: 't', type: 'f32', shape: [1.5], data: pattern(4) },
      { name: 't', type: 'f32', data: pattern(4) },
      { name: 't', type: 'f32', shape: [1], ne: [1], data: pattern(4) },
    ];
    for (const t of cases)
      expect(() => writeGguf({ tensors: [t] }), JSON.stringify(t.shape)).toThrow(ShapeError);
  });

  it('names: unique, shorter than 64 bytes', () => {
    expect(() => writeGguf({ tensors: [f32('a', 1), f32('a', 1)] })).toThrow(/duplicate tensor name "a"/);
    expect(() => writeGguf({ tensors: [f32('x'.repeat(64), 1)] })).toThrow(/64 bytes or longer/);
    expect(() => writeGguf({ tensors: [f32('x'.repeat(63), 1)] })).not.toThrow();
  });

  it('types: by name, id or info, including ones plumbline cannot compute with; unknown ones refused', async () => {
    const g = await readGguf(
      writeGguf({
        tensors: [
          { name: 'a', type: 12, shape: [256], data: pattern(144) },
          { name: 'b', type: GGML_TYPES.q8_0, shape: [32], data: pattern(34) },
          { name: 'c', type: 'tq2_0', shape: [256], data: pattern(66) },
          { name: 'd', type: ggufTensorTypeById(39)!, shape: [32], data: pattern(17) },
        ],
      }),
    );
    expect(g.tensors.map((t) => t.type.name)).toEqual(['q4_K', 'q8_0', 'tq2_0', 'mxfp4']);
    for (const type of ['q4_2', 'Q4_K', 31, 99, { ...GGML_TYPES.f32, name: 'f16' }]) {
      expect(() =>
        writeGguf({ tensors: [{ name: 't', type: type as never, shape: [32], data: pattern(128) }] }),
      ).toThrow(UnsupportedTypeError);
    }
  });

  it('alignment: a power of two that agrees with general.alignment; version 2 or 3', () => {
    expect(() => writeGguf({ alignment: 48 })).toThrow(/alignment 48 is not a power of two/);
    expect(() => writeGguf({ alignment: 64, metadata: [['general.alignment', 32]] })).toThrow(/contradicts/);
    expect(() => writeGguf({ metadata: [['general.alignment', { type: T.UINT64, value: 32n }]] })).toThrow(
      /must be a u32/,
    );
    expect(() => writeGguf({ version: 1 as never })).toThrow(/cannot write version 1/);
  });
});

describe('ggml tensor type table', () => {
  it("agrees with plumbline's own type table for every type plumbline implements", () => {
    for (const t of Object.values(GGML_TYPES)) {
      const geometry = GGML_TYPE_GEOMETRY.find((x) => x.id === t.id);
      expect(geometry, t.name).toMatchObject({ name: t.name, blockSize: t.blockSize, typeSize: t.typeSize });
      expect(ggufTensorTypeById(t.id)).toBe(t);
    }
  });

  it('covers every id ggml defines, unsupported ones marked', () => {
    const ids = GGML_TYPE_GEOMETRY.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([
      0,
      1,
      2,
      3,
      6,
      7,
      8,
      9,
      ...Array.from({ length: 21 }, (_, i) => 10 + i),
      34,
      35,
      39,
      40,
      41,
      42,
    ]);
    expect(isSupportedTensorType(ggufTensorTypeById(16)!)).toBe(false);
    expect(ggufTensorTypeById(4)).toBeUndefined();
  });
});
