/**
 * Mutation fuzzing of the reader: valid files are mutated (bit flips, byte
 * stores, truncation, extension, header-length overwrites, JSON text edits,
 * value swaps) and read. Any exception other than SafetensorsError fails,
 * reporting the seed and case so it can be replayed. Files that still parse
 * must be internally consistent, have every tensor readable, and be accepted
 * by the writer.
 *
 * PLUMBLINE_FUZZ_ITERATIONS=200000 npx vitest run test/formats/safetensors/fuzz.test.ts
 * runs a longer campaign; PLUMBLINE_FUZZ_SEED picks another deterministic stream.
 */
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../../src/errors.js';
import {
  readSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsFile,
  type SafetensorsTensorInput,
  safetensorsDtypeInfo,
  writeSafetensors,
} from '../../../src/formats/safetensors/index.js';
import { randomInt, rawFile, seededRandom } from './helpers.js';

const ITERATIONS = Number(process.env.PLUMBLINE_FUZZ_ITERATIONS ?? 10_000);
const SEED = Number(process.env.PLUMBLINE_FUZZ_SEED ?? 20_240_601);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[randomInt(random, items.length)];

/** Valid files to start from: writer output of random tensors, plus hand-made quirks the writer never emits. */
function corpus(random: Random): Uint8Array[] {
  const files: Uint8Array[] = [];
  for (let f = 0; f < 24; f++) {
    const tensors: SafetensorsTensorInput[] = [];
    const count = randomInt(random, 6);
    for (let t = 0; t < count; t++) {
      const dtype = pick(random, SAFETENSORS_DTYPES);
      const shape = Array.from({ length: randomInt(random, 4) }, () => randomInt(random, 4));
      const elements = shape.reduce((a, b) => a * b, 1);
      const data = Uint8Array.from({ length: elements * safetensorsDtypeInfo(dtype).size }, () =>
        randomInt(random, 256),
      );
      const name =
        pick(random, ['w', 'blk.0.attn_norm', '__proto__', 'constructor', 'é😀', 'a"b\\c', '']) + t;
      tensors.push({ name, dtype, shape, data });
    }
    const metadata =
      random() < 0.5 ? { format: 'plumbline-trace/1', tokens: '[1,2,3]', __x: 'ü' } : undefined;
    files.push(writeSafetensors(tensors, metadata));
  }
  files.push(
    rawFile('{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', [0, 0x3c]), // unpadded: misaligned data
    rawFile(
      ' {"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]},"x":{"extra":[1,{"y":null}],"dtype":"I32","shape":[],"data_offsets":[0,4]},"__metadata__":null}\n\t ',
      [1, 2, 3, 4, 5],
    ),
    rawFile(
      '{"__metadata__":{"\\u00e9\\ud83d\\ude00":"\\n"},"e":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]}}',
    ),
    rawFile('{}'),
  );
  return files;
}

const INTERESTING_BYTES = [...'"{}[],:-.e09 \\', '\0', '\xff']
  .map((c) => c.charCodeAt(0))
  .concat([0xc3, 0x80, 0xed]);
const REPLACEMENT_VALUES = [
  '-1',
  '1.5',
  '1e3',
  '2.0',
  '-0',
  '0',
  '1',
  '8',
  '9007199254740991',
  '9007199254740992',
  '18446744073709551615',
  '"x"',
  '""',
  'null',
  'true',
  '[]',
  '{}',
  '[0]',
  '[0,0]',
  '[0,1,2]',
  '[-1,3]',
  '"F32"',
  '"BOOL"',
  '"F8_E4M3"',
  '"__proto__"',
  '{"a":"b"}',
  '[[[[1]]]]',
  '"\\ud800"',
];
const INSERTIONS = [
  ',',
  ':',
  '{',
  '}',
  '[',
  ']',
  '"',
  'null',
  '{}',
  '"__metadata__":{}',
  '"__proto__":1,',
  '0',
  '-',
  '\\',
];

function headerLength(bytes: Uint8Array): bigint | undefined {
  return bytes.length >= 8
    ? new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
    : undefined;
}

/** Applies `edit` to the header text (when the length field is believable) and usually fixes the length to match. */
function editHeader(bytes: Uint8Array, random: Random, edit: (text: string) => string): Uint8Array {
  const n = headerLength(bytes);
  if (n === undefined || n > BigInt(bytes.length - 8)) return bytes;
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + Number(n)));
  const edited = new TextEncoder().encode(edit(text));
  const data = bytes.subarray(8 + Number(n));
  return rawFile(edited, data, random() < 0.85 ? undefined : n);
}

