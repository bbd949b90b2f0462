/**
 * The browser bench's page: big-q4_k.gguf (served as /model.gguf) on the
 * wasm engine over Web Workers, timed phase by phase with the same code as
 * Node (../model-run.ts). Node drives it through window.modelBench, one
 * phase per call, so that it can read the browser's CPU time around each.
 */
import { createEngine, type Engine, type Model, type WasmBuild } from 'plumbline';
import { DECODE, decode, PROMPT, prefill } from '../model-run.js';

export interface PageEngine {
  backend: string;
  threads: number;
  threadsReason?: string;
  crossOriginIsolated: boolean;
}

export interface ModelBenchPage {
  /** Loads the model on a fresh engine (the previous one disposed). */
  load(opts: { threads: number; numerics: 'exact' | 'ggml'; wasmBuild: WasmBuild }): Promise<PageEngine>;
  /** Wall seconds of one phase. */
  prefill(): Promise<number>;
  decode(): Promise<number>;
  dispose(): Promise<void>;
}

declare global {
  interface Window {
    modelBench?: ModelBenchPage;
  }
}

let bytes: Uint8Array | undefined;
let engine: Engine | undefined;
let model: Model | undefined;
let logits: Float32Array | undefined;

async function modelBytes(): Promise<Uint8Array> {
  if (!bytes) {
    const res = await fetch('./model.gguf');
    if (!res.ok) throw new Error(`GET ./model.gguf: HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  return bytes;
}

async function seconds(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const page: ModelBenchPage = {
  async load({ threads, numerics, wasmBuild }) {
    await page.dispose();
    engine = await createEngine({ backend: 'wasm', threads, wasmBuild });
    model = await engine.load(await modelBytes(), { numerics, nCtx: PROMPT + DECODE });
    return {
      backend: engine.backend,
      threads: engine.threads,
      ...(engine.threadsReason ? { threadsReason: engine.threadsReason } : {}),
      crossOriginIsolated,
    };
  },
  prefill: () =>
    seconds(async () => {
      logits = await prefill(model!);
    }),
  decode: () => seconds(() => decode(model!, logits!)),
  async dispose() {
    model?.dispose();
    await engine?.dispose();
    model = engine = logits = undefined;
  },
};

window.modelBench = page;
