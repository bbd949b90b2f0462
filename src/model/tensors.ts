/**
 * The tensors a model of each architecture has (llama.cpp's names,
 * ggml-facts.md), their shapes for the hyperparameters, and the check of a
 * GGUF file against them: every required tensor present, nothing unexpected,
 * a usable type, the right shape — each problem a ModelTensorError naming
 * the tensor.
 */
import type { GgufFile, GgufTensorInfo } from '../formats/gguf/index.js';
import { isSupportedTensorType } from '../formats/gguf/index.js';
import { HyperparameterError, ModelTensorError } from './errors.js';
import type { HParams } from './hparams.js';

/** `matrix`: a matmul weight or embedding table, any ggml weight type; `vector`: norm weights, biases (f32/f16/bf16, kept as f32). */
export type TensorKind = 'matrix' | 'vector';

export interface TensorSpec {
  name: string;
  /** Row-major, outermost first. */
  shape: readonly number[];
  kind: TensorKind;
  required: boolean;
}

const VECTOR_TYPES = new Set(['f32', 'f16', 'bf16']);

/** Names of one layer's tensors, by role. */
export function layerTensorNames(l: number) {
  const t = (s: string) => `blk.${l}.${s}`;
  return {
    attnNorm: t('attn_norm.weight'),
    wq: t('attn_q.weight'),
    wk: t('attn_k.weight'),
    wv: t('attn_v.weight'),
    wo: t('attn_output.weight'),
    bq: t('attn_q.bias'),
    bk: t('attn_k.bias'),
    bv: t('attn_v.bias'),
    bo: t('attn_output.bias'),
    qNorm: t('attn_q_norm.weight'),
    kNorm: t('attn_k_norm.weight'),
    ffnNorm: t('ffn_norm.weight'),
    wGate: t('ffn_gate.weight'),
    wUp: t('ffn_up.weight'),
    wDown: t('ffn_down.weight'),
    router: t('ffn_gate_inp.weight'),
    gateExps: t('ffn_gate_exps.weight'),
    upExps: t('ffn_up_exps.weight'),
    downExps: t('ffn_down_exps.weight'),
    sharedGateInp: t('ffn_gate_inp_shexp.weight'),
    sharedGate: t('ffn_gate_shexp.weight'),
    sharedUp: t('ffn_up_shexp.weight'),
    sharedDown: t('ffn_down_shexp.weight'),
  };
}

export const GLOBAL_TENSOR_NAMES = {
  tokenEmbd: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
  ropeFreqs: 'rope_freqs.weight',
} as const;