function replaceAt(text: string, at: number, length: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at + length);
}

/** Positions in `text` of characters matching `pattern`. */
function positions(text: string, pattern: RegExp): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) if (pattern.test(text[i])) out.push(i);
  return out;
}

const MUTATIONS: Record<string, (bytes: Uint8Array, random: Random) => Uint8Array> = {
  bitFlip(bytes, random) {
    if (bytes.length === 0) return bytes;
    const out = bytes.slice();
    const at = random() < 0.7 ? randomInt(random, Math.min(out.length, 200)) : randomInt(random, out.length);
    out[at] ^= 1 << randomInt(random, 8);
    return out;
  },
  byteStore(bytes, random) {
    if (bytes.length === 0) return bytes;
    const out = bytes.slice();
    out[randomInt(random, out.length)] =
      random() < 0.7 ? pick(random, INTERESTING_BYTES) : randomInt(random, 256);
    return out;
  },
  truncate(bytes, random) {
    return bytes.slice(0, randomInt(random, bytes.length + 1));
  },
  extend(bytes, random) {
    const extra = Uint8Array.from({ length: 1 + randomInt(random, 16) }, () => randomInt(random, 256));
    const out = new Uint8Array(bytes.length + extra.length);
    out.set(bytes);
    out.set(extra, bytes.length);
    return out;
  },
  lengthOverwrite(bytes, random) {
    if (bytes.length < 8) return bytes;
    const n = headerLength(bytes)!;
    const size = BigInt(bytes.length);
    const choices = [
      0n,
      1n,
      n - 1n,
      n + 1n,
      n + 8n,
      size - 8n,
      size,
      100_000_000n,
      100_000_001n,
      2n ** 53n,
      2n ** 63n,
      2n ** 64n - 1n,
      BigInt(randomInt(random, 2 ** 32)),
    ];
    const value = pick(random, choices);
    const out = bytes.slice();
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return out;
  },
  digitEdit(bytes, random) {
    return editHeader(bytes, random, (text) => {
      const digits = positions(text, /[0-9]/);
      if (digits.length === 0) return text;
      const at = pick(random, digits);
      const edit = pick(random, ['replace', 'delete', 'huge', 'minus', 'fraction', 'exponent']);
      if (edit === 'replace') return replaceAt(text, at, 1, String(randomInt(random, 10)));
      if (edit === 'delete') return replaceAt(text, at, 1, '');
      if (edit === 'huge') return replaceAt(text, at, 0, '99999999999999999999');
      if (edit === 'minus') return replaceAt(text, at, 0, '-');
      if (edit === 'fraction') return replaceAt(text, at + 1, 0, '.5');
      return replaceAt(text, at + 1, 0, 'e3');
    });
  },
  punctuationEdit(bytes, random) {
    return editHeader(bytes, random, (text) => {
      const marks = positions(text, /["{}[\],:]/);
      if (marks.length === 0) return text;
      const at = pick(random, marks);
      const edit = pick(random, ['delete', 'double', 'swap']);
      if (edit === 'delete') return replaceAt(text, at, 1, '');
      if (edit === 'double') return replaceAt(text, at, 0, text[at]);
      return replaceAt(text, at, 1, pick(random, ['{', '}', '[', ']', '"', ',', ':']));
    });
  },
  insertToken(bytes, random) {
    return editHeader(bytes, random, (text) =>
      replaceAt(text, randomInt(random, text.length + 1), 0, pick(random, INSERTIONS)),
    );
  },
  replaceValue(bytes, random) {
    return editHeader(bytes, random, (text) => {
      const values = [...text.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|\[[^[\]]*\]/g)];
      if (values.length === 0) return text;
      const match = pick(random, values);
      return replaceAt(text, match.index!, match[0].length, pick(random, REPLACEMENT_VALUES));
    });
  },
  duplicateSegment(bytes, random) {
    // Copies a comma-separated chunk elsewhere: makes duplicate keys, overlapping offsets, stray members.
    return editHeader(bytes, random, (text) => {
      const commas = positions(text, /,/);
      if (commas.length < 2) return text;
      const a = pick(random, commas);
      const b = pick(random, commas);
      const [from, to] = a < b ? [a, b] : [b, a];
      return replaceAt(text, pick(random, commas), 0, text.slice(from, to));
    });
  },
  dataResize(bytes, random) {
    // Grows or shrinks the data region by a few bytes while keeping the header: offsets no longer cover it.
    const delta = randomInt(random, 17) - 8;
    if (delta < 0) return bytes.slice(0, Math.max(0, bytes.length + delta));
    return MUTATIONS.extend(bytes, () => (delta - 1) / 16);
  },
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

/** Everything a successfully parsed file promises; throws (a non-SafetensorsError) when a promise is broken. */
async function checkParsedFile(file: SafetensorsFile, size: number): Promise<void> {
  let expectedOffset = file.dataOffset;
  for (const tensor of file.tensors) {
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    const invariant = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`invariant broken for tensor ${JSON.stringify(tensor.name)}: ${what}`);
    };
    invariant(
      tensor.byteOffset === expectedOffset,
      `byteOffset ${tensor.byteOffset}, expected ${expectedOffset}`,
    );
    invariant(
      tensor.byteLength === elements * safetensorsDtypeInfo(tensor.dtype).size,
      'byteLength does not match the shape',
    );
    invariant(file.get(tensor.name) === tensor, 'get() disagrees with tensors');
    expectedOffset += tensor.byteLength;
    invariant((await file.tensorBytes(tensor.name)).length === tensor.byteLength, 'tensorBytes length');
    invariant((await file.tensorData(tensor.name)).length === elements, 'tensorData length');
    invariant((await file.tensorF32(tensor.name)).length === elements, 'tensorF32 length');
  }
  if (expectedOffset !== size) throw new Error(`tensors end at ${expectedOffset}, file has ${size} bytes`);
  for (const [key, value] of file.metadata) {
    if (typeof key !== 'string' || typeof value !== 'string')
      throw new Error('metadata entry not a string pair');
  }
  // What the reader accepts, the writer can write back, identically.
  const tensors = await Promise.all(
    file.tensors.map(async (t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: await file.tensorBytes(t.name),
    })),
  );
  const again = await readSafetensors(writeSafetensors(tensors, file.metadata));
  if (again.tensors.length !== file.tensors.length || again.metadata.size !== file.metadata.size) {
    throw new Error('rewritten file differs');
  }
}

