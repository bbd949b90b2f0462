/**
 * Reads the ggml-generated conformance corpus in ../shared/conformance/ggml
 * (see its README). Offsets, dtypes and shapes come from manifest.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SHARED_DIR = resolve(here, '../../../shared');
export const CONFORMANCE_DIR = join(SHARED_DIR, 'conformance/ggml');
export const MODELS_DIR = join(SHARED_DIR, 'models');

export interface ArraySpec {
  offset: number;
  nbytes: number;
  dtype: 'f32' | 'f64' | 'u8' | 'u16';
  shape: number[];
}
export interface CaseSpec {
  name: string;
  rows: number;
  cols: number;
  n_act?: number;
  arrays: Record<string, ArraySpec>;
}
export interface TypeSpec {
  file: string;
  ggml_type_id: number;
  blck_size: number;
  type_size: number;
  vec_dot_type: string | null;
  cases: CaseSpec[];
}
export interface Manifest {
  types: Record<string, TypeSpec>;
  f16_bf16_special: {
    file: string;
    labels: string[];
    edge: { arrays: Record<string, ArraySpec> };
    random_bits: { arrays: Record<string, ArraySpec> };
    f16_all_to_f32: ArraySpec;
  };
}

/**
 * Whether the corpus is present. When it is absent the suites skip, except
 * under CI, where a missing corpus is a failure.
 */
export function conformanceAvailable(): boolean {
  const ok = existsSync(join(CONFORMANCE_DIR, 'manifest.json'));
  if (!ok && process.env.CI) {
    throw new Error(`conformance corpus missing at ${CONFORMANCE_DIR} (required when CI is set)`);
  }
  if (!ok) console.warn(`conformance corpus not found at ${CONFORMANCE_DIR}: skipping`);
  return ok;
}

let manifest: Manifest | undefined;
export function loadManifest(): Manifest {
  manifest ??= JSON.parse(readFileSync(join(CONFORMANCE_DIR, 'manifest.json'), 'utf8')) as Manifest;
  return manifest;
}

const files = new Map<string, Uint8Array>();
function fileBytes(file: string): Uint8Array {
  let b = files.get(file);
  if (!b) {
    b = new Uint8Array(readFileSync(join(CONFORMANCE_DIR, file)));
    files.set(file, b);
  }
  return b;
}

/** The raw bytes of one array (a copy, so it is aligned and owned). */
export function arrayBytes(file: string, spec: ArraySpec): Uint8Array {
  return fileBytes(file).slice(spec.offset, spec.offset + spec.nbytes);
}
export function arrayF32(file: string, spec: ArraySpec): Float32Array {
  return new Float32Array(arrayBytes(file, spec).buffer);
}
export function arrayF64(file: string, spec: ArraySpec): Float64Array {
  return new Float64Array(arrayBytes(file, spec).buffer);
}
export function arrayU16(file: string, spec: ArraySpec): Uint16Array {
  return new Uint16Array(arrayBytes(file, spec).buffer);
}

/** Row r of a 2-D array given as a flat typed array. */
export function row<T extends Uint8Array | Float32Array | Float64Array>(a: T, spec: ArraySpec, r: number): T {
  const cols = spec.shape[1];
  return a.subarray(r * cols, (r + 1) * cols) as T;
}

/** First index where two byte arrays differ, or -1. */
export function firstByteMismatch(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** First index where two f32 arrays differ in bits (NaN payloads included), or -1. */
export function firstBitMismatch(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const n = Math.min(ua.length, ub.length);
  for (let i = 0; i < n; i++) if (ua[i] !== ub[i]) return i;
  return a.length === b.length ? -1 : n;
}

const hex = (x: number, w: number) => `0x${(x >>> 0).toString(16).padStart(w, '0')}`;

/** A readable message for a bit mismatch: index, expected and actual bits and values. */
export function describeF32Mismatch(
  what: string,
  i: number,
  expected: Float32Array,
  actual: Float32Array,
): string {
  const bits = (a: Float32Array, k: number) => new Uint32Array(a.buffer, a.byteOffset, a.length)[k];
  return `${what}: first mismatch at element ${i}: expected ${expected[i]} (${hex(bits(expected, i), 8)}), got ${actual[i]} (${hex(bits(actual, i), 8)})`;
}
export function describeByteMismatch(
  what: string,
  i: number,
  expected: Uint8Array,
  actual: Uint8Array,
): string {
  return `${what}: first mismatch at byte ${i}: expected ${hex(expected[i] ?? 0, 2)}, got ${hex(actual[i] ?? 0, 2)}`;
}
