/**
 * Trace files (design.md, "Trace stages"): safetensors whose `__metadata__`
 * says `format: plumbline-trace/1` and carries the producer, backend, model
 * (sha256 of the GGUF), tokens (a JSON array) and numerics. Tensors are named
 * canonically and written in computation order.
 *
 * The writer refuses names that are not canonical. The reader accepts a
 * plumbline trace, or — given a name map — any safetensors file of another
 * producer; names that are neither canonical nor mapped are kept as
 * `unknown`, never dropped.
 */

import type {
  SafetensorsDtype,
  SafetensorsFile,
  SafetensorsTensorInput,
} from '../formats/safetensors/index.js';
import { readSafetensors } from '../formats/safetensors/reader.js';
import { writeSafetensors, writeSafetensorsFile } from '../formats/safetensors/writer.js';
import { NotATraceError, TraceFormatError, TraceMapError, TraceNameError } from './errors.js';
import { applyTransform, mapName, type NameMap, nameMap, type TensorTransform } from './name-maps.js';
import { compareStages, parseStageName, type Stage, type StageRef } from './stages.js';

export const TRACE_FORMAT = 'plumbline-trace/1';
const FORMAT_FAMILY = 'plumbline-trace/';

/** What a trace says about how it was made (every `__metadata__` entry is also kept in `raw`). */
export interface TraceMetadata {
  /** `plumbline-trace/1`, or undefined for another producer's file read through a name map. */
  format?: string;
  producer?: string;
  backend?: string;
  /** sha256 (hex) of the GGUF the trace was computed from. */
  model?: string;
  tokens?: number[];
  numerics?: string;
  raw: ReadonlyMap<string, string>;
}

/** Metadata a writer must give. */
export interface TraceWriteMetadata {
  producer: string;
  backend: string;
  model: string;
  tokens: readonly number[];
  numerics: string;
  /** More string entries (keys other than the six above). */
  extra?: Readonly<Record<string, string>>;
}

/** One captured stage to write: f32 or f64 values, or f16/bf16 bits with their dtype. */
export interface TraceTensorInput {
  name: string;
  shape: readonly number[];
  data: Float32Array | Float64Array | Uint16Array;
  /** Required for Uint16Array data ('F16' or 'BF16'); otherwise implied by the array. */
  dtype?: 'F16' | 'BF16';
}

const RESERVED = ['format', 'producer', 'backend', 'model', 'tokens', 'numerics'];
const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkMetadata(meta: TraceWriteMetadata): Record<string, string> {
  for (const key of ['producer', 'backend', 'numerics'] as const)
    if (typeof meta[key] !== 'string' || meta[key] === '')
      throw new TraceFormatError(`metadata ${key} must be a non-empty string`);
  if (typeof meta.model !== 'string' || !SHA256_HEX.test(meta.model))
    throw new TraceFormatError(
      `metadata model must be the GGUF's sha256 as 64 lowercase hex digits, got ${JSON.stringify(meta.model)}`,
    );
  if (!Array.isArray(meta.tokens) || !meta.tokens.every((t) => Number.isSafeInteger(t) && t >= 0))
    throw new TraceFormatError('metadata tokens must be an array of non-negative integers');
  const out: Record<string, string> = {
    format: TRACE_FORMAT,
    producer: meta.producer,
    backend: meta.backend,
    model: meta.model,
    tokens: JSON.stringify(meta.tokens),
    numerics: meta.numerics,
  };
  for (const [k, v] of Object.entries(meta.extra ?? {})) {
    if (RESERVED.includes(k))
      throw new TraceFormatError(`metadata extra key ${JSON.stringify(k)} is reserved`);
    if (typeof v !== 'string')
      throw new TraceFormatError(`metadata extra ${JSON.stringify(k)} must be a string`);
    out[k] = v;
  }
  return out;
}

function dtypeOf(t: TraceTensorInput): SafetensorsDtype {
  if (t.data instanceof Float32Array) return 'F32';
  if (t.data instanceof Float64Array) return 'F64';
  if (t.data instanceof Uint16Array && (t.dtype === 'F16' || t.dtype === 'BF16')) return t.dtype;
  throw new TraceNameError(
    `tensor ${JSON.stringify(t.name)}: data must be a Float32Array, a Float64Array, or a Uint16Array with dtype F16/BF16`,
    [t.name],
  );
}

