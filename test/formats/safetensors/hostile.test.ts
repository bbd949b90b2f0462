/** Malformed and hostile files: each must fail with a SafetensorsError that says what is wrong and where. */
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../../src/errors.js';
import {
  readSafetensors,
  SAFETENSORS_MAX_HEADER_BYTES,
  writeSafetensors,
} from '../../../src/formats/safetensors/index.js';
import { expectSafetensorsError, rawFile } from './helpers.js';

/** A header with one tensor whose fields are given as raw JSON text. */
function oneTensor(fields: { dtype?: string; shape?: string; offsets?: string; name?: string }): string {
  const parts = [
    fields.dtype !== undefined ? `"dtype":${fields.dtype}` : undefined,
    fields.shape !== undefined ? `"shape":${fields.shape}` : undefined,
    fields.offsets !== undefined ? `"data_offsets":${fields.offsets}` : undefined,
  ].filter((p) => p !== undefined);
  return `{${JSON.stringify(fields.name ?? 't')}:{${parts.join(',')}}}`;
}

const F32x2 = { dtype: '"F32"', shape: '[2]', offsets: '[0,8]' };
const EIGHT_BYTES = new Array(8).fill(0);

interface Case {
  readonly why: string;
  readonly file: Uint8Array;
  readonly message: RegExp;
}

