/**
 * Hyperparameters of a GGUF model (ggml-facts.md, "GGUF"): read from the
 * `<arch>.*` keys with llama.cpp's defaults, checked for type and
 * consistency. Every problem is a HyperparameterError naming the key.
 */
import type { GgufFile } from '../formats/gguf/index.js';
import { GgufValueType } from '../formats/gguf/index.js';
import type { MoeScheme } from '../ops/moe-route.js';
import type { RopeMode } from '../ops/rope.js';
import { HyperparameterError, UnsupportedArchitectureError } from './errors.js';

/** What differs between the architectures plumbline runs (llama.cpp's llm_build_* for each). */
export interface ArchSpec {
  readonly name: string;
  /** llama: normal (pairs 2i, 2i+1; the converter permuted Q/K for it); qwen*: NeoX. */
  readonly ropeMode: RopeMode;
  /** Q, K, V projection biases: qwen2 always has them; llama may. */
  readonly qkvBias: 'required' | 'optional' | 'absent';
  /** Output projection bias (llama may have one). */
  readonly outBias: 'optional' | 'absent';
  /** RMSNorm of each Q and K head over head_dim before RoPE (qwen3). */
  readonly qkNorm: boolean;
  /**
   * Mixture of experts: 'required' (qwen2moe, qwen3moe), 'optional' (llama:
   * Mixtral is a llama with `expert_count` > 0), 'absent'. `router` names the
   * routing scheme (engine.moeRoute), `shared` whether layers have Qwen2-MoE's
   * sigmoid-gated shared expert.
   */
  readonly moe: 'required' | 'optional' | 'absent';
  readonly router?: MoeScheme;
  readonly shared?: boolean;
}

export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'qwen2moe' | 'qwen3moe';

export const ARCHITECTURES: Readonly<Record<Architecture, ArchSpec>> = Object.freeze({
  llama: {
    name: 'llama',
    ropeMode: 'normal',
    qkvBias: 'optional',
    outBias: 'optional',
    qkNorm: false,
    moe: 'optional',
    router: 'mixtral',
  },
  qwen2: {
    name: 'qwen2',
    ropeMode: 'neox',
    qkvBias: 'required',
    outBias: 'absent',
    qkNorm: false,
    moe: 'absent',
  },
  qwen3: {
    name: 'qwen3',
    ropeMode: 'neox',
    qkvBias: 'absent',
    outBias: 'absent',
    qkNorm: true,
    moe: 'absent',
  },
  qwen2moe: {
    name: 'qwen2moe',
    ropeMode: 'neox',
    qkvBias: 'required',
    outBias: 'absent',
    qkNorm: false,
    moe: 'required',
    router: 'qwen2-moe',
    shared: true,
  },
  qwen3moe: {
    name: 'qwen3moe',
    ropeMode: 'neox',
    qkvBias: 'absent',
    outBias: 'absent',
    qkNorm: true,
    moe: 'required',
    router: 'qwen3-moe',
  },
});

/** The mixture-of-experts FFN of every layer. */
export interface MoeParams {
  /** `expert_count` */
  nExpert: number;
  /** `expert_used_count`: k, experts per token. */
  nExpertUsed: number;
  /** Each expert's FFN width (`expert_feed_forward_length`; Mixtral: `feed_forward_length`). */
  nFfExp: number;
  /** The shared expert's width (`expert_shared_feed_forward_length`), 0 without one. */
  nFfShexp: number;
  scheme: MoeScheme;
}

export interface RopeParams {
  mode: RopeMode;
  /** Rotated dims per head (`rope.dimension_count`, default head_dim). */
  nDims: number;
  freqBase: number;
  /** 1 / `rope.scaling.factor` (linear scaling), else 1. */
  freqScale: number;
}

export interface HParams {
  arch: ArchSpec;
  nVocab: number;
  /** `context_length`: the longest context the model was trained for. */
  nCtxTrain: number;
  nEmbd: number;
  nLayer: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  /** Per-head dim of Q, K and V (`attention.key_length` = `value_length`, default n_embd / n_head). */
  headDim: number;
  rmsEps: number;
  rope: RopeParams;
  /** null: a dense FFN. */
  moe: MoeParams | null;
}

