/**
 * The model part of `plumbline demo`: a small deterministic llama GGUF with
 * Q4_K weights (written once, cached), run on the wasm engine for a few
 * tokens, and a short parity table of one traced pass against the float64
 * reference backend.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../engine/engine.js';
import { generate } from '../model/generate.js';
import { loadModel } from '../model/load.js';
import { compareLogits } from '../model/parity.js';
import { type SyntheticModelSpec, writeSyntheticModel } from '../model/synthetic.js';
import { errorMetrics } from '../oracle/metrics.js';

export const DEMO_MODEL: SyntheticModelSpec = {
  arch: 'llama',
  name: 'plumbline-demo-llama-q4_k',
  nEmbd: 256,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 2,
  nFf: 768,
  nVocab: 512,
  nCtx: 256,
  type: 'q4_K',
  types: { output: 'q6_K' },
  seed: 2026,
};

export const DEMO_PROMPT = 'the of and to in is it that was for';

/** node_modules/.cache/plumbline under the working directory when there is a node_modules, else the OS temp dir. */
function cacheDir(): string {
  const nm = join(process.cwd(), 'node_modules');
  const dir = existsSync(nm) ? join(nm, '.cache', 'plumbline') : join(tmpdir(), 'plumbline-cache');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The demo model's path, written on first use (named by a hash of its spec, so a new spec gets a new file). */
export async function demoModelPath(): Promise<{ path: string; written: boolean }> {
  const key = createHash('sha256').update(JSON.stringify(DEMO_MODEL)).digest('hex').slice(0, 12);
  const path = join(cacheDir(), `demo-llama-q4_k-${key}.gguf`);
  if (existsSync(path)) return { path, written: false };
  const partial = `${path}.${process.pid}.tmp`;
  await writeSyntheticModel(partial, DEMO_MODEL);
  renameSync(partial, path);
  return { path, written: true };
}

export interface DemoModelStage {
  stage: string;
  count: number;
  nmse: number;
  maxAbs: number;
  cosine: number;
}

export interface DemoModelResult {
  path: string;
  written: boolean;
  backend: string;
  threads: number;
  prompt: number[];
  tokens: number[];
  text: string;
  promptTokensPerS: number;
  genTokensPerS: number;
  referenceTokens: number[];
  stages: DemoModelStage[];
  logits: { pass: boolean; reason: string; top10Overlap: number };
}

const PARITY_STAGES = ['embedding', 'attn_out', 'layer_output', 'output_norm', 'logits'];

export async function runDemoModel(maxTokens: number): Promise<DemoModelResult> {
  const { path, written } = await demoModelPath();
  const wasm = await createEngine({ backend: 'wasm' });
  const ref = await createEngine({ backend: 'reference' });
  try {
    const a = await loadModel(wasm, path);
    const r = await loadModel(ref, path);
    try {
      const prompt = a.tokenizer!.encode(DEMO_PROMPT);
      // A first pass warms the engine (weight packing, JIT) so the timed run measures steady state.
      await generate(a, prompt, { maxTokens: 2 });
      const g = await generate(a, prompt, { maxTokens });
      const gr = await generate(r, prompt, { maxTokens: Math.min(maxTokens, 8) });

      const plan = { stages: PARITY_STAGES };
      a.reset();
      r.reset();
      const ta = await a.forward(prompt, { trace: plan });
      const tr = await r.forward(prompt, { trace: plan });
      const stages: DemoModelStage[] = [];
      for (const [name, t] of ta.trace!) {
        const m = errorMetrics(t.data, tr.trace!.get(name)!.data);
        stages.push({ stage: name, count: m.count, nmse: m.nmse, maxAbs: m.maxAbs.value, cosine: m.cosine });
      }
      const logits = compareLogits(
        ta.trace!.get('logits')!.data,
        tr.trace!.get('logits')!.data,
        a,
        prompt.length,
        'exact',
      );
      return {
        path,
        written,
        backend: wasm.backend,
        threads: wasm.threads,
        prompt,
        tokens: g.tokens,
        text: a.tokenizer!.decode(g.tokens),
        promptTokensPerS: g.promptTokensPerS,
        genTokensPerS: g.genTokensPerS,
        referenceTokens: gr.tokens,
        stages,
        logits: {
          pass: logits.pass,
          reason: logits.reason,
          top10Overlap: logits.comparison.topK?.meanOverlap ?? Number.NaN,
        },
      };
    } finally {
      a.dispose();
      r.dispose();
    }
  } finally {
    await wasm.dispose();
    await ref.dispose();
  }
}
