/** Shared helpers for the safetensors suites: raw files built by hand, a seeded RNG, error assertions. */
import { expect } from 'vitest';
import { SafetensorsError } from '../../../src/errors.js';

/**
 * A file assembled from its parts exactly as the format describes them: an
 * 8-byte little-endian length, the header text as UTF-8, then the data.
 * `headerLength` overrides the length field (to lie about it).
 */
export function rawFile(
  header: string | Uint8Array,
  data: ArrayLike<number> = [],
  headerLength?: bigint,
): Uint8Array {
  const headerBytes = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

/** mulberry32: small, fast, deterministic. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

/** Awaits `work` and checks that it fails with a SafetensorsError whose message matches. */
export async function expectSafetensorsError(
  work: Promise<unknown> | (() => unknown),
  message: RegExp | string,
): Promise<SafetensorsError> {
  let error: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    error = e;
  }
  if (error === undefined)
    expect.fail(`expected a SafetensorsError matching ${message}, but nothing was thrown`);
  if (!(error instanceof SafetensorsError)) {
    expect.fail(`expected a SafetensorsError matching ${message}, got ${String(error)}`);
  }
  expect(error.message).toMatch(message);
  return error;
}