/** Validated tensors in computation order. */
function layoutTensors(tensors: readonly TraceTensorInput[]): SafetensorsTensorInput[] {
  const bad = tensors.filter((t) => !parseStageName(t.name)).map((t) => t.name);
  if (bad.length > 0)
    throw new TraceNameError(
      `not canonical stage names (design.md, "Trace stages"): ${bad.map((n) => JSON.stringify(n)).join(', ')}`,
      bad,
    );
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const t of tensors) {
    if (seen.has(t.name)) dup.push(t.name);
    seen.add(t.name);
  }
  if (dup.length > 0) throw new TraceNameError(`stages captured twice: ${dup.join(', ')}`, dup);
  return [...tensors]
    .sort((a, b) => compareStages(parseStageName(a.name)!, parseStageName(b.name)!))
    .map((t) => ({ name: t.name, dtype: dtypeOf(t), shape: t.shape, data: t.data }));
}

/** The trace as safetensors bytes. */
export function encodeTrace(tensors: readonly TraceTensorInput[], meta: TraceWriteMetadata): Uint8Array {
  return writeSafetensors(layoutTensors(tensors), checkMetadata(meta));
}

/** Writes the trace to `path` (through a temporary file, renamed into place). */
export async function writeTraceFile(
  path: string,
  tensors: readonly TraceTensorInput[],
  meta: TraceWriteMetadata,
): Promise<void> {
  await writeSafetensorsFile(path, layoutTensors(tensors), checkMetadata(meta));
}

/**
 * Collects stages during a forward pass, copying each one (an engine reuses
 * its buffers), then writes them as one trace. `stages`, if given, is the
 * capture plan: record() of a stage outside it is a no-op, and wants() lets a
 * capture skip the copy-out entirely.
 */
export class TraceRecorder {
  private readonly tensors = new Map<string, TraceTensorInput>();
  private readonly plan: ReadonlySet<string> | undefined;

  constructor(
    private readonly meta: TraceWriteMetadata,
    stages?: Iterable<string>,
  ) {
    checkMetadata(meta);
    if (stages) {
      const plan = [...stages];
      const bad = plan.filter((n) => !parseStageName(n));
      if (bad.length > 0)
        throw new TraceNameError(`capture plan names non-canonical stages: ${bad.join(', ')}`, bad);
      this.plan = new Set(plan);
    }
  }

  wants(name: string): boolean {
    return this.plan ? this.plan.has(name) : parseStageName(name) !== undefined;
  }

  /** Records a copy of `data` (f64 input stays f64, anything else becomes f32). */
  record(name: string, shape: readonly number[], data: ArrayLike<number>): void {
    if (!parseStageName(name))
      throw new TraceNameError(`not a canonical stage name: ${JSON.stringify(name)}`, [name]);
    if (this.plan && !this.plan.has(name)) return;
    if (this.tensors.has(name)) throw new TraceNameError(`stage ${name} recorded twice`, [name]);
    const n = shape.reduce((p, d) => p * d, 1);
    if (n !== data.length)
      throw new TraceNameError(
        `stage ${name}: shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`,
        [name],
      );
    const copy = data instanceof Float64Array ? Float64Array.from(data) : Float32Array.from(data);
    this.tensors.set(name, { name, shape: [...shape], data: copy });
  }

  get names(): string[] {
    return [...this.tensors.keys()];
  }

  encode(): Uint8Array {
    return encodeTrace([...this.tensors.values()], this.meta);
  }

  write(path: string): Promise<void> {
    return writeTraceFile(path, [...this.tensors.values()], this.meta);
  }
}

/** One tensor of a trace under its canonical name (or, for `unknown`, its own name). */
export interface TraceEntry {
  name: string;
  /** The name in the file. */
  source: string;
  layer: number | null;
  /** null for an unknown name. */
  stage: Stage | null;
  shape: readonly number[];
  dtype: SafetensorsDtype;
  transform?: TensorTransform;
}

export interface Trace {
  /** The path, or '<bytes>'. */
  readonly file: string;
  readonly metadata: TraceMetadata;
  /** The map the names went through, if any. */
  readonly map?: string;
  /** Canonical stages in computation order. */
  readonly stages: readonly TraceEntry[];
  /** Names neither canonical nor mapped, in file order. */
  readonly unknown: readonly TraceEntry[];
  get(name: string): TraceEntry | undefined;
  /**
   * The values of a stage (or unknown name): F64 as Float64Array, every other
   * dtype converted to Float32Array, with the map's layout transform applied
   * (`headDim` for the ones that need it).
   */
  read(name: string, opts?: { headDim?: number }): Promise<Float32Array | Float64Array>;
  close(): Promise<void>;
}

export interface ReadTraceOptions {
  /** A name map (or its name, see NAME_MAPS) for traces named by another producer. */
  map?: NameMap | string;
}