/** Reads the metadata of an open GGUF file; `vocabFallback` is used when `<arch>.vocab_size` is absent. */
export function readHParams(file: Pick<GgufFile, 'metadata'>, vocabFallback?: number): HParams {
  const archValue = file.metadata.get('general.architecture');
  const archName = archValue?.type === GgufValueType.STRING ? archValue.value : undefined;
  // hasOwn: a name like "constructor" is not an architecture.
  if (archName === undefined || !Object.hasOwn(ARCHITECTURES, archName))
    throw new UnsupportedArchitectureError(archName, Object.keys(ARCHITECTURES));
  const arch = ARCHITECTURES[archName as Architecture];
  const k = new Keys(file, arch.name);

  const nEmbd = k.int('embedding_length');
  const nLayer = k.int('block_count');
  const moe = readMoe(k, arch);
  // MoE files may omit the dense width (it is used by no layer).
  const nFf = k.int('feed_forward_length', moe?.nFfExp);
  const nHead = k.int('attention.head_count');
  const nHeadKv = k.perLayerInt('attention.head_count_kv', nLayer) ?? nHead;
  if (nHead % nHeadKv !== 0)
    throw new HyperparameterError(
      k.name('attention.head_count_kv'),
      `${nHeadKv} does not divide attention.head_count = ${nHead}`,
    );
  const defaultHeadDim = nEmbd % nHead === 0 ? nEmbd / nHead : undefined;
  if (defaultHeadDim === undefined && !k.has('attention.key_length'))
    throw new HyperparameterError(
      k.name('embedding_length'),
      `${nEmbd} is not a multiple of attention.head_count = ${nHead}, and attention.key_length is not given`,
    );
  const headDim = k.int('attention.key_length', defaultHeadDim);
  const valueDim = k.int('attention.value_length', headDim);
  if (valueDim !== headDim)
    throw new HyperparameterError(
      k.name('attention.value_length'),
      `${valueDim} differs from attention.key_length = ${headDim}; only equal K and V head dims are supported`,
    );
  const nDims = k.int('rope.dimension_count', headDim);
  if (nDims % 2 !== 0 || nDims > headDim)
    throw new HyperparameterError(
      k.name('rope.dimension_count'),
      `${nDims} must be even and at most the head dim ${headDim}`,
    );
  const nVocab = k.int('vocab_size', vocabFallback);
  return {
    arch,
    nVocab,
    nCtxTrain: k.int('context_length'),
    nEmbd,
    nLayer,
    nFf,
    nHead,
    nHeadKv,
    headDim,
    rmsEps: k.float('attention.layer_norm_rms_epsilon', undefined, 'non-negative'),
    rope: {
      mode: arch.ropeMode,
      nDims,
      freqBase: k.float('rope.freq_base', 10000, 'positive'),
      freqScale: ropeFreqScale(k),
    },
    moe,
  };
}

/** The `expert_*` keys: expert_count required for qwen*moe; a llama with expert_count > 0 is Mixtral. */
function readMoe(k: Keys, arch: ArchSpec): MoeParams | null {
  if (arch.moe === 'absent' || !arch.router) return null;
  // 0 turns a llama dense; a qwen*moe model has no dense form.
  const optional = arch.moe === 'optional';
  const nExpert = k.int('expert_count', optional ? 0 : undefined, optional);
  if (nExpert === 0) return null;
  const nExpertUsed = k.int('expert_used_count');
  if (nExpertUsed > nExpert)
    throw new HyperparameterError(
      k.name('expert_used_count'),
      `${nExpertUsed} experts per token, but expert_count is ${nExpert}`,
    );
  // llama.cpp's defaults when a qwen*moe file omits the widths: n_ff / n_expert_used, and n_ff.
  const dense = () => k.int('feed_forward_length');
  const nFfExp =
    arch.moe === 'optional'
      ? dense()
      : k.has('expert_feed_forward_length')
        ? k.int('expert_feed_forward_length')
        : Math.floor(dense() / nExpertUsed);
  const shexp = 'expert_shared_feed_forward_length';
  const nFfShexp = arch.shared ? (k.has(shexp) ? k.int(shexp) : dense()) : 0;
  if (nFfExp < 1) throw new HyperparameterError(k.name('feed_forward_length'), 'gives experts of width 0');
  return { nExpert, nExpertUsed, nFfExp, nFfShexp, scheme: arch.router };
}

