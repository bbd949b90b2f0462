/**
 * A whole model: prompt (128 tokens, one pass) and decode (64 tokens, one
 * pass each, after that prompt) tokens/s on ../shared/models/big-q4_k.gguf
 * (n_embd 2048, 2 layers, n_ff 5632, vocab 2048), 1 and 2 threads, both
 * numerics, beside what llama.cpp compiled to wasm (wllama 3.8.1) measured
 * on this machine (models README: 85 / 149 prompt, 37 / 63 decode).
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createEngine } from '../src/engine/engine.js';
import { loadModel } from '../src/model/load.js';
import type { Model, Numerics } from '../src/model/model.js';
import { argmax } from '../src/model/sampling.js';
import type { SuiteResult } from './lib.js';

const MODEL = new URL('../../shared/models/big-q4_k.gguf', import.meta.url).pathname;
const PROMPT = 128;
const DECODE = 64;
const RUNS = 3;
/** wllama 3.8.1 on this machine, headless Chromium (../shared/models/README.md), by thread count. */
const WLLAMA: Record<number, { prompt: number; decode: number }> = {
  1: { prompt: 85, decode: 37 },
  2: { prompt: 149, decode: 63 },
};

/** BOS, then ordinary vocabulary pieces (ids 259…) in turn. */
function promptTokens(): number[] {
  return [1, ...Array.from({ length: PROMPT - 1 }, (_, i) => 259 + (i % 1500))];
}

interface Phase {
  wall: number;
  /** CPU seconds of the process (every worker thread included). */
  cpu: number;
}

async function timed(fn: () => Promise<void>): Promise<Phase> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

/** One run: the prompt in one pass, then DECODE greedy decode passes. */
async function run(model: Model): Promise<{ prompt: Phase; decode: Phase }> {
  model.reset();
  let logits: Float32Array = new Float32Array(0);
  const prompt = await timed(async () => {
    ({ logits } = await model.forward(promptTokens()));
  });
  const decode = await timed(async () => {
    for (let i = 0; i < DECODE; i++) ({ logits } = await model.forward([argmax(logits)]));
  });
  return { prompt, decode };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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
    const engine = await createEngine({ backend: 'wasm', threads });
    try {
      for (const numerics of ['exact', 'ggml'] as Numerics[]) {
        const model = await loadModel(engine, MODEL, { numerics, nCtx: PROMPT + DECODE });
        try {
          await run(model); // warm-up: JIT, worker spin-up
          const runs = [];
          for (let i = 0; i < RUNS; i++) runs.push(await run(model));
          const rate = (n: number, xs: number[]) => n / median(xs);
          const prompt = rate(
            PROMPT,
            runs.map((r) => r.prompt.wall),
          );
          const decode = rate(
            DECODE,
            runs.map((r) => r.decode.wall),
          );
          const t = engine.threads;
          const w = WLLAMA[threads];
          rows.push([
            String(t),
            numerics,
            prompt,
            decode,
            rate(
              PROMPT,
              runs.map((r) => r.prompt.cpu / t),
            ),
            rate(
              DECODE,
              runs.map((r) => r.decode.cpu / t),
            ),
            w.prompt,
            w.decode,
            prompt / w.prompt,
            decode / w.decode,
          ]);
        } finally {
          model.dispose();
        }
      }
    } finally {
      await engine.dispose();
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
