/**
 * What `run` and `trace` share: the model file, the input (--prompt or
 * --tokens), engine options, and loading with progress on stderr when it is
 * a terminal.
 */
import { createEngine, type Engine } from '../engine/engine.js';
import { loadModel } from '../model/load.js';
import type { Model, Numerics } from '../model/model.js';
import { oneOf, UsageError } from './command.js';

export const MODEL_OPTIONS = {
  prompt: { type: 'string' },
  tokens: { type: 'string' },
  threads: { type: 'string' },
  numerics: { type: 'string', default: 'exact' },
  backend: { type: 'string', default: 'wasm' },
  'matmul-precision': { type: 'string', default: 'f32' },
  ctx: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const MODEL_OPTIONS_HELP = `  --prompt TEXT          text to start from (tokenized with the model's tokenizer, BOS added
                         as the vocabulary asks, special tokens such as <s> recognized)
  --tokens IDS           token ids instead, comma-separated (1,2,3)
  --numerics exact|ggml  exact (default): f32 activations, exactly dequantized weights, f32
                         KV cache; ggml: what llama.cpp's CPU backend computes (activations
                         quantized to each weight type's vec_dot type, f16 KV cache, ggml's
                         flash-attention rounding)
  --backend NAME         wasm (default), webgpu (any adapter, SwiftShader included; ops
                         without a WebGPU kernel run on wasm), auto (WebGPU on a hardware
                         adapter, else wasm) or reference (float64: slow, exact)
  --matmul-precision f32|f16
                         webgpu: f16 rounds the matmul operands to f16 (exact products, f32
                         sums; the f16 tier); f32 (default) keeps them
  --threads N            wasm threads, the calling thread included (default: all cores)
  --ctx N                KV cache positions (default min(context_length, 4096))
  --json                 print JSON`;

export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return n;
}

/** A comma-separated list of non-negative integers (ranges a-b allowed). */
export function intList(name: string, value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`${name}: ${JSON.stringify(part)} is not an integer or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`${name}: range ${part} is empty`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

const MODEL_BACKENDS = ['wasm', 'webgpu', 'auto', 'reference'] as const;
type ModelBackend = (typeof MODEL_BACKENDS)[number];

export interface ModelArgs {
  file: string;
  prompt?: string;
  tokens?: number[];
  numerics: Numerics;
  backend: ModelBackend;
  matmulPrecision: 'f32' | 'f16';
  threads?: number;
  nCtx?: number;
  json: boolean;
}

export function modelArgs(
  positionals: string[],
  values: { [K in keyof typeof MODEL_OPTIONS]?: string | boolean },
): ModelArgs {
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0 ? 'missing FILE.gguf' : `expected one file, got ${positionals.length}`,
    );
  const prompt = values.prompt as string | undefined;
  const tokens = values.tokens as string | undefined;
  if ((prompt === undefined) === (tokens === undefined))
    throw new UsageError('give either --prompt or --tokens');
  const numerics = oneOf('numerics', values.numerics as string, ['exact', 'ggml'] as const);
  const backend = oneOf('backend', values.backend as string, MODEL_BACKENDS);
  const matmulPrecision = oneOf(
    'matmul-precision',
    values['matmul-precision'] as string,
    ['f32', 'f16'] as const,
  );
  if (matmulPrecision === 'f16' && backend !== 'webgpu' && backend !== 'auto')
    throw new UsageError(
      `--matmul-precision f16 needs --backend webgpu (the ${backend} engine multiplies f32 operands)`,
    );
  return {
    file: positionals[0],
    prompt,
    tokens: tokens === undefined ? undefined : intList('--tokens', tokens),
    numerics,
    backend,
    matmulPrecision,
    threads: positiveInt('--threads', values.threads as string | undefined),
    nCtx: positiveInt('--ctx', values.ctx as string | undefined),
    json: Boolean(values.json),
  };
}

/** A progress line on stderr, rewritten in place; only when stderr is a terminal. */
export function progress(label: string): { update(done: number, total: number): void; end(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let shown = false;
  return {
    update(done, total) {
      if (!tty) return;
      shown = true;
      process.stderr.write(`\r${label} ${Math.round((100 * done) / total)}%`);
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

/** Creates the engine and loads the model; disposes the engine if loading fails. */
export async function openModel(a: ModelArgs): Promise<{ engine: Engine; model: Model; tokens: number[] }> {
  const engine = await createEngine({
    backend: a.backend,
    threads: a.threads,
    matmulPrecision: a.matmulPrecision,
  });
  try {
    const bar = progress(`loading ${a.file}`);
    const model = await loadModel(engine, a.file, {
      numerics: a.numerics,
      nCtx: a.nCtx,
      onProgress: (p) => bar.update(p.loaded, p.total),
    });
    bar.end();
    try {
      return { engine, model, tokens: inputTokens(model, a) };
    } catch (e) {
      model.dispose();
      throw e;
    }
  } catch (e) {
    await engine.dispose();
    throw e;
  }
}

function inputTokens(model: Model, a: ModelArgs): number[] {
  if (a.tokens) return a.tokens;
  if (!model.tokenizer) throw new UsageError(`${a.file} has no tokenizer; give --tokens instead of --prompt`);
  const ids = model.tokenizer.encode(a.prompt as string, { parseSpecial: true });
  if (ids.length === 0) throw new UsageError('the prompt tokenizes to no tokens');
  return ids;
}