const CASES: Case[] = [
  // --- the length prefix
  {
    why: 'empty file',
    file: new Uint8Array(0),
    message: /file is 0 bytes, too short for the 8-byte header length/,
  },
  { why: '7-byte file', file: new Uint8Array(7), message: /file is 7 bytes, too short/ },
  {
    why: 'header length over the 100 MB limit',
    file: rawFile('{}', [], BigInt(SAFETENSORS_MAX_HEADER_BYTES + 1)),
    message: /header length 100000001 is over the 100000000-byte limit/,
  },
  {
    why: 'header length 2^64 − 1',
    file: rawFile('{}', [], 2n ** 64n - 1n),
    message: /header length 18446744073709551615 is over the 100000000-byte limit/,
  },
  {
    why: 'header length within the limit but past the end of the file',
    file: rawFile('{}', [], 3n),
    message: /header length 3 runs past the end of the 10-byte file/,
  },
  {
    why: 'header length exactly at the limit, file much smaller',
    file: rawFile('{}', [], BigInt(SAFETENSORS_MAX_HEADER_BYTES)),
    message: /header length 100000000 runs past the end/,
  },
  {
    why: 'header length 0',
    file: rawFile(''),
    message: /not valid JSON: expected a JSON value, found end of header/,
  },

  // --- text and JSON syntax
  {
    why: 'invalid UTF-8',
    file: rawFile(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
    message: /header is not valid UTF-8 \(at byte offset 10\)/,
  },
  {
    why: 'overlong UTF-8',
    file: rawFile(new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d])),
    message: /not valid UTF-8 \(at byte offset 9\)/,
  },
  {
    why: 'UTF-8-encoded surrogate',
    file: rawFile(new Uint8Array([0x7b, 0x7d, 0xed, 0xa0, 0x80])),
    message: /not valid UTF-8 \(at byte offset 10\)/,
  },
  {
    why: 'byte order mark',
    file: rawFile('\ufeff{}'),
    message: /not valid JSON: expected a JSON value, found character U\+FEFF/,
  },
  {
    why: 'truncated JSON',
    file: rawFile('{"a":'),
    message: /not valid JSON: expected a JSON value, found end of header/,
  },
  {
    why: 'unclosed object',
    file: rawFile('{'),
    message: /not valid JSON: expected a quoted key, found end of header/,
  },
  {
    why: 'trailing garbage',
    file: rawFile('{}x'),
    message: /not valid JSON: unexpected character "x" after the JSON value \(at byte offset 10\)/,
  },
  {
    why: 'padding with NULs',
    file: rawFile('{}\0\0'),
    message: /unexpected character U\+0000 after the JSON value/,
  },
  { why: 'single quotes', file: rawFile("{'a':1}"), message: /expected a quoted key, found character "'"/ },
  {
    why: 'trailing comma',
    file: rawFile('{"__metadata__":{},}'),
    message: /expected a quoted key, found character "}"/,
  },
  { why: 'missing colon', file: rawFile('{"a" 1}'), message: /expected ':' after a key/ },
  { why: 'unterminated string', file: rawFile('{"abc'), message: /unterminated string \(at byte offset 9\)/ },
  {
    why: 'raw control character in a string',
    file: rawFile('{"a\tb":1}'),
    message: /unescaped control character U\+0009/,
  },
  { why: 'bad escape', file: rawFile('{"a\\x":1}'), message: /invalid escape "\\\\x"/ },
  { why: 'short \\u escape', file: rawFile('{"a\\u12":1}'), message: /invalid \\u escape/ },
  { why: 'lone high surrogate escape', file: rawFile('{"\\ud800":1}'), message: /lone high surrogate/ },
  { why: 'lone low surrogate escape', file: rawFile('{"\\udc00":1}'), message: /lone low surrogate/ },
  {
    why: 'leading zero',
    file: rawFile(oneTensor({ ...F32x2, shape: '[02]' }), EIGHT_BYTES),
    message: /malformed number/,
  },
  {
    why: 'nesting deeper than 128',
    file: rawFile(
      `{"t":{"x":${'['.repeat(200)}${']'.repeat(200)},"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`,
    ),
    message: /nested more than 128 levels deep/,
  },

  // --- the shape of the header
  { why: 'JSON array', file: rawFile('[]'), message: /header JSON must be an object, found an array/ },
  { why: 'JSON string', file: rawFile('"x"'), message: /must be an object, found a string/ },
  { why: 'JSON number', file: rawFile('12'), message: /must be an object, found the number 12/ },
  { why: 'JSON null', file: rawFile('null'), message: /must be an object, found null/ },
  {
    why: 'tensor entry a number',
    file: rawFile('{"t":1}'),
    message: /tensor "t": entry must be an object, found the number 1/,
  },
  {
    why: 'tensor entry an array',
    file: rawFile('{"t":["F32",[2],[0,8]]}', EIGHT_BYTES),
    message: /tensor "t": entry must be an object, found an array/,
  },
  {
    why: 'tensor entry null',
    file: rawFile('{"t":null}'),
    message: /tensor "t": entry must be an object, found null/,
  },
  {
    why: 'missing dtype',
    file: rawFile(oneTensor({ ...F32x2, dtype: undefined }), EIGHT_BYTES),
    message: /tensor "t": missing field "dtype"/,
  },
  {
    why: 'missing shape',
    file: rawFile(oneTensor({ ...F32x2, shape: undefined }), EIGHT_BYTES),
    message: /tensor "t": missing field "shape"/,
  },
  {
    why: 'missing data_offsets',
    file: rawFile(oneTensor({ ...F32x2, offsets: undefined }), EIGHT_BYTES),
    message: /missing field "data_offsets"/,
  },

  // --- dtype
  {
    why: 'unknown dtype',
    file: rawFile(oneTensor({ ...F32x2, dtype: '"F33"' }), EIGHT_BYTES),
    message: /tensor "t": unknown dtype "F33"/,
  },
  {
    why: 'lower-case dtype',
    file: rawFile(oneTensor({ ...F32x2, dtype: '"f32"' }), EIGHT_BYTES),
    message: /unknown dtype "f32"/,
  },
  {
    why: 'dtype "__proto__"',
    file: rawFile(oneTensor({ ...F32x2, dtype: '"__proto__"' }), EIGHT_BYTES),
    message: /unknown dtype "__proto__"/,
  },
  {
    why: 'dtype "toString"',
    file: rawFile(oneTensor({ ...F32x2, dtype: '"toString"' }), EIGHT_BYTES),
    message: /unknown dtype "toString"/,
  },
  {
    why: 'fp8 dtype',
    file: rawFile(oneTensor({ ...F32x2, dtype: '"F8_E4M3"' }), EIGHT_BYTES),
    message: /unsupported dtype "F8_E4M3"/,
  },
  {
    why: 'dtype a number',
    file: rawFile(oneTensor({ ...F32x2, dtype: '4' }), EIGHT_BYTES),
    message: /dtype must be a string, found the number 4/,
  },

  // --- shape
  {
    why: 'shape not an array',
    file: rawFile(oneTensor({ ...F32x2, shape: '2' }), EIGHT_BYTES),
    message: /tensor "t": shape must be an array, found the number 2/,
  },
  {
    why: 'negative shape entry',
    file: rawFile(oneTensor({ ...F32x2, shape: '[-2]' }), EIGHT_BYTES),
    message: /tensor "t": shape\[0\] is negative \(-2\)/,
  },
  {
    why: 'negative zero',
    file: rawFile(oneTensor({ ...F32x2, shape: '[2,-0]' }), EIGHT_BYTES),
    message: /shape\[1\] is negative \(-0\)/,
  },
  {
    why: 'fractional shape entry',
    file: rawFile(oneTensor({ ...F32x2, shape: '[1.5]' }), EIGHT_BYTES),
    message: /shape\[0\] must be an integer, found 1.5/,
  },
  {
    why: 'integer-valued float',
    file: rawFile(oneTensor({ ...F32x2, shape: '[2.0]' }), EIGHT_BYTES),
    message: /shape\[0\] must be an integer, found 2.0/,
  },
  {
    why: 'exponent',
    file: rawFile(oneTensor({ ...F32x2, shape: '[2e0]' }), EIGHT_BYTES),
    message: /shape\[0\] must be an integer, found 2e0/,
  },
  {
    why: 'string shape entry',
    file: rawFile(oneTensor({ ...F32x2, shape: '["2"]' }), EIGHT_BYTES),
    message: /shape\[0\] must be a non-negative integer, found a string/,
  },
  {
    why: 'null shape entry',
    file: rawFile(oneTensor({ ...F32x2, shape: '[null]' }), EIGHT_BYTES),
    message: /shape\[0\] must be a non-negative integer, found null/,
  },
  {
    why: 'shape entry 2^53',
    file: rawFile(oneTensor({ ...F32x2, shape: '[9007199254740992]' }), EIGHT_BYTES),
    message: /shape\[0\] is too large \(9007199254740992 > 2\^53 − 1\)/,
  },
  {
    why: 'shape entry 2^64 − 2',
    file: rawFile(oneTensor({ ...F32x2, shape: '[2,18446744073709551614]' }), EIGHT_BYTES),
    message: /shape\[1\] is too large/,
  },
  {
    why: 'shape entry with 400 digits',
    file: rawFile(oneTensor({ ...F32x2, shape: `[${'9'.repeat(400)}]` }), EIGHT_BYTES),
    message: /shape\[0\] is too large \(9{40}…/,
  },
  {
    why: 'element count over 2^53 − 1',
    file: rawFile(oneTensor({ ...F32x2, shape: '[67108864,67108864,67108864]' }), EIGHT_BYTES),
    message: /tensor "t": shape \[67108864, 67108864, 67108864\] of F32 is larger than 2\^53 − 1 bytes/,
  },
  {
    why: 'byte count over 2^53 − 1 (elements fit)',
    file: rawFile(oneTensor({ ...F32x2, shape: '[4503599627370496]' }), EIGHT_BYTES),
    message: /shape \[4503599627370496\] of F32 is larger than 2\^53 − 1 bytes/,
  },
  {
    why: 'overflow before a later zero (checked left to right, as the reference does)',
    file: rawFile(oneTensor({ ...F32x2, shape: '[67108864,67108864,67108864,0]', offsets: '[0,0]' })),
    message: /is larger than 2\^53 − 1 bytes/,
  },

  // --- data_offsets
  {
    why: 'offsets not an array',
    file: rawFile(oneTensor({ ...F32x2, offsets: '8' }), EIGHT_BYTES),
    message: /data_offsets must be an array \[begin, end\], found the number 8/,
  },
  {
    why: 'one offset',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[8]' }), EIGHT_BYTES),
    message: /data_offsets must be an array \[begin, end\], found 1 entries/,
  },
  {
    why: 'three offsets',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[0,8,8]' }), EIGHT_BYTES),
    message: /found 3 entries/,
  },
  {
    why: 'negative offset',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[-8,0]' }), EIGHT_BYTES),
    message: /data_offsets\[0\] is negative \(-8\)/,
  },
  {
    why: 'fractional offset',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[0,8.5]' }), EIGHT_BYTES),
    message: /data_offsets\[1\] must be an integer, found 8.5/,
  },
  {
    why: 'huge offset',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[0,18446744073709551615]' }), EIGHT_BYTES),
    message: /data_offsets\[1\] is too large/,
  },
  {
    why: 'end before begin',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[8,0]' }), EIGHT_BYTES),
    message: /tensor "t": data_offsets \[8, 0\] end before they begin/,
  },
  {
    why: 'hole at the start',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[4,12]' }), new Array(12).fill(0)),
    message:
      /tensor "t": data_offsets \[4, 12\] leave a 4-byte hole after the start of the data region \(offset 0\)/,
  },
  {
    why: 'hole between tensors',
    file: rawFile(
      '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}',
      [1, 2, 3, 4, 5],
    ),
    message: /tensor "b": data_offsets \[3, 5\] leave a 1-byte hole after the end of tensor "a" \(offset 2\)/,
  },
  {
    why: 'overlapping tensors',
    file: rawFile(
      '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}',
      [1, 2, 3],
    ),
    message: /tensor "b": data_offsets \[1, 3\] overlap tensor "a", which ends at 2/,
  },
  {
    why: 'two tensors over the same bytes',
    file: rawFile(
      '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
      [1, 2],
    ),
    message: /tensor "b": data_offsets \[0, 2\] overlap tensor "a"/,
  },
  {
    why: 'offsets past the end of the file',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[0,8]' }), [0, 0, 0, 0]),
    message: /tensor "t": data_offsets \[0, 8\] reach past the end of the 4-byte data region/,
  },
  {
    why: 'offsets disagree with shape × dtype',
    file: rawFile(oneTensor({ ...F32x2, offsets: '[0,4]' }), [0, 0, 0, 0]),
    message: /tensor "t": data_offsets \[0, 4\] span 4 bytes, but shape \[2\] of F32 needs 8/,
  },
  {
    why: 'bytes after the last tensor',
    file: rawFile(oneTensor(F32x2), new Array(9).fill(0)),
    message: /tensor data ends at 8, but the data region holds 9 bytes \(1 not covered by any tensor\)/,
  },
  {
    why: 'no tensors, but data',
    file: rawFile('{}', [1, 2]),
    message: /the header lists no tensors, but the data region holds 2 bytes/,
  },

  // --- duplicates (JSON.parse would silently keep the last)
  {
    why: 'duplicate tensor name',
    file: rawFile(
      '{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
      [1],
    ),
    message: /duplicate key "a" \(at byte offset 61\)/,
  },
  {
    why: 'duplicate __metadata__',
    file: rawFile('{"__metadata__":{},"__metadata__":{}}'),
    message: /duplicate key "__metadata__"/,
  },
  {
    why: 'duplicate metadata key',
    file: rawFile('{"__metadata__":{"k":"1","k":"2"}}'),
    message: /duplicate key "k"/,
  },
  {
    why: 'duplicate field in an entry',
    file: rawFile('{"t":{"dtype":"U8","dtype":"F32","shape":[0],"data_offsets":[0,0]}}'),
    message: /duplicate key "dtype"/,
  },
  {
    why: 'duplicate spelled with an escape',
    file: rawFile('{"__metadata__":{"k":"1","\\u006b":"2"}}'),
    message: /duplicate key "k"/,
  },
  {
    why: 'duplicate __proto__',
    file: rawFile('{"__metadata__":{"__proto__":"1","__proto__":"2"}}'),
    message: /duplicate key "__proto__"/,
  },

  // --- metadata
  {
    why: 'metadata an array',
    file: rawFile('{"__metadata__":[]}'),
    message: /__metadata__ must be an object, found an array/,
  },
  {
    why: 'metadata a string',
    file: rawFile('{"__metadata__":"x"}'),
    message: /__metadata__ must be an object, found a string/,
  },
  {
    why: 'metadata value a number',
    file: rawFile('{"__metadata__":{"n":1}}'),
    message: /__metadata__ value for key "n" must be a string, found the number 1/,
  },
  {
    why: 'metadata value null',
    file: rawFile('{"__metadata__":{"n":null}}'),
    message: /value for key "n" must be a string, found null/,
  },
  {
    why: 'metadata value an object',
    file: rawFile('{"__metadata__":{"n":{}}}'),
    message: /value for key "n" must be a string, found an object/,
  },
  {
    why: 'metadata value true',
    file: rawFile('{"__metadata__":{"__proto__":true}}'),
    message: /value for key "__proto__" must be a string, found true/,
  },
];

