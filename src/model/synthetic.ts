/**
 * Small deterministic GGUF models for tests and the demo: a llama, qwen2,
 * qwen3, qwen2moe or qwen3moe (or Mixtral-style llama) model of given
 * dimensions whose weights come from a seeded PRNG (matrices N(0, 1/K) so activations stay of order 1, norm weights near 1,
 * biases small), quantized to any ggml weight type with quantize() (byte-
 * identical to ggml's reference quantizers), with an SPM-style vocabulary in
 * the metadata. The same spec always gives the same bytes.
 */
import { ShapeError } from '../errors.js';
import type { GgufMetadataInputValue, GgufTensorInput } from '../formats/gguf/index.js';
import { writeGguf, writeGgufFile } from '../formats/gguf/index.js';
import { quantize } from '../ops/quantize.js';
import { type GgmlTypeName, ggmlType } from '../types/ggml-types.js';
import { ARCHITECTURES, type Architecture } from './hparams.js';
import { Prng } from './sampling.js';
import { syntheticVocab } from './synthetic-vocab.js';

/** A weight's role, for per-role types: `attn_q`, `ffn_down`, `token_embd`, `output`, … */
export type WeightRole =
  | 'token_embd'
  | 'output'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_output'
  | 'ffn_gate'
  | 'ffn_up'
  | 'ffn_down'
  | 'ffn_gate_inp';

export interface SyntheticModelSpec {
  arch: Architecture;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nVocab: number;
  /** Per-head dim (default nEmbd / nHead; written as attention.key_length when it differs). */
  headDim?: number;
  /** context_length (default 512). */
  nCtx?: number;
  /** Type of every 2-D weight (default f32). */
  type?: GgmlTypeName;
  /** Per-role overrides of `type`. */
  types?: Partial<Record<WeightRole, GgmlTypeName>>;
  /** No output.weight: the head is tied to token_embd. */
  tiedOutput?: boolean;
  seed?: number;
  /** tokenizer.ggml.eos_token_id (default 2, `</s>`): where generation stops. */
  eos?: number;
  name?: string;
  ropeFreqBase?: number;
  rmsEps?: number;
  /**
   * Mixture of experts (qwen2moe, qwen3moe; llama becomes Mixtral-style):
   * expert_count, expert_used_count, each expert's width (qwen*moe:
   * expert_feed_forward_length, default nFf; llama: nFf) and qwen2moe's
   * shared expert width. Expert tensors take the ffn_* roles' types; the
   * router (ffn_gate_inp) is f32 unless `types.ffn_gate_inp` says otherwise.
   */
  moe?: { nExpert: number; nExpertUsed: number; nFfExp?: number; nFfShexp?: number };
}

/** The `<arch>.expert_*` keys of a MoE spec (llama: Mixtral's, with the expert width as feed_forward_length). */
function moeMetadata(spec: SyntheticModelSpec): [string, GgufMetadataInputValue][] {
  const m = spec.moe;
  const a = spec.arch;
  const arch = ARCHITECTURES[a];
  if (!m) {
    if (arch.moe === 'required')
      throw new ShapeError(`synthetic model: a ${a} model needs moe: { nExpert, ... }`);
    return [];
  }
  if (arch.moe === 'absent') throw new ShapeError(`synthetic model: ${a} has no mixture-of-experts form`);
  if (arch.moe === 'optional' && m.nFfExp !== undefined && m.nFfExp !== spec.nFf)
    throw new ShapeError('synthetic model: a Mixtral-style llama has experts of width nFf');
  if (m.nFfShexp && !arch.shared) throw new ShapeError(`synthetic model: ${a} has no shared expert`);
  if (arch.shared && !m.nFfShexp) throw new ShapeError(`synthetic model: ${a} needs moe.nFfShexp`);
  const out: [string, GgufMetadataInputValue][] = [
    [`${a}.expert_count`, m.nExpert],
    [`${a}.expert_used_count`, m.nExpertUsed],
  ];
  if (arch.moe === 'required') out.push([`${a}.expert_feed_forward_length`, m.nFfExp ?? spec.nFf]);
  if (m.nFfShexp) out.push([`${a}.expert_shared_feed_forward_length`, m.nFfShexp]);
  return out;
}

/** The GGUF file's bytes. */
export function syntheticModel(spec: SyntheticModelSpec): Uint8Array {
  return writeGguf(syntheticContents(spec));
}

/** Writes the GGUF file. */
export async function writeSyntheticModel(path: string, spec: SyntheticModelSpec): Promise<void> {
  await writeGgufFile(path, syntheticContents(spec));
}

