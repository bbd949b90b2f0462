/** Synthetic models small enough for a software Vulkan driver (the WebGPU model tests). */
import type { SyntheticModelSpec } from '../../src/model/synthetic.js';

/** A tiny llama: GQA 4:1, q8_0 weights (tests vary the architecture). */
export const TINY_LLAMA: SyntheticModelSpec = {
  arch: 'llama',
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 1,
  nFf: 128,
  nVocab: 384,
  type: 'q8_0',
};

/** Mixture-of-experts sizes for TINY_LLAMA as qwen3moe: 4 experts, 2 per token. */
export const TINY_MOE = { nExpert: 4, nExpertUsed: 2, nFfExp: 64 };
