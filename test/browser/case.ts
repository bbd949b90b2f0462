/**
 * What the browser test runs, shared by the Node side (browser.test.ts) and
 * the page (page/main.ts): one small synthetic llama and its prompt.
 */
import type { SyntheticModelSpec } from '../../src/model/synthetic.js';

/** GQA 4:1, q4_K weights (rows of 256), q6_K output, as a real small model would mix them. */
export const BROWSER_MODEL: SyntheticModelSpec = {
  arch: 'llama',
  name: 'plumbline-browser-llama',
  nEmbd: 256,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 1,
  nFf: 512,
  nVocab: 384,
  nCtx: 64,
  type: 'q4_K',
  types: { output: 'q6_K', attn_v: 'q8_0' },
  seed: 8,
};

export const PROMPT: readonly number[] = [1, 17, 230, 5, 99, 311, 42, 8];
/** Greedy tokens generated after the prompt (the end-of-generation token does not stop it). */
export const GEN_TOKENS = 6;

/** What Node computed, served to the page as /node.json (f32 arrays as base64 of their bytes). */
export interface NodeResult {
  /** Logits of every prompt token, [PROMPT.length, nVocab], on the wasm-simd build. */
  wasmLogits: string;
  /** The same on the float64 reference backend. */
  referenceLogits: string;
  /** Greedy tokens on the wasm-simd build. */
  wasmTokens: number[];
}

/** One engine's run in the page. */
export interface PageRun {
  label: string;
  backend: string;
  threads: number;
  threadsReason?: string;
  logits: string;
  tokens: number[];
  /** Logits against Node's wasm-simd logits: bit-identical, else the largest difference in f32 ULPs. */
  bitIdentical: boolean;
  maxUlp: number;
  /** compareLogits against Node's float64 reference logits (exact numerics). */
  referencePass: boolean;
  referenceReason: string;
  ms: number;
  /** WebGPU: per op, calls that ran on the GPU and calls that fell back to the CPU (engine.opReport). */
  opReport?: Record<string, { webgpu: number; cpu: number; why?: string }>;
}

/** What the page leaves in window.plumbline when done. */
export interface PageResult {
  crossOriginIsolated: boolean;
  runs: PageRun[];
  /** The op parity matrix on each engine in the page (wasm; WebGPU when asked), one row per case. */
  parity: {
    backend: string;
    threads: number;
    rows: {
      op: string;
      dtype: string;
      shape: string;
      tier: string;
      pass: boolean;
      /** Worst |a − r| / bound (bound mode), else null. */
      worstRatio: number | null;
      reason: string;
      /** Whose kernels computed the case (so whose bounds judged it): 'cpu' or 'webgpu'. */
      ranOn: string;
    }[];
  }[];
  /** What navigator.gpu offered, when the WebGPU run was asked for. */
  webgpuAdapter?: string;
}

export function f32ToBase64(a: Float32Array): string {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64ToF32(s: string): Float32Array {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return new Float32Array(b.buffer);
}
