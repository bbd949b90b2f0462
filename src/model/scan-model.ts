/**
 * A small recurrent "scan model" for traces and replay of scan kernels:
 * token embedding → a stack of scan layers → RMS norm → logits. Each layer
 * reads the residual stream x [T, D] and adds its output back:
 *
 *   gru:    scan_in = x·W_iᵀ + b_i                 [T, 3H]  (gx, gate order r, z, n)
 *           scan_gates, scan_state = GRU(gx, U, b_h, h0 = 0)  [T, 3H] r|z|n, [T, H]
 *           (U in one of the four structures; with `stateScale` the quantized GRU:
 *           int8 U per output channel by max-abs, the state on a frozen step)
 *   linear: scan_in = x·W_bᵀ                       [T, D]   (b_t)
 *           scan_gates = a (per-channel decay, the same every step)  [T, D]
 *           scan_state: h_t = a ⊙ h_{t−1} + b_t    [T, D]
 *   both:   scan_out = h·W_oᵀ [T, D]; layer_output = x + scan_out
 *
 * Stored as safetensors (f32 tensors named below; `__metadata__` holds
 * `format` = plumbline-scan-model/1 and the spec as JSON) or as GGUF (the
 * same tensors; `general.architecture` = plumbline-scan and the spec in
 * `plumbline-scan.spec`), the form `plumbline replay` reads.
 * syntheticScanModel writes one with deterministic weights from a seed.
 */
import { readGguf, writeGguf } from '../formats/gguf/index.js';
import { readSafetensors, writeSafetensors } from '../formats/safetensors/index.js';
import { GRU_STRUCTURES, type GruRecurrence, type GruStructure, gruShapes } from '../ops/gru.js';
import { Int8Quantizer } from '../ops/int8-quantizer.js';
import { ModelError } from './errors.js';

export const SCAN_MODEL_FORMAT = 'plumbline-scan-model/1';
/** `general.architecture` of a scan model in GGUF, and the key of its spec (JSON). */
export const SCAN_GGUF_ARCH = 'plumbline-scan';
export const SCAN_GGUF_SPEC_KEY = 'plumbline-scan.spec';

export type ScanLayerSpec =
  | {
      kind: 'gru';
      structure: GruStructure;
      hidden: number;
      /** The quantized GRU: the state's frozen int8 step s_h. */
      stateScale?: number;
    }
  | { kind: 'linear' };

export interface ScanModelSpec {
  vocab: number;
  dim: number;
  layers: ScanLayerSpec[];
  /** RMS norm epsilon of output_norm (default 1e-5). */
  rmsEps?: number;
}

/** The tensor names of layer l (GRU: scan_u.<array> for each of U's arrays). */
export function scanLayerNames(l: number) {
  const p = `blk.${l}.`;
  return {
    inWeight: `${p}scan_in.weight`,
    inBias: `${p}scan_in.bias`,
    u: (array: string) => `${p}scan_u.${array}`,
    bh: `${p}scan_bh`,
    decay: `${p}scan_decay`,
    outWeight: `${p}scan_out.weight`,
  };
}

export const SCAN_GLOBAL_NAMES = {
  embedding: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
} as const;

/** Every tensor of a model with its shape, in file order. */
export function scanModelShapes(spec: ScanModelSpec): Map<string, number[]> {
  const { vocab: V, dim: D } = spec;
  const out = new Map<string, number[]>([[SCAN_GLOBAL_NAMES.embedding, [V, D]]]);
  spec.layers.forEach((layer, l) => {
    const n = scanLayerNames(l);
    if (layer.kind === 'gru') {
      const H = layer.hidden;
      out.set(n.inWeight, [3 * H, D]);
      out.set(n.inBias, [3 * H]);
      for (const [array, shape] of Object.entries(gruShapes(layer.structure, H))) out.set(n.u(array), shape);
      out.set(n.bh, [3 * H]);
      out.set(n.outWeight, [D, H]);
    } else {
      out.set(n.inWeight, [D, D]);
      out.set(n.decay, [D]);
      out.set(n.outWeight, [D, D]);
    }
  });
  out.set(SCAN_GLOBAL_NAMES.outputNorm, [D]);
  out.set(SCAN_GLOBAL_NAMES.output, [V, D]);
  return out;
}

