/**
 * Mutation fuzzing of a small valid file: whatever the bytes, readGguf either
 * succeeds (and then every tensor's data can be read, inside the file) or
 * throws a GgufError. Deterministic: a failure names its seed and case.
 *
 * PLUMBLINE_FUZZ_ITERATIONS=200000 (and optionally PLUMBLINE_FUZZ_SEED) for a longer run.
 */
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../../src/errors.js';
import { bytesSource } from '../../../src/formats/byte-source.js';
import { readGguf, readGgufFromSource } from '../../../src/formats/gguf/index.js';
import { prng, sampleFile } from './helpers.js';

const ITERATIONS = Number(process.env.PLUMBLINE_FUZZ_ITERATIONS ?? 5000);
const SEED = Number(process.env.PLUMBLINE_FUZZ_SEED ?? 0x5eed);

const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 31n - 1n, 0xffffffffn];

/** Offsets of u64s that hold small nonzero values: counts, lengths and offsets, the fields worth attacking. */
function smallU64Offsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= bytes.length; i++) {
    const v = view.getBigUint64(i, true);
    if (v > 0n && v < 1n << 20n) out.push(i);
  }
  return out;
}

function mutate(
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

/** Whether the file parsed; throws anything that is not a GgufError, or a broken invariant. */
async function check(bytes: Uint8Array): Promise<boolean> {
  let g: Awaited<ReturnType<typeof readGguf>>;
  try {
    g = await readGguf(bytes);
  } catch (e) {
    if (e instanceof GgufError) return false;
    throw e;
  }
  for (const t of g.tensors) {
    if (t.absoluteOffset + t.byteSize > bytes.length || t.offset % g.alignment !== 0) {
      throw new Error(`accepted tensor ${t.name} outside the file or misaligned`);
    }
    const data = await g.tensorData(t);
    if (data.length !== t.byteSize)
      throw new Error(`tensor ${t.name}: ${data.length} bytes, expected ${t.byteSize}`);
  }
  return true;
}

/** The outcome of a read in a comparable form: the error message, or the parsed header. */
async function outcome(read: Promise<Awaited<ReturnType<typeof readGguf>>>): Promise<unknown> {
  try {
    const g = await read;
    return { metadata: g.metadata, tensors: g.tensors, dataOffset: g.dataOffset };
  } catch (e) {
    return e instanceof GgufError ? e.message : e;
  }
}

describe('GGUF reader fuzzing', () => {
  it(
    `${ITERATIONS} mutations of a valid file (seed ${SEED}) throw only GgufError`,
    async () => {
      const base = sampleFile();
      const countOffsets = smallU64Offsets(base);
      expect(countOffsets.length).toBeGreaterThan(10);
      const rand = prng(SEED);
      let parsed = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const { bytes, how } = mutate(base, rand, countOffsets);
        try {
          if (await check(bytes)) parsed++;
          // Every 8th case: tiny read chunks (fields split across reads) must not change the outcome.
          if (i % 8 === 0) {
            const small = await outcome(readGgufFromSource(bytesSource(bytes), { chunkSize: 5 }));
            expect(small, 'outcome with 5-byte chunks').toEqual(await outcome(readGguf(bytes)));
          }
        } catch (e) {
          expect.fail(
            `seed ${SEED}, case ${i} (${how}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
          );
        }
      }
      // Most mutations break the file; some (e.g. inside tensor data or a string) do not. Both paths must be exercised.
      expect(parsed).toBeGreaterThan(ITERATIONS / 50);
      expect(parsed).toBeLessThan(ITERATIONS);
    },
    60_000 + ITERATIONS,
  );
});
