import { describe, expect, it } from 'vitest';
import {
  readSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsTensorInput,
  writeSafetensors,
} from '../../../src/formats/safetensors/index.js';
import { bf16ToF32, f16ToF32 } from '../../../src/types/half.js';

/** Values for each dtype, chosen to include the edges (extremes, -0, NaN, infinities, subnormals). */
const SAMPLES: Record<SafetensorsDtype, ArrayBufferView> = {
  BOOL: new Uint8Array([0, 1, 1, 0, 1, 0]),
  U8: new Uint8Array([0, 1, 127, 128, 255, 42]),
  I8: new Int8Array([-128, -1, 0, 1, 127, 42]),
  I16: new Int16Array([-32768, -1, 0, 1, 32767, 1234]),
  U16: new Uint16Array([0, 1, 32767, 32768, 65535, 1234]),
  F16: new Uint16Array([0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x7bff]),
  BF16: new Uint16Array([0x0000, 0x8000, 0x3f80, 0x7f80, 0xff80, 0x7fc1, 0x0001, 0x7f7f]),
  I32: new Int32Array([-2147483648, -1, 0, 1, 2147483647, 123456]),
  U32: new Uint32Array([0, 1, 2147483647, 2147483648, 4294967295, 123456]),
  F32: new Float32Array([0, -0, 1.5, -3.25, Infinity, -Infinity, Number.NaN, 1e-45, 3.4028234663852886e38]),
  F64: new Float64Array([Math.PI, -0, Number.NaN, Number.MAX_VALUE, 5e-324, -Infinity]),
  I64: new BigInt64Array([-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n, 2n ** 53n + 1n]),
  U64: new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 7n]),
};

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function elementsOf(view: ArrayBufferView): number {
  return view.byteLength / ((view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT ?? 1);
}

describe('safetensors round trips', () => {
  it('covers every dtype the module declares', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...SAFETENSORS_DTYPES].sort());
  });

  for (const dtype of SAFETENSORS_DTYPES) {
    it(`${dtype}: values, dtype and shape survive write → read`, async () => {
      const data = SAMPLES[dtype];
      const n = elementsOf(data);
      const shape = n % 2 === 0 ? [2, n / 2] : [n];
      const file = await readSafetensors(writeSafetensors([{ name: `t.${dtype}`, dtype, shape, data }]));
      expect(file.tensors).toHaveLength(1);
      const info = file.get(`t.${dtype}`)!;
      expect(info).toMatchObject({ name: `t.${dtype}`, dtype, shape, byteLength: data.byteLength });
      expect(await file.tensorBytes(info.name)).toEqual(bytesOf(data));
      const typed = await file.tensorData(info.name);
      expect(Object.prototype.toString.call(typed)).toBe(Object.prototype.toString.call(data));
      expect(bytesOf(typed)).toEqual(bytesOf(data)); // bitwise: NaN payloads and -0 included
    });
  }

  it('all dtypes in one file, in the given order, with metadata', async () => {
    const tensors: SafetensorsTensorInput[] = SAFETENSORS_DTYPES.map((dtype) => ({
      name: `layer.${dtype.toLowerCase()}`,
      dtype,
      shape: [elementsOf(SAMPLES[dtype])],
      data: SAMPLES[dtype],
    }));
    const metadata = new Map([
      ['format', 'plumbline-trace/1'],
      ['tokens', '[1,2,3]'],
      ['', 'empty key'],
      ['unicode', 'héllo – 日本 😀'],
      ['escapes', 'quote " backslash \\ newline \n tab \t nul \u0000'],
    ]);
    const file = await readSafetensors(writeSafetensors(tensors, metadata));
    expect(file.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    expect([...file.metadata]).toEqual([...metadata]);
    for (const t of tensors) expect(await file.tensorBytes(t.name)).toEqual(bytesOf(t.data));
  });

  it('keys named __proto__ and constructor are ordinary data', async () => {
    const metadata = JSON.parse('{"__proto__": "p", "constructor": "c", "toString": "s"}');
    const bytes = writeSafetensors(
      [
        { name: '__proto__', dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
        { name: 'constructor', dtype: 'U8', shape: [1], data: new Uint8Array([8]) },
      ],
      metadata,
    );
    const file = await readSafetensors(bytes);
    expect([...file.metadata]).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 's'],
    ]);
    expect(file.tensors.map((t) => t.name)).toEqual(['__proto__', 'constructor']);
    expect(await file.tensorBytes('__proto__')).toEqual(new Uint8Array([7]));
    expect(file.get('hasOwnProperty')).toBeUndefined();
    expect(({} as Record<string, unknown>).dtype).toBeUndefined(); // no prototype was touched
  });

  it('accepts a Map of tensors and raw bytes (including a Buffer) for any dtype', async () => {
    const f32 = new Float32Array([1, 2, 3]);
    const bytes = writeSafetensors(
      new Map([
        ['a', { dtype: 'F32' as const, shape: [3], data: new Uint8Array(f32.buffer) }],
        ['b', { dtype: 'I16' as const, shape: [2], data: Buffer.from([1, 0, 255, 255]) }],
      ]),
    );
    const file = await readSafetensors(bytes);
    expect(await file.tensorData('a')).toEqual(f32);
    expect(await file.tensorData('b')).toEqual(new Int16Array([1, -1]));
  });

  it('tensorF32 converts every dtype', async () => {
    const tensors = SAFETENSORS_DTYPES.map((dtype) => ({
      name: dtype,
      dtype,
      shape: [elementsOf(SAMPLES[dtype])],
      data: SAMPLES[dtype],
    }));
    const file = await readSafetensors(writeSafetensors(tensors));
    for (const dtype of SAFETENSORS_DTYPES) {
      const source = SAMPLES[dtype] as unknown as ArrayLike<number | bigint>;
      const expected = Float32Array.from({ length: source.length }, (_, i) => {
        const v = source[i];
        if (dtype === 'F16') return f16ToF32(v as number);
        if (dtype === 'BF16') return bf16ToF32(v as number);
        return Number(v);
      });
      const got = await file.tensorF32(dtype);
      expect(got, dtype).toBeInstanceOf(Float32Array);
      expect(got, dtype).toEqual(expected);
    }
  });

  it('empty tensors, scalars and a file with no tensors', async () => {
    const file = await readSafetensors(
      writeSafetensors([
        { name: 'empty', dtype: 'F32', shape: [0], data: new Float32Array(0) },
        { name: 'scalar', dtype: 'F64', shape: [], data: new Float64Array([2.5]) },
        { name: 'empty2d', dtype: 'I64', shape: [3, 0], data: new BigInt64Array(0) },
        { name: 'after', dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
      ]),
    );
    expect(file.tensors.map((t) => [t.name, t.byteLength])).toEqual([
      ['empty', 0],
      ['scalar', 8],
      ['empty2d', 0],
      ['after', 1],
    ]);
    expect(await file.tensorData('empty')).toEqual(new Float32Array(0));
    expect(await file.tensorData('scalar')).toEqual(new Float64Array([2.5]));
    expect(await file.tensorData('empty2d')).toEqual(new BigInt64Array(0));
    expect(await file.tensorData('after')).toEqual(new Uint8Array([9]));

    const none = await readSafetensors(writeSafetensors([]));
    expect(none.tensors).toEqual([]);
    expect(none.metadata.size).toBe(0);
  });
});