describe('hostile safetensors files', () => {
  for (const c of CASES) {
    it(c.why, async () => {
      await expectSafetensorsError(readSafetensors(c.file), c.message);
    });
  }

  it('error offsets point at the fault in the file', async () => {
    const header = oneTensor({ ...F32x2, dtype: '"F33"' });
    const error = await expectSafetensorsError(
      readSafetensors(rawFile(header, EIGHT_BYTES)),
      /unknown dtype/,
    );
    expect(error.offset).toBe(8 + header.indexOf('"F33"'));

    // After multi-byte characters the offset counts bytes, not UTF-16 units.
    const unicode = '{"__metadata__":{"日本😀":1}}';
    const error2 = await expectSafetensorsError(readSafetensors(rawFile(unicode)), /must be a string/);
    expect(error2.offset).toBe(8 + new TextEncoder().encode(unicode.slice(0, unicode.indexOf('1'))).length);
  });

  it('names longer than 80 characters are cut short in messages', async () => {
    const name = 'n'.repeat(100_000);
    const error = await expectSafetensorsError(
      readSafetensors(rawFile(oneTensor({ ...F32x2, dtype: '"X"', name }), EIGHT_BYTES)),
      /tensor "n{80}…": unknown dtype "X"/,
    );
    expect(error.message.length).toBeLessThan(200);
  });

  it('a 100 MB header of whitespace is refused only for what it holds, without hanging', async () => {
    // The limit is inclusive: 100_000_000 bytes are allowed, and parsed.
    const header = new Uint8Array(SAFETENSORS_MAX_HEADER_BYTES).fill(0x20);
    header[0] = 0x7b; // {
    header[SAFETENSORS_MAX_HEADER_BYTES - 1] = 0x5b; // [ : an unterminated array after the object
    const started = performance.now();
    await expectSafetensorsError(
      readSafetensors(rawFile(header)),
      /expected ':' after a key|expected a quoted key/,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('refuses input that is neither a path nor bytes', async () => {
    await expectSafetensorsError(
      readSafetensors(42 as never),
      /input must be a file path or a Uint8Array, got number/,
    );
    await expectSafetensorsError(readSafetensors(new ArrayBuffer(8) as never), /got ArrayBuffer/);
    await expectSafetensorsError(readSafetensors(null as never), /got null/);
  });

  it('unknown tensor names and closed files', async () => {
    const file = await readSafetensors(
      writeSafetensors([{ name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array(1) }]),
    );
    await expectSafetensorsError(file.tensorBytes('nope'), /no tensor named "nope"/);
    await expectSafetensorsError(file.tensorData('__proto__'), /no tensor named "__proto__"/);
    await expectSafetensorsError(file.tensorF32('constructor'), /no tensor named "constructor"/);
    await file.close();
    await file.close(); // idempotent
    await expectSafetensorsError(file.tensorBytes('a'), /cannot read tensor "a": file is closed/);
  });

  it('every hostile case is a SafetensorsError (also a FormatError with format "safetensors")', async () => {
    for (const c of CASES) {
      const error = await readSafetensors(c.file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, c.why).toBeInstanceOf(SafetensorsError);
      expect((error as SafetensorsError).format).toBe('safetensors');
    }
  });
});
