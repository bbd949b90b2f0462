/** The writer refuses input it cannot write faithfully, with a SafetensorsError that names the tensor. */
import { describe, expect, it } from 'vitest';
import {
  readSafetensors,
  SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsTensorInput,
  writeSafetensors,
} from '../../../src/formats/safetensors/index.js';
import { expectSafetensorsError } from './helpers.js';

const ok: SafetensorsTensorInput = { name: 'ok', dtype: 'F32', shape: [2], data: new Float32Array(2) };

/** Writes `tensor` (cast: the point is to pass what the types forbid) after a valid one. */
function write(tensor: Record<string, unknown>, metadata?: unknown): Uint8Array {
  return writeSafetensors([ok, tensor as unknown as SafetensorsTensorInput], metadata as never);
}

const t = (fields: Record<string, unknown>) => ({
  name: 't',
  dtype: 'F32',
  shape: [2],
  data: new Float32Array(2),
  ...fields,
});

describe('writeSafetensors validation', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['tensors not a list', () => writeSafetensors({} as never), /tensors must be an array or a Map/],
    ['entry not an object', () => writeSafetensors([null] as never), /tensors\[0\] must be an object/],
    ['name not a string', () => write(t({ name: 3 })), /tensors\[1\]\.name must be a string, got number/],
    [
      'reserved name',
      () => write(t({ name: '__metadata__' })),
      /tensor "__metadata__": the name is reserved for the metadata/,
    ],
    ['duplicate name', () => write(t({ name: 'ok' })), /tensor "ok": duplicate tensor name/],
    [
      'lone surrogate in a name',
      () => write(t({ name: 'a\ud800' })),
      /tensors\[1\]\.name "a\\ud800" contains a lone surrogate/,
    ],
    ['unknown dtype', () => write(t({ dtype: 'F33' })), /tensor "t": unknown dtype "F33"/],
    ['unsupported dtype', () => write(t({ dtype: 'F8_E5M2' })), /tensor "t": unsupported dtype "F8_E5M2"/],
    ['dtype not a string', () => write(t({ dtype: 4 })), /tensor "t": dtype must be a string/],
    ['dtype from the prototype', () => write(t({ dtype: 'constructor' })), /unknown dtype "constructor"/],
    ['shape not an array', () => write(t({ shape: 2 })), /tensor "t": shape must be an array/],
    [
      'negative dimension',
      () => write(t({ shape: [-2] })),
      /tensor "t": shape\[0\] must be a non-negative integer, got -2/,
    ],
    [
      'fractional dimension',
      () => write(t({ shape: [1, 1.5] })),
      /shape\[1\] must be a non-negative integer, got 1.5/,
    ],
    ['NaN dimension', () => write(t({ shape: [Number.NaN] })), /got NaN/],
    ['unsafe dimension', () => write(t({ shape: [2 ** 53] })), /got 9007199254740992/],
    ['string dimension', () => write(t({ shape: ['2'] })), /got 2/],
    [
      'element count overflow',
      () => write(t({ shape: [2 ** 27, 2 ** 27] })),
      /shape \[134217728, 134217728\] has more than 2\^53 − 1 elements/,
    ],
    [
      'data too short',
      () => write(t({ shape: [3] })),
      /tensor "t": shape \[3\] of F32 needs 12 bytes, data has 8/,
    ],
    ['data too long', () => write(t({ shape: [1] })), /needs 4 bytes, data has 8/],
    [
      'wrong typed array',
      () => write(t({ dtype: 'F16', data: new Float32Array(1) })),
      /tensor "t": F16 data must be Uint16Array \(or raw bytes in a Uint8Array\), got Float32Array/,
    ],
    [
      'signedness matters',
      () => write(t({ dtype: 'I32', data: new Uint32Array(2) })),
      /I32 data must be Int32Array \(or raw bytes in a Uint8Array\), got Uint32Array/,
    ],
    [
      'plain array data',
      () => write(t({ data: [1, 2] })),
      /tensor "t": data must be a typed array, got object/,
    ],
    [
      'DataView data',
      () => write(t({ data: new DataView(new ArrayBuffer(8)) })),
      /data must be a typed array/,
    ],
    ['missing data', () => write(t({ data: undefined })), /data must be a typed array, got undefined/],
    [
      'metadata not an object',
      () => write(t({ name: 'x' }), 'meta'),
      /metadata must be an object or a Map of strings/,
    ],
    [
      'metadata value a number',
      () => write(t({ name: 'x' }), { n: 1 }),
      /metadata value for key "n" must be a string, got number/,
    ],
    [
      'metadata Map with a non-string key',
      () => write(t({ name: 'x' }), new Map([[1, 'a']])),
      /metadata key must be a string, got number/,
    ],
    [
      'lone surrogate in metadata',
      () => write(t({ name: 'x' }), { k: '\udc00' }),
      /metadata value for key "k" "\\udc00" contains a lone surrogate/,
    ],
    [
      'header over 100 MB',
      () => writeSafetensors([], { big: 'x'.repeat(SAFETENSORS_MAX_HEADER_BYTES) }),
      /header would be 100000032 bytes, over the 100000000-byte limit/,
    ],
  ];
  for (const [why, run, message] of cases) {
    it(why, async () => {
      await expectSafetensorsError(run, message);
    });
  }

  it('a header of exactly 100 MB is written and read back', async () => {
    // {"__metadata__":{"big":"…"}} is 28 bytes around the value.
    const value = 'x'.repeat(SAFETENSORS_MAX_HEADER_BYTES - 28);
    const bytes = writeSafetensors([], { big: value });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true))).toBe(SAFETENSORS_MAX_HEADER_BYTES);
    const file = await readSafetensors(bytes);
    expect(file.metadata.get('big')!.length).toBe(value.length);
  });

  it('raw bytes are taken for any dtype, and typed arrays at an offset in a larger buffer are written from that offset', async () => {
    const backing = new Float64Array([9, 1.5, -2.5, 9]);
    const view = backing.subarray(1, 3);
    const file = await readSafetensors(
      writeSafetensors([{ name: 'v', dtype: 'F64', shape: [2], data: view }]),
    );
    expect(await file.tensorData('v')).toEqual(new Float64Array([1.5, -2.5]));
  });

  it('the input is not modified and the output does not share memory with it', async () => {
    const data = new Uint8Array([1, 2, 3]);
    const bytes = writeSafetensors([{ name: 'u', dtype: 'U8', shape: [3], data }]);
    bytes[bytes.length - 1] = 99;
    expect(data).toEqual(new Uint8Array([1, 2, 3]));
  });
});
