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
import { mutate, prng, sampleFile, smallU64Offsets } from './helpers.js';

const ITERATIONS = Number(process.env.PLUMBLINE_FUZZ_ITERATIONS ?? 5000);
const SEED = Number(process.env.PLUMBLINE_FUZZ_SEED ?? 0x5eed);

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