interface Failure {
  readonly caseSeed: number;
  readonly index: number;
  readonly steps: string[];
  readonly error: unknown;
}

async function runCase(
  base: Uint8Array,
  caseSeed: number,
  index: number,
): Promise<{ parsed: boolean; failure?: Failure }> {
  const random = seededRandom(caseSeed);
  let bytes = base;
  const steps: string[] = [];
  const rounds = 1 + randomInt(random, 3);
  for (let r = 0; r < rounds; r++) {
    const name = pick(random, MUTATION_NAMES);
    steps.push(name);
    bytes = MUTATIONS[name](bytes, random);
  }
  try {
    const file = await readSafetensors(bytes);
    await checkParsedFile(file, bytes.length);
    return { parsed: true };
  } catch (error) {
    const bounded = error instanceof SafetensorsError && error.message.length < 2000;
    return bounded ? { parsed: false } : { parsed: false, failure: { caseSeed, index, steps, error } };
  }
}

describe('safetensors reader fuzzing', () => {
  it(`survives ${ITERATIONS} mutated files (seed ${SEED}) with only SafetensorsError`, async () => {
    const files = corpus(seededRandom(SEED));
    for (const file of files) await checkParsedFile(await readSafetensors(file), file.length); // the corpus is valid

    const failures: Failure[] = [];
    let parsed = 0;
    const byMutation = new Map<string, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const caseSeed = (Math.imul(SEED, 0x9e3779b1) + i) >>> 0;
      const result = await runCase(files[i % files.length], caseSeed, i);
      if (result.parsed) parsed++;
      if (result.failure) {
        failures.push(result.failure);
        for (const step of result.failure.steps) byMutation.set(step, (byMutation.get(step) ?? 0) + 1);
      }
    }
    const report = failures
      .slice(0, 10)
      .map(
        (f) =>
          `case ${f.index} (case seed ${f.caseSeed}, base file ${f.index % files.length}): ${f.steps.join(' → ')}: ${f.error instanceof Error ? (f.error.stack ?? f.error.message) : String(f.error)}`,
      )
      .join('\n\n');
    expect(failures.length, `${failures.length} of ${ITERATIONS} cases failed:\n${report}`).toBe(0);
    // Sanity: the mutations are neither all fatal nor all harmless.
    expect(parsed).toBeGreaterThan(ITERATIONS * 0.02);
    expect(parsed).toBeLessThan(ITERATIONS * 0.9);
  });
});