function syntheticContents(spec: SyntheticModelSpec) {
  const arch = ARCHITECTURES[spec.arch];
  if (!arch) throw new ShapeError(`synthetic model: unknown architecture ${JSON.stringify(spec.arch)}`);
  const { nEmbd: E, nLayer, nHead, nHeadKv, nFf: F, nVocab: V } = spec;
  const D = spec.headDim ?? E / nHead;
  for (const [k, v] of Object.entries({ nEmbd: E, nLayer, nHead, nHeadKv, nFf: F, nVocab: V, headDim: D }))
    if (!Number.isSafeInteger(v) || v < 1)
      throw new ShapeError(`synthetic model: ${k} must be a positive integer, got ${v}`);
  const a = spec.arch;
  const metadata: [string, GgufMetadataInputValue][] = [
    ['general.architecture', a],
    ['general.name', spec.name ?? `synthetic-${a}`],
    [`${a}.vocab_size`, V],
    [`${a}.context_length`, spec.nCtx ?? 512],
    [`${a}.embedding_length`, E],
    [`${a}.block_count`, nLayer],
    [`${a}.feed_forward_length`, F],
    [`${a}.attention.head_count`, nHead],
    [`${a}.attention.head_count_kv`, nHeadKv],
    [`${a}.rope.freq_base`, spec.ropeFreqBase ?? 10000],
    [`${a}.attention.layer_norm_rms_epsilon`, spec.rmsEps ?? 1e-6],
    ...(D !== E / nHead
      ? ([
          [`${a}.attention.key_length`, D],
          [`${a}.attention.value_length`, D],
        ] as [string, GgufMetadataInputValue][])
      : []),
    ...moeMetadata(spec),
    ...syntheticVocab(V, spec.eos),
  ];

  const rng = new Prng(spec.seed ?? 1);
  const gauss = () => {
    // Box–Muller on two uniforms in (0, 1].
    const u = 1 - rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const tensors: GgufTensorInput[] = [];
  /** N(0, 1/K) rows of K; `experts` > 0: a 3-D [experts, N, K] tensor. */
  const matrix = (name: string, role: WeightRole, N: number, K: number, experts = 0) => {
    const fallback = role === 'ffn_gate_inp' ? 'f32' : (spec.type ?? 'f32');
    const type = spec.types?.[role] ?? fallback;
    const info = ggmlType(type);
    if (K % info.blockSize !== 0)
      throw new ShapeError(
        `synthetic model: ${name} has rows of ${K}, not a multiple of the ${type} block size ${info.blockSize}`,
      );
    const x = new Float32Array(Math.max(experts, 1) * N * K);
    const std = 1 / Math.sqrt(K);
    for (let i = 0; i < x.length; i++) x[i] = gauss() * std;
    tensors.push({ name, type, shape: experts ? [experts, N, K] : [N, K], data: quantize(type, x) });
  };
  const moe = spec.moe;
  const Fx = moe ? (moe.nFfExp ?? F) : 0;
  const vector = (name: string, n: number, mean: number, std: number) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = mean + gauss() * std;
    tensors.push({ name, type: 'f32', shape: [n], data: new Uint8Array(x.buffer) });
  };

  matrix('token_embd.weight', 'token_embd', V, E);
  for (let l = 0; l < nLayer; l++) {
    const b = `blk.${l}.`;
    vector(`${b}attn_norm.weight`, E, 1, 0.1);
    matrix(`${b}attn_q.weight`, 'attn_q', nHead * D, E);
    matrix(`${b}attn_k.weight`, 'attn_k', nHeadKv * D, E);
    matrix(`${b}attn_v.weight`, 'attn_v', nHeadKv * D, E);
    if (arch.qkvBias === 'required') {
      vector(`${b}attn_q.bias`, nHead * D, 0, 0.1);
      vector(`${b}attn_k.bias`, nHeadKv * D, 0, 0.1);
      vector(`${b}attn_v.bias`, nHeadKv * D, 0, 0.1);
    }
    if (arch.qkNorm) {
      vector(`${b}attn_q_norm.weight`, D, 1, 0.1);
      vector(`${b}attn_k_norm.weight`, D, 1, 0.1);
    }
    matrix(`${b}attn_output.weight`, 'attn_output', E, nHead * D);
    vector(`${b}ffn_norm.weight`, E, 1, 0.1);
    if (!moe) {
      matrix(`${b}ffn_gate.weight`, 'ffn_gate', F, E);
      matrix(`${b}ffn_down.weight`, 'ffn_down', E, F);
      matrix(`${b}ffn_up.weight`, 'ffn_up', F, E);
      continue;
    }
    // The router is N(0, 1/K) like every matrix: logits of order 1 from the unit-RMS normed stream.
    matrix(`${b}ffn_gate_inp.weight`, 'ffn_gate_inp', moe.nExpert, E);
    matrix(`${b}ffn_gate_exps.weight`, 'ffn_gate', Fx, E, moe.nExpert);
    matrix(`${b}ffn_down_exps.weight`, 'ffn_down', E, Fx, moe.nExpert);
    matrix(`${b}ffn_up_exps.weight`, 'ffn_up', Fx, E, moe.nExpert);
    if (moe.nFfShexp) {
      vector(`${b}ffn_gate_inp_shexp.weight`, E, 0, 0.3);
      matrix(`${b}ffn_gate_shexp.weight`, 'ffn_gate', moe.nFfShexp, E);
      matrix(`${b}ffn_down_shexp.weight`, 'ffn_down', E, moe.nFfShexp);
      matrix(`${b}ffn_up_shexp.weight`, 'ffn_up', moe.nFfShexp, E);
    }
  }
  vector('output_norm.weight', E, 1, 0.1);
  if (!spec.tiedOutput) matrix('output.weight', 'output', V, E);
  return { metadata, tensors };
}
