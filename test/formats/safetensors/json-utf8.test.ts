/** The header's building blocks: the strict JSON reader and the UTF-8 validator. */
import { describe, expect, it } from 'vitest';
import { JsonReader, JsonSyntaxError, MAX_JSON_DEPTH } from '../../../src/formats/safetensors/json.js';
import { firstInvalidUtf8Byte, utf8ByteLength } from '../../../src/formats/safetensors/utf8.js';
import { seededRandom } from './helpers.js';

/** Skips one whole document, as the header reader does for values it ignores. */
function skipAll(text: string): void {
  const json = new JsonReader(text);
  json.skipValue(0);
  json.finish();
}

function syntaxError(run: () => void): JsonSyntaxError {
  try {
    run();
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error;
    throw error;
  }
  throw new Error('expected a JsonSyntaxError');
}

describe('JsonReader', () => {
  it('accepts what JSON.parse accepts, over a spread of documents', () => {
    const documents = [
      '{}',
      '[]',
      ' {"a" : [1, -2.5e+3, 0.0, 1E-2, true, false, null, "s\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\ud83d\\ude00"]} ',
      '"only a string"',
      '-0',
      '[[[[]]]]',
      '{"__proto__":{"constructor":{}}}',
    ];
    for (const doc of documents) {
      expect(() => JSON.parse(doc)).not.toThrow();
      expect(() => skipAll(doc), doc).not.toThrow();
    }
  });

  it('refuses what JSON.parse refuses', () => {
    const documents = [
      '',
      '{',
      '{"a"}',
      '{"a":}',
      '[1,]',
      '[01]',
      '[1.]',
      '[.5]',
      '[+1]',
      '[1e]',
      '["\\x"]',
      '[tru]',
      '[NaN]',
      "['a']",
      '{} {}',
      '["\u0001"]',
    ];
    for (const doc of documents) {
      expect(() => JSON.parse(doc), doc).toThrow();
      expect(
        syntaxError(() => skipAll(doc)),
        doc,
      ).toBeInstanceOf(JsonSyntaxError);
    }
  });

  it('refuses lone surrogate escapes, which JSON.parse lets through', () => {
    for (const doc of ['"\\ud800"', '"\\udfff"', '"\\ud800\\u0041"', '"\\ud800x"']) {
      expect(syntaxError(() => skipAll(doc)).message).toMatch(/lone (high|low) surrogate/);
    }
  });

  it('refuses duplicate keys in objects it reads, reporting the second key position', () => {
    const json = new JsonReader('{"a":1, "a":2}');
    const error = syntaxError(() => json.readObject(1, () => json.skipValue(1)));
    expect(error.message).toBe('duplicate key "a"');
    expect(error.pos).toBe(8);
  });

  it('hands keys named __proto__ to the caller as plain strings', () => {
    const keys: string[] = [];
    const json = new JsonReader('{"__proto__":1,"constructor":2}');
    json.readObject(1, (key) => {
      keys.push(key);
      json.skipValue(1);
    });
    expect(keys).toEqual(['__proto__', 'constructor']);
  });

  it('keeps number text as written', () => {
    const texts: string[] = [];
    const json = new JsonReader('[18446744073709551615, 1e3, 2.0, -0]');
    json.readArray(1, () => texts.push(json.readNumberText()));
    expect(texts).toEqual(['18446744073709551615', '1e3', '2.0', '-0']);
  });

  it(`allows nesting up to ${MAX_JSON_DEPTH} levels and no deeper`, () => {
    expect(() => skipAll(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).not.toThrow();
    const deeper = MAX_JSON_DEPTH + 1;
    expect(syntaxError(() => skipAll(`${'['.repeat(deeper)}${']'.repeat(deeper)}`)).message).toMatch(
      /nested more than/,
    );
    // A hundred thousand levels: refused at the limit, no stack overflow.
    expect(syntaxError(() => skipAll('{"a":'.repeat(100_000))).message).toMatch(/nested more than/);
  });
});

describe('UTF-8 validation', () => {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const valid = (bytes: Uint8Array) => {
    try {
      decoder.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };

  it('agrees with TextDecoder on every 1- and 2-byte sequence', () => {
    const bytes = new Uint8Array(2);
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        bytes[0] = a;
        bytes[1] = b;
        const ours = firstInvalidUtf8Byte(bytes) === 2;
        if (ours !== valid(bytes)) expect.fail(`disagree on ${a.toString(16)} ${b.toString(16)}`);
      }
    }
  });

  it('agrees with TextDecoder on random sequences of likely lead and continuation bytes, and finds the first bad byte', () => {
    const random = seededRandom(0x5afe);
    const interesting = [
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
      0xf4, 0xf5, 0xff,
    ];
    for (let n = 0; n < 20_000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        random() < 0.8 ? interesting[Math.floor(random() * interesting.length)] : Math.floor(random() * 256),
      );
      const at = firstInvalidUtf8Byte(bytes);
      expect(at === bytes.length, Array.from(bytes, (b) => b.toString(16)).join(' ')).toBe(valid(bytes));
      if (at < bytes.length) {
        expect(valid(bytes.subarray(0, at))).toBe(true); // everything before the reported byte decodes
      }
    }
  });

  it('measures the UTF-8 length of text', () => {
    for (const text of ['', 'abc', 'é', '日本', '😀', 'a😀é日']) {
      expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});