/** Every tensor the architecture may have, in file order as llama.cpp's converters write them. */
export function tensorSpecs(h: HParams): TensorSpec[] {
  const { nEmbd: E, nVocab: V, nFf: F, headDim: D } = h;
  const qDim = h.nHead * D;
  const kvDim = h.nHeadKv * D;
  const a = h.arch;
  const g = GLOBAL_TENSOR_NAMES;
  const specs: TensorSpec[] = [
    { name: g.tokenEmbd, shape: [V, E], kind: 'matrix', required: true },
    { name: g.ropeFreqs, shape: [h.rope.nDims / 2], kind: 'vector', required: false },
  ];
  for (let l = 0; l < h.nLayer; l++) {
    const n = layerTensorNames(l);
    const bias = a.qkvBias === 'required';
    const hasBias = a.qkvBias !== 'absent';
    specs.push(
      { name: n.attnNorm, shape: [E], kind: 'vector', required: true },
      { name: n.wq, shape: [qDim, E], kind: 'matrix', required: true },
      { name: n.wk, shape: [kvDim, E], kind: 'matrix', required: true },
      { name: n.wv, shape: [kvDim, E], kind: 'matrix', required: true },
      { name: n.wo, shape: [E, qDim], kind: 'matrix', required: true },
    );
    if (hasBias)
      specs.push(
        { name: n.bq, shape: [qDim], kind: 'vector', required: bias },
        { name: n.bk, shape: [kvDim], kind: 'vector', required: bias },
        { name: n.bv, shape: [kvDim], kind: 'vector', required: bias },
      );
    if (a.outBias !== 'absent') specs.push({ name: n.bo, shape: [E], kind: 'vector', required: false });
    if (a.qkNorm)
      specs.push(
        { name: n.qNorm, shape: [D], kind: 'vector', required: true },
        { name: n.kNorm, shape: [D], kind: 'vector', required: true },
      );
    specs.push({ name: n.ffnNorm, shape: [E], kind: 'vector', required: true });
    const m = h.moe;
    if (!m)
      specs.push(
        { name: n.wGate, shape: [F, E], kind: 'matrix', required: true },
        { name: n.wUp, shape: [F, E], kind: 'matrix', required: true },
        { name: n.wDown, shape: [E, F], kind: 'matrix', required: true },
      );
    else {
      // ggml's 3-D expert tensors: [n_expert, rows, cols], one [rows, cols] matrix per expert.
      const X = m.nExpert;
      specs.push(
        { name: n.router, shape: [X, E], kind: 'matrix', required: true },
        { name: n.gateExps, shape: [X, m.nFfExp, E], kind: 'matrix', required: true },
        { name: n.upExps, shape: [X, m.nFfExp, E], kind: 'matrix', required: true },
        { name: n.downExps, shape: [X, E, m.nFfExp], kind: 'matrix', required: true },
      );
      if (m.nFfShexp)
        specs.push(
          { name: n.sharedGateInp, shape: [E], kind: 'vector', required: true },
          { name: n.sharedGate, shape: [m.nFfShexp, E], kind: 'matrix', required: true },
          { name: n.sharedUp, shape: [m.nFfShexp, E], kind: 'matrix', required: true },
          { name: n.sharedDown, shape: [E, m.nFfShexp], kind: 'matrix', required: true },
        );
    }
  }
  specs.push(
    { name: g.outputNorm, shape: [E], kind: 'vector', required: true },
    // Absent: the output head is tied to token_embd.
    { name: g.output, shape: [V, E], kind: 'matrix', required: false },
  );
  return specs;
}

/**
 * block_count against the file's tensors before any spec is built: every
 * layer has several tensors, so more layers than tensors is a hostile count
 * (2^31 − 1 layers would build billions of specs and run out of memory).
 */
export function checkLayerCount(file: Pick<GgufFile, 'tensors'>, h: HParams): void {
  if (h.nLayer > file.tensors.length)
    throw new HyperparameterError(
      `${h.arch.name}.block_count`,
      `${h.nLayer} layers, but the file has only ${file.tensors.length} tensors`,
    );
}

/** Checks the file's tensors against the specs; returns the infos of those present, by name. */
export function checkTensors(
  file: Pick<GgufFile, 'tensors'>,
  specs: readonly TensorSpec[],
  arch: string,
): Map<string, GgufTensorInfo> {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const expected = new Set(specs.map((s) => s.name));
  for (const t of file.tensors)
    if (!expected.has(t.name))
      throw new ModelTensorError(t.name, `is not a tensor of a ${arch} model with these hyperparameters`);
  const found = new Map<string, GgufTensorInfo>();
  for (const spec of specs) {
    const info = byName.get(spec.name);
    if (!info) {
      if (spec.required) throw new ModelTensorError(spec.name, `is missing (a ${arch} model needs it)`);
      continue;
    }
    checkType(info, spec);
    if (info.shape.length !== spec.shape.length || info.shape.some((d, i) => d !== spec.shape[i]))
      throw new ModelTensorError(
        spec.name,
        `has shape [${info.shape}] but the hyperparameters make it [${spec.shape}]`,
      );
    found.set(spec.name, info);
  }
  return found;
}

function checkType(info: GgufTensorInfo, spec: TensorSpec): void {
  const t = info.type;
  if (!isSupportedTensorType(t))
    throw new ModelTensorError(spec.name, `has type ${t.name}, which plumbline cannot compute with`);
  if (spec.kind === 'vector' && !VECTOR_TYPES.has(t.name))
    throw new ModelTensorError(
      spec.name,
      `has type ${t.name}; a norm weight or bias must be f32, f16 or bf16`,
    );
  if (spec.kind === 'matrix' && !t.weightType)
    throw new ModelTensorError(spec.name, `has type ${t.name}, an activation-only type, not a weight type`);
}