/** llama.cpp: freq_scale = 1 / rope.scaling.factor when a factor is given; only linear scaling here. */
function ropeFreqScale(k: Keys): number {
  const type = k.string('rope.scaling.type');
  if (type !== undefined && type !== 'none' && type !== 'linear')
    throw new HyperparameterError(
      k.name('rope.scaling.type'),
      `RoPE scaling ${JSON.stringify(type)} is not supported (only none and linear)`,
    );
  const factor = k.float('rope.scaling.factor', 0, 'non-negative');
  return type === 'none' || factor === 0 ? 1 : Math.fround(1 / factor);
}

/** Typed access to `<arch>.*` keys. */
class Keys {
  constructor(
    private readonly file: Pick<GgufFile, 'metadata'>,
    private readonly arch: string,
  ) {}

  name(key: string): string {
    return `${this.arch}.${key}`;
  }

  has(key: string): boolean {
    return this.file.metadata.has(this.name(key));
  }

  private numeric(key: string): number | undefined {
    const name = this.name(key);
    const v = this.file.metadata.get(name);
    if (v === undefined) return undefined;
    if (typeof v.value === 'bigint') {
      if (v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < -BigInt(Number.MAX_SAFE_INTEGER))
        throw new HyperparameterError(name, `${v.value} is out of range`);
      return Number(v.value);
    }
    if (typeof v.value !== 'number') throw new HyperparameterError(name, 'must be a number');
    return v.value;
  }

  /** A positive 32-bit integer (zero too with allowZero). */
  int(key: string, fallback?: number, allowZero = false): number {
    const value = this.numeric(key) ?? fallback;
    const name = this.name(key);
    if (value === undefined) throw new HyperparameterError(name, 'is missing');
    if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1) || value > 2 ** 31 - 1)
      throw new HyperparameterError(
        name,
        `must be a ${allowZero ? 'non-negative' : 'positive'} 32-bit integer, got ${value}`,
      );
    return value;
  }

  /** A count that may be given per layer (an array); all layers must agree here. */
  perLayerInt(key: string, nLayer: number): number | undefined {
    const name = this.name(key);
    const v = this.file.metadata.get(name);
    if (v?.type !== GgufValueType.ARRAY) return v === undefined ? undefined : this.int(key);
    const items = v.value as unknown[];
    if (items.length !== nLayer)
      throw new HyperparameterError(name, `has ${items.length} entries for ${nLayer} layers`);
    const first = Number(items[0]);
    if (!items.every((x) => Number(x) === first))
      throw new HyperparameterError(name, 'differs between layers; only a uniform value is supported');
    if (!Number.isSafeInteger(first) || first < 1)
      throw new HyperparameterError(name, `must be a positive integer, got ${first}`);
    return first;
  }

  float(key: string, fallback: number | undefined, check: 'positive' | 'non-negative'): number {
    const value = this.numeric(key) ?? fallback;
    const name = this.name(key);
    if (value === undefined) throw new HyperparameterError(name, 'is missing');
    const v = Math.fround(value);
    if (!Number.isFinite(v) || (check === 'positive' ? v <= 0 : v < 0))
      throw new HyperparameterError(name, `must be a ${check} finite number, got ${value}`);
    return v;
  }

  string(key: string): string | undefined {
    const name = this.name(key);
    const v = this.file.metadata.get(name);
    if (v === undefined) return undefined;
    if (v.type !== GgufValueType.STRING) throw new HyperparameterError(name, 'must be a string');
    return v.value;
  }
}