function parseMetadata(raw: Map<string, string>, file: string | undefined, mapped: boolean): TraceMetadata {
  const format = raw.get('format');
  if (format === undefined || !format.startsWith(FORMAT_FAMILY)) {
    if (!mapped)
      throw new NotATraceError(
        format === undefined
          ? `not a plumbline trace: no "format" in __metadata__ (expected ${JSON.stringify(TRACE_FORMAT)}; give a name map to read another producer's tensors)`
          : `not a plumbline trace: format ${JSON.stringify(format)} (expected ${JSON.stringify(TRACE_FORMAT)})`,
        file,
      );
  } else if (format !== TRACE_FORMAT) {
    throw new TraceFormatError(
      `unsupported trace format ${JSON.stringify(format)} (this version reads ${TRACE_FORMAT})`,
      file,
    );
  }
  const meta: TraceMetadata = { raw };
  if (format !== undefined) meta.format = format;
  for (const key of ['producer', 'backend', 'model', 'numerics'] as const) {
    const v = raw.get(key);
    if (v !== undefined) meta[key] = v;
  }
  const tokens = raw.get('tokens');
  if (tokens !== undefined) meta.tokens = parseTokens(tokens, file);
  return meta;
}

function parseTokens(text: string, file: string | undefined): number[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TraceFormatError(`metadata tokens is not JSON: ${JSON.stringify(text.slice(0, 80))}`, file);
  }
  if (!Array.isArray(value) || !value.every((t) => Number.isSafeInteger(t) && t >= 0))
    throw new TraceFormatError('metadata tokens must be a JSON array of non-negative integers', file);
  return value as number[];
}

/** Reads a trace (a path, read lazily, or bytes). */
export async function readTrace(input: string | Uint8Array, opts: ReadTraceOptions = {}): Promise<Trace> {
  const map = typeof opts.map === 'string' ? nameMap(opts.map) : opts.map;
  const st = await readSafetensors(input);
  try {
    const file = typeof input === 'string' ? input : undefined;
    const metadata = parseMetadata(st.metadata, file, map !== undefined);
    const stages: TraceEntry[] = [];
    const unknown: TraceEntry[] = [];
    const from = new Map<string, string>();
    for (const t of st.tensors) {
      const mapped = parseStageName(t.name) ? { name: t.name } : map ? mapName(map, t.name) : undefined;
      const base = { source: t.name, shape: t.shape, dtype: t.dtype };
      if (!mapped) {
        unknown.push({ name: t.name, layer: null, stage: null, ...base });
        continue;
      }
      const other = from.get(mapped.name);
      if (other !== undefined)
        throw new TraceMapError(
          `${st.name}: tensors ${JSON.stringify(other)} and ${JSON.stringify(t.name)} both map to ${mapped.name}`,
        );
      from.set(mapped.name, t.name);
      const ref = parseStageName(mapped.name)!;
      stages.push({
        name: mapped.name,
        layer: ref.layer,
        stage: ref.stage,
        ...base,
        ...(mapped.transform ? { transform: mapped.transform } : {}),
      });
    }
    stages.sort((a, b) => compareStages(a as StageRef, b as StageRef));
    return new SafetensorsTrace(st, metadata, stages, unknown, map?.name);
  } catch (e) {
    await st.close();
    throw e;
  }
}

class SafetensorsTrace implements Trace {
  readonly file: string;
  private readonly byName = new Map<string, TraceEntry>();

  constructor(
    private readonly st: SafetensorsFile,
    readonly metadata: TraceMetadata,
    readonly stages: readonly TraceEntry[],
    readonly unknown: readonly TraceEntry[],
    readonly map: string | undefined,
  ) {
    this.file = st.name;
    for (const e of [...stages, ...unknown]) this.byName.set(e.name, e);
  }

  get(name: string): TraceEntry | undefined {
    return this.byName.get(name);
  }

  async read(name: string, opts: { headDim?: number } = {}): Promise<Float32Array | Float64Array> {
    const e = this.byName.get(name);
    if (!e) throw new TraceNameError(`${this.file}: no stage ${JSON.stringify(name)}`, [name]);
    const data =
      e.dtype === 'F64'
        ? ((await this.st.tensorData(e.source)) as Float64Array)
        : await this.st.tensorF32(e.source);
    if (!e.transform) return data;
    return applyTransform(data, e.transform, `${this.file}: ${e.source} (${e.name})`, opts.headDim);
  }

  close(): Promise<void> {
    return this.st.close();
  }
}
