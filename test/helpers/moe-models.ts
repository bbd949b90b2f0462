/** The synthetic mixture-of-experts models the MoE suites share (tests add their own seeds). */
import type { SyntheticModelSpec } from '../../src/model/synthetic.js';

export const MOE_MODELS = {
  // Qwen3-MoE: q/k norms, 8 experts, 2 per token, expert width 64 (the dense width unused), q8_0.
  qwen3moe: {
    arch: 'qwen3moe',
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 2,
    nFf: 128,
    nVocab: 384,
    type: 'q8_0',
    moe: { nExpert: 8, nExpertUsed: 2, nFfExp: 64 },
  },
  // Mixtral-style llama: 4 experts of width nFf, 2 per token, q4_0 experts with q8_0 down.
  mixtral: {
    arch: 'llama',
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 1,
    nFf: 96,
    nVocab: 384,
    type: 'q4_0',
    types: { ffn_down: 'q8_0' },
    moe: { nExpert: 4, nExpertUsed: 2 },
  },
  // Qwen2-MoE: Q/K/V biases, 8 experts of 32, 4 per token without renormalization, a shared expert
  // of 64; f16 experts (exact: widened exactly; ggml: f16 activations).
  qwen2moe: {
    arch: 'qwen2moe',
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 2,
    nFf: 64,
    nVocab: 384,
    type: 'q8_0',
    types: { ffn_gate: 'f16', ffn_up: 'f16', ffn_down: 'f16' },
    moe: { nExpert: 8, nExpertUsed: 4, nFfExp: 32, nFfShexp: 64 },
  },
} as const satisfies Record<string, SyntheticModelSpec>;
