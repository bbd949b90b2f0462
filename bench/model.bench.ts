/**
 * A whole model: prompt (128 tokens, one pass) and decode (64 tokens, one
 * pass each, after that prompt) tokens/s on ../shared/models/big-q4_k.gguf
 * (n_embd 2048, 2 layers, n_ff 5632, vocab 2048), 1 and 2 threads, both
 * numerics, beside what llama.cpp compiled to wasm (wllama 3.8.1) measured
 * on this machine (models README: 85 / 149 prompt, 37 / 63 decode).
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { WasmBuild } from '../src/backends/wasm/module.js';
import { createEngine } from '../src/engine/engine.js';
import { loadModel } from '../src/model/load.js';
import type { Model, Numerics } from '../src/model/model.js';
import { measureRelaxedBuild, median, type SuiteResult } from './lib.js';
import { DECODE, decode, PROMPT, prefill, RUNS, WLLAMA } from './model-run.js';

export const MODEL = new URL('../../shared/models/big-q4_k.gguf', import.meta.url).pathname;

export interface Phase {
  wall: number;
  /** CPU seconds of the process (every worker thread included). */
  cpu: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<[Phase, T]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const c = process.cpuUsage(c0);
  return [{ wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }, out];
}

/** One run: the prompt in one pass, then DECODE greedy decode passes (model-run.ts). */
async function run(model: Model): Promise<{ prompt: Phase; decode: Phase }> {
  const [prompt, logits] = await timed(() => prefill(model));
  const [dec] = await timed(() => decode(model, logits));
  return { prompt, decode: dec };
}

/** Tokens/s of one configuration: wall, and per (CPU seconds / threads). */
export interface ModelFigures {
  /** engine.threads and engine.backend (the build that ran). */
  threads: number;
  backend: string;
  prompt: number;
  decode: number;
  promptCpu: number;
  decodeCpu: number;
}

/** Tokens/s from RUNS timed runs (median) after a warm-up: wall, and per (CPU seconds / threads). */
export function figures(
  threads: number,
  backend: string,
  runs: { prompt: Phase; decode: Phase }[],
): ModelFigures {
  const rate = (n: number, xs: number[]) => n / median(xs);
  return {
    threads,
    backend,
    prompt: rate(
      PROMPT,
      runs.map((r) => r.prompt.wall),
    ),
    decode: rate(
      DECODE,
      runs.map((r) => r.decode.wall),
    ),
    promptCpu: rate(
      PROMPT,
      runs.map((r) => r.prompt.cpu / threads),
    ),
    decodeCpu: rate(
      DECODE,
      runs.map((r) => r.decode.cpu / threads),
    ),
  };
}

/** big-q4_k.gguf on Node's wasm engine: one configuration, measured as the model suite measures it. */
export async function measureModelInNode(opts: {
  threads: number;
  numerics: Numerics;
  wasmBuild?: WasmBuild;
}): Promise<ModelFigures> {
  const engine = await createEngine({ backend: 'wasm', threads: opts.threads, wasmBuild: opts.wasmBuild });
  try {
    const model = await loadModel(engine, MODEL, { numerics: opts.numerics, nCtx: PROMPT + DECODE });
    try {
      await run(model); // warm-up: JIT, worker spin-up
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await run(model));
      return figures(engine.threads, engine.backend, runs);
    } finally {
      model.dispose();
    }
  } finally {
    await engine.dispose();
  }
}

/**
 * As measureModelInNode, on either build: the relaxed one here when this node
 * validates it, else in a child node with the flag. A string says why not measured.
 */
export function measureModelInNodeBuild(opts: {
  threads: number;
  numerics: Numerics;
  wasmBuild: WasmBuild;
}): Promise<ModelFigures | string> {
  if (opts.wasmBuild === 'wasm-simd') return measureModelInNode(opts);
  return measureRelaxedBuild(() => measureModelInNode(opts), import.meta.url, [
    String(opts.threads),
    opts.numerics,
  ]);
}

export async function modelBench(): Promise<SuiteResult> {
  const header = [
    'threads',
    'numerics',
    'prompt tok/s',
    'decode tok/s',
    'prompt (CPU)',
    'decode (CPU)',
    'wllama prompt',
    'wllama decode',
    'prompt ×',
    'decode ×',
  ];
  if (!existsSync(MODEL))
    return { suite: 'model', notes: [`${MODEL} is absent: nothing measured`], header, rows: [] };
  const rows: (string | number)[][] = [];
  for (const threads of [1, 2]) {
    for (const numerics of ['exact', 'ggml'] as Numerics[]) {
      const f = await measureModelInNode({ threads, numerics });
      const w = WLLAMA[threads];
      rows.push([
        String(f.threads),
        numerics,
        f.prompt,
        f.decode,
        f.promptCpu,
        f.decodeCpu,
        w.prompt,
        w.decode,
        f.prompt / w.prompt,
        f.decode / w.decode,
      ]);
    }
  }
  return {
    suite: 'model',
    notes: [
      `big-q4_k.gguf: ${PROMPT}-token prompt in one pass, then ${DECODE} greedy decode passes; median of ${RUNS} runs after a warm-up.`,
      'wllama 3.8.1 (llama.cpp in wasm) ran the same file on this machine in headless Chromium; × = plumbline wall tok/s / wllama (target ≥ 1.2).',
      '(CPU): tokens per (CPU seconds / threads) — the rate if every thread had a core to itself (the machine is shared; wall time counts the waits).',
      'ggml numerics compute what llama.cpp (and so wllama) computes; exact numerics dequantize weights to f32.',
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (the machine is shared)`,
    ],
    header,
    rows,
  };
}

if (process.argv[2] === '--relaxed-child') {
  const [threads, numerics] = process.argv.slice(3);
  const f = await measureModelInNode({
    threads: Number(threads),
    numerics: numerics as Numerics,
    wasmBuild: 'wasm-relaxed-simd',
  });
  process.stdout.write(JSON.stringify(f));
}
