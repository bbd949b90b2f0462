/**
 * Test helpers: a raw GGUF builder that writes whatever it is told (for
 * hostile files the writer would refuse), a small valid sample file, and a
 * seeded PRNG.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { GgufError } from '../../../src/errors.js';
import { ByteWriter } from '../../../src/formats/gguf/byte-writer.js';
import { GgufValueType as T, type WriteGgufOptions, writeGguf } from '../../../src/formats/gguf/index.js';
import { MODELS_DIR } from '../../helpers/conformance.js';

export { MODELS_DIR };

/** Real-model tests run when the shared models exist; under CI their absence is a failure, not a skip. */
export const runModelTests = existsSync(MODELS_DIR) || Boolean(process.env.CI);
export const modelPath = (name: string) => join(MODELS_DIR, name);

/** Writes fields one by one with no checks at all. */
export class RawGguf {
  readonly w = new ByteWriter();

  header(opts: { magic?: string; version?: number; tensors: number | bigint; kvs: number | bigint }): this {
    for (const c of opts.magic ?? 'GGUF') this.w.u8(c.charCodeAt(0));
    this.w.u32(opts.version ?? 3);
    this.w.u64(BigInt(opts.tensors));
    this.w.u64(BigInt(opts.kvs));
    return this;
  }
  u8(v: number): this {
    this.w.u8(v);
    return this;
  }
  u32(v: number): this {
    this.w.u32(v);
    return this;
  }
  u64(v: number | bigint): this {
    this.w.u64(BigInt(v));
    return this;
  }
  str(s: string): this {
    this.w.string(s);
    return this;
  }
  /** A string given as raw bytes (e.g. invalid UTF-8). */
  rawStr(bytes: number[]): this {
    this.w.u64(bytes.length);
    this.w.bytes(new Uint8Array(bytes));
    return this;
  }
  bytes(b: ArrayLike<number>): this {
    this.w.bytes(new Uint8Array(b));
    return this;
  }
  kvU32(key: string, v: number): this {
    return this.str(key).u32(T.UINT32).u32(v);
  }
  kvStr(key: string, v: string): this {
    return this.str(key).u32(T.STRING).str(v);
  }
  tensor(name: string, ne: (number | bigint)[], typeId: number, offset: number | bigint): this {
    this.str(name).u32(ne.length);
    for (const n of ne) this.u64(n);
    return this.u32(typeId).u64(offset);
  }
  padTo(alignment: number): this {
    this.w.padTo(alignment);
    return this;
  }
  zeros(n: number): this {
    this.w.bytes(new Uint8Array(n));
    return this;
  }
  get length(): number {
    return this.w.length;
  }
  build(): Uint8Array {
    return this.w.finish();
  }
}

/** Deterministic bytes 0, 1, 2, ... (mod 251, so no period aligns with block sizes). */
export function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i + seed) % 251;
  return out;
}

/** A small valid file with every value type, a nested array, and tensors of four kinds. */
export function sampleOptions(): WriteGgufOptions {
  return {
    metadata: [
      ['general.architecture', 'llama'],
      ['general.name', 'sample'],
      ['llama.context_length', 64],
      ['llama.embedding_length', 32],
      ['llama.rope.freq_base', 10000],
      ['u8', { type: T.UINT8, value: 255 }],
      ['i8', { type: T.INT8, value: -128 }],
      ['u16', { type: T.UINT16, value: 65535 }],
      ['i16', { type: T.INT16, value: -32768 }],
      ['i32', { type: T.INT32, value: -5 }],
      ['f64', { type: T.FLOAT64, value: Math.PI }],
      ['u64', { type: T.UINT64, value: 2n ** 64n - 1n }],
      ['i64', { type: T.INT64, value: -(2n ** 63n) }],
      ['flag', true],
      ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', 'héllo', '▁the']],
      ['tokenizer.ggml.scores', [0, -1, -2, -3.5, -4]],
      [
        'nested',
        {
          type: T.ARRAY,
          itemType: T.ARRAY,
          value: [
            { type: T.ARRAY, itemType: T.UINT32, value: [1, 2, 3] },
            { type: T.ARRAY, itemType: T.STRING, value: ['a', ''] },
            { type: T.ARRAY, itemType: T.UINT64, value: [] },
          ],
        },
      ],
    ],
    tensors: [
      { name: 'norm.weight', type: 'f32', shape: [8], data: pattern(32) },
      { name: 'q4.weight', type: 'q4_0', shape: [2, 32], data: pattern(36, 1) },
      { name: 'q8.weight', type: 'q8_0', ne: [64], data: pattern(68, 2) },
      { name: 'iq2.weight', type: 'iq2_xxs', shape: [1, 256], data: pattern(66, 3) },
      { name: 'empty', type: 'f16', shape: [0, 4], data: new Uint8Array(0) },
    ],
  };
}

export function sampleFile(): Uint8Array {
  return writeGguf(sampleOptions());
}

/** Asserts `promise` rejects with a GgufError whose message matches `message`; returns the error. */
export async function expectGgufError(promise: Promise<unknown>, message: RegExp): Promise<GgufError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a GgufError matching ${message}`).toBeInstanceOf(GgufError);
  expect((err as GgufError).message).toMatch(message);
  return err as GgufError;
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 31n - 1n, 0xffffffffn];

/** Offsets of u64s that hold small nonzero values: counts, lengths and offsets, the fields worth attacking. */
export function smallU64Offsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= bytes.length; i++) {
    const v = view.getBigUint64(i, true);
    if (v > 0n && v < 1n << 20n) out.push(i);
  }
  return out;
}

/** 1 to 3 seeded mutations of `base`: bit flips, bytes set, truncation, insertion, a count/offset u64 made huge. */
export function mutate(
  base: Uint8Array,
  rand: () => number,
  countOffsets: number[],
): { bytes: Uint8Array; how: string } {
  const int = (n: number) => Math.floor(rand() * n);
  let bytes = base.slice();
  const steps: string[] = [];
  const nMutations = 1 + int(3);
  for (let m = 0; m < nMutations; m++) {
    const at = int(bytes.length);
    switch (int(7)) {
      case 0: {
        const bit = int(8);
        bytes[at] ^= 1 << bit;
        steps.push(`flip bit ${bit} at ${at}`);
        break;
      }
      case 1:
        bytes[at] = 0;
        steps.push(`0x00 at ${at}`);
        break;
      case 2:
        bytes[at] = 0xff;
        steps.push(`0xff at ${at}`);
        break;
      case 3: {
        const v = int(256);
        bytes[at] = v;
        steps.push(`${v} at ${at}`);
        break;
      }
      case 4:
        bytes = bytes.slice(0, at);
        steps.push(`truncate to ${at}`);
        break;
      case 5: {
        const n = 1 + int(16);
        const ins = new Uint8Array(n).map(() => int(256));
        const out = new Uint8Array(bytes.length + n);
        out.set(bytes.subarray(0, at));
        out.set(ins, at);
        out.set(bytes.subarray(at), at + n);
        bytes = out;
        steps.push(`insert ${n} bytes at ${at}`);
        break;
      }
      default: {
        const off = countOffsets[int(countOffsets.length)];
        if (off + 8 > bytes.length) break;
        const v = rand() < 0.7 ? HUGE_U64[int(HUGE_U64.length)] : BigInt(bytes.length + int(64) - 32);
        new DataView(bytes.buffer).setBigUint64(off, BigInt.asUintN(64, v), true);
        steps.push(`u64 at ${off} = ${v}`);
      }
    }
    if (bytes.length === 0) break;
  }
  return { bytes, how: steps.join(', ') };
}