/** Checks a spec (a ModelError naming what is wrong); returns it with defaults filled in. */
export function checkScanSpec(spec: ScanModelSpec): Required<ScanModelSpec> {
  const int = (v: unknown, what: string) => {
    if (!Number.isSafeInteger(v) || (v as number) < 1)
      throw new ModelError(`scan model: ${what} must be an integer ≥ 1, got ${JSON.stringify(v)}`);
  };
  // A hostile file's spec may be any JSON value.
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new ModelError(`scan model: the spec must be a JSON object, got ${JSON.stringify(spec)}`);
  int(spec.vocab, 'vocab');
  int(spec.dim, 'dim');
  if (!Array.isArray(spec.layers) || spec.layers.length === 0)
    throw new ModelError('scan model: layers must be a non-empty array');
  spec.layers.forEach((layer, l) => {
    if (typeof layer !== 'object' || layer === null)
      throw new ModelError(`scan model: layer ${l} must be an object, got ${JSON.stringify(layer)}`);
    if (layer.kind === 'linear') return;
    if (layer.kind !== 'gru') throw new ModelError(`scan model: layer ${l} kind must be 'gru' or 'linear'`);
    int(layer.hidden, `layer ${l} hidden`);
    if (!GRU_STRUCTURES.includes(layer.structure))
      throw new ModelError(`scan model: layer ${l} structure must be one of ${GRU_STRUCTURES.join(', ')}`);
    try {
      gruShapes(layer.structure, layer.hidden);
    } catch (e) {
      throw new ModelError(`scan model: layer ${l}: ${(e as Error).message}`);
    }
    if (layer.stateScale !== undefined && !(layer.stateScale > 0 && Number.isFinite(layer.stateScale)))
      throw new ModelError(`scan model: layer ${l} stateScale must be finite and > 0`);
  });
  const rmsEps = spec.rmsEps ?? 1e-5;
  if (typeof rmsEps !== 'number' || !(rmsEps > 0 && Number.isFinite(rmsEps)))
    throw new ModelError(
      `scan model: rmsEps must be a finite number > 0, got ${typeof rmsEps === 'number' ? rmsEps : JSON.stringify(rmsEps)}`,
    );
  return { ...spec, rmsEps };
}

/** xorshift32 values uniform in ±scale. */
function uniform(n: number, seed: number, scale: number, center = 0): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = center + (2 * (s / 2 ** 32) - 1) * scale;
  }
  return out;
}

/** The init scale of each tensor: about unit-norm rows, decays in (0.5, 0.99). */
function initOf(name: string, shape: number[], layer: ScanLayerSpec | undefined): [number, number] {
  const fanIn = shape[shape.length - 1];
  if (name.endsWith('scan_decay')) return [0.245, 0.745];
  if (name === SCAN_GLOBAL_NAMES.outputNorm) return [0.1, 1];
  if (name === SCAN_GLOBAL_NAMES.embedding) return [1, 0];
  if (name.endsWith('.bias') || name.endsWith('scan_bh')) return [0.1, 0];
  if (name.includes('scan_u.') && layer?.kind === 'gru') {
    if (layer.structure === 'dense') return [1 / Math.sqrt(layer.hidden), 0];
    if (layer.structure === 'diagonal') return [0.9, 0];
    if (layer.structure === 'monarch') return [1 / Math.sqrt(fanIn), 0];
    return [0.6, 0];
  }
  return [1 / Math.sqrt(fanIn), 0];
}

/** A scan model with deterministic weights (xorshift from `seed`), as safetensors (default) or GGUF bytes. */
export function syntheticScanModel(
  spec: ScanModelSpec,
  seed = 1,
  format: 'safetensors' | 'gguf' = 'safetensors',
): Uint8Array {
  const full = checkScanSpec(spec);
  const tensors = [...scanModelShapes(full)].map(([name, shape], i) => {
    const l = /^blk\.(\d+)\./.exec(name);
    const [scale, center] = initOf(name, shape, l ? full.layers[Number(l[1])] : undefined);
    const n = shape.reduce((a, b) => a * b, 1);
    return { name, shape, data: uniform(n, seed * 7919 + i * 104729, scale, center) };
  });
  if (format === 'gguf')
    return writeGguf({
      metadata: [
        ['general.architecture', SCAN_GGUF_ARCH],
        [SCAN_GGUF_SPEC_KEY, JSON.stringify(full)],
      ],
      tensors: tensors.map((t) => ({ ...t, type: 'f32', data: new Uint8Array(t.data.buffer) })),
    });
  return writeSafetensors(
    tensors.map((t) => ({ ...t, dtype: 'F32' as const })),
    { format: SCAN_MODEL_FORMAT, spec: JSON.stringify(full) },
  );
}

/** A model file opened for reading: its spec and each tensor's dtype, shape and f32 values. */
interface ScanSource {
  name: string;
  spec: string | undefined;
  info(name: string): { type: string; shape: readonly number[] } | undefined;
  values(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

async function openSource(source: string | Uint8Array): Promise<ScanSource> {
  let magic: string;
  if (typeof source === 'string') {
    const { open } = await import('node:fs/promises');
    const h = await open(source, 'r');
    try {
      const b = new Uint8Array(4);
      await h.read(b, 0, 4, 0);
      magic = String.fromCharCode(...b);
    } finally {
      await h.close();
    }
  } else magic = String.fromCharCode(...source.subarray(0, 4));
  if (magic === 'GGUF') {
    const file = await readGguf(source);
    const arch = file.get('general.architecture');
    if (arch !== SCAN_GGUF_ARCH)
      throw new ModelError(
        `scan model ${file.name}: general.architecture must be ${SCAN_GGUF_ARCH}, got ${String(arch)}`,
      );
    const spec = file.get(SCAN_GGUF_SPEC_KEY);
    return {
      name: file.name,
      spec: typeof spec === 'string' ? spec : undefined,
      info: (n) => {
        const t = file.tensor(n);
        return t && { type: t.type.name === 'f32' ? 'F32' : t.type.name, shape: t.shape };
      },
      values: async (n) => {
        const b = await file.tensorData(n);
        return new Float32Array(b.slice().buffer);
      },
      close: () => file.close(),
    };
  }
  const file = await readSafetensors(source);
  if (file.metadata.get('format') !== SCAN_MODEL_FORMAT) {
    await file.close();
    throw new ModelError(
      `scan model ${file.name}: __metadata__ format must be ${SCAN_MODEL_FORMAT}, got ${JSON.stringify(file.metadata.get('format'))}`,
    );
  }
  return {
    name: file.name,
    spec: file.metadata.get('spec'),
    info: (n) => {
      const t = file.get(n);
      return t && { type: t.dtype, shape: t.shape };
    },
    values: (n) => file.tensorF32(n),
    close: () => file.close(),
  };
}

/** A loaded scan model: its spec and f32 tensors. */
export class ScanModel {
  /** Every tensor's shape (scanModelShapes of the spec). */
  private readonly shapes: ReadonlyMap<string, number[]>;

  private constructor(
    readonly spec: Required<ScanModelSpec>,
    private readonly tensors: ReadonlyMap<string, Float32Array>,
    /** The file's name ('<bytes>' for bytes). */
    readonly source: string,
  ) {
    this.shapes = scanModelShapes(spec);
  }

  /** Reads a scan model from safetensors or GGUF (a path or bytes). */
  static async read(source: string | Uint8Array): Promise<ScanModel> {
    let file: ScanSource;
    try {
      file = await openSource(source);
    } catch (e) {
      if (e instanceof ModelError) throw e;
      throw new ModelError(`scan model: ${(e as Error).message}`);
    }
    try {
      let parsed: ScanModelSpec;
      try {
        parsed = JSON.parse(file.spec ?? '');
      } catch {
        throw new ModelError(`scan model ${file.name}: its spec is missing or not JSON`);
      }
      const spec = checkScanSpec(parsed);
      const tensors = new Map<string, Float32Array>();
      for (const [name, shape] of scanModelShapes(spec)) {
        const info = file.info(name);
        if (!info) throw new ModelError(`scan model ${file.name}: no tensor ${name}`);
        if (info.type !== 'F32' || info.shape.join(',') !== shape.join(','))
          throw new ModelError(
            `scan model ${file.name}: ${name} must be F32 [${shape}], got ${info.type} [${info.shape}]`,
          );
        tensors.set(name, await file.values(name));
      }
      return new ScanModel(spec, tensors, file.name);
    } finally {
      await file.close();
    }
  }

  /** A scan model from its spec and tensors by name (each f32, in the shapes of scanModelShapes). */
  static fromTensors(
    spec: ScanModelSpec,
    tensors: ReadonlyMap<string, Float32Array>,
    source = '<tensors>',
  ): ScanModel {
    const full = checkScanSpec(spec);
    for (const [name, shape] of scanModelShapes(full)) {
      const n = shape.reduce((a, b) => a * b, 1);
      if (tensors.get(name)?.length !== n)
        throw new ModelError(`scan model ${source}: ${name} must have ${n} values`);
    }
    return new ScanModel(full, tensors, source);
  }

  tensor(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new ModelError(`scan model: no tensor ${name}`);
    return t;
  }

  shape(name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) throw new ModelError(`scan model: no tensor ${name}`);
    return [...s];
  }

  /** Layer l's GRU recurrence (its U arrays), for a 'gru' layer. */
  recurrence(l: number): GruRecurrence {
    const layer = this.spec.layers[l];
    if (layer?.kind !== 'gru') throw new ModelError(`scan model: layer ${l} is not a GRU layer`);
    const n = scanLayerNames(l);
    const arrays = Object.fromEntries(
      Object.keys(gruShapes(layer.structure, layer.hidden)).map((a) => [a, this.tensor(n.u(a))]),
    );
    return { kind: layer.structure, H: layer.hidden, ...arrays } as GruRecurrence;
  }

  /** The frozen state quantizer of a quantized GRU layer, or undefined. */
  stateQuantizer(l: number): Int8Quantizer | undefined {
    const layer = this.spec.layers[l];
    if (layer?.kind !== 'gru' || layer.stateScale === undefined) return undefined;
    return Int8Quantizer.fromScales({ granularity: 'per-tensor' }, [layer.stateScale]);
  }
}
