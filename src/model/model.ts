/**
 * A loaded model: weights and a KV cache in one engine's memory, and the
 * forward pass (embedding → blocks → output norm → logits). forward() appends
 * the tokens at the cache's current position (or rewrites from `position`),
 * so prefill and decode are the same call with n tokens and with one.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { ContextOverflowError } from '../errors.js';
import type { KvCache } from '../ops/kv-cache.js';
import type { MatmulNumerics } from '../ops/matmul.js';
import { type BlockContext, runBlock, Scope } from './block.js';
import { Capture, type CapturedStages, type CapturePlan } from './capture.js';
import { ModelError } from './errors.js';
import type { HParams } from './hparams.js';
import type { Tokenizer } from './tokenizer/index.js';
import type { ModelWeights } from './weights.js';

/**
 * `exact`: f32 activations against exactly dequantized weights, f32 KV cache,
 * attention in f32. `ggml`: what llama.cpp's CPU backend computes —
 * activations quantized to each weight type's vec_dot type, f16 KV cache,
 * attention rounded as ggml's CPU flash attention rounds it.
 */
export type Numerics = MatmulNumerics;

export interface ForwardOptions {
  /** Capture these stages (design.md, "Trace stages"); nothing extra is computed or read without it. */
  trace?: CapturePlan;
  /** Logit rows to return: the last token's (default), every token's, or none (a prefill chunk). */
  logits?: 'last' | 'all' | 'none';
  /** Position of tokens[0]: default the cache length (append); smaller rewrites the cache from there. */
  position?: number;
  /** Called after each layer (for progress). */
  onLayer?: (done: number, total: number) => void;
}

export interface ForwardResult {
  /** [rows, n_vocab] row-major. */
  logits: Float32Array;
  rows: number;
  /** The captured stages, when a plan was given. */
  trace?: CapturedStages;
}

export class Model {
  private busy = false;
  private disposed = false;
  private cached = 0;

  constructor(
    readonly engine: Engine,
    readonly hparams: HParams,
    /** From the GGUF's tokenizer.* keys; undefined when the file has none. */
    readonly tokenizer: Tokenizer | undefined,
    readonly weights: ModelWeights,
    private readonly cache: KvCache,
    readonly numerics: Numerics,
    /** Positions the KV cache holds (≤ the trained context). */
    readonly nCtx: number,
    /** The file path, or the name given for bytes. */
    readonly name: string,
  ) {}

  get architecture(): string {
    return this.hparams.arch.name;
  }

  /** Tokens in the KV cache: the position the next forward() appends at. */
  get position(): number {
    return this.cached;
  }

  /** Forgets the cache from `position` on (default: everything). */
  reset(position = 0): void {
    this.check();
    if (!Number.isSafeInteger(position) || position < 0 || position > this.cached)
      throw new ModelError(`reset: position ${position} is not in [0, ${this.cached}]`);
    this.cached = position;
  }

  async forward(tokens: ArrayLike<number>, opts: ForwardOptions = {}): Promise<ForwardResult> {
    this.check();
    const h = this.hparams;
    const n = tokens.length;
    const p0 = opts.position ?? this.cached;
    if (n < 1) throw new ModelError('forward: no tokens');
    if (!Number.isSafeInteger(p0) || p0 < 0 || p0 > this.cached)
      throw new ModelError(
        `forward: position ${p0} would leave a gap (the cache holds ${this.cached} tokens)`,
      );
    if (p0 + n > this.nCtx) throw new ContextOverflowError(p0 + n - 1, this.nCtx, 'model context');
    for (let i = 0; i < n; i++) {
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= h.nVocab)
        throw new ModelError(`forward: tokens[${i}] = ${id} is outside the vocabulary [0, ${h.nVocab})`);
    }
    const capture = opts.trace ? Capture.create(opts.trace, h.arch, h.nLayer, h.moe !== null) : undefined;
    if (this.busy) throw new ModelError('forward: another forward pass of this model is running');
    this.busy = true;
    // From here the cache is being rewritten from p0: whatever happens, it holds at most p0 valid tokens.
    this.cached = Math.min(this.cached, p0);
    try {
      const positions = new Int32Array(n);
      for (let i = 0; i < n; i++) positions[i] = p0 + i;
      const ctx: BlockContext = {
        engine: this.engine,
        h,
        cache: this.cache,
        numerics: this.numerics,
        ropeFreqs: this.weights.ropeFreqs,
        positions,
        capture,
      };
      let x = await this.engine.embedding(this.weights.tokenEmbd, tokens);
      try {
        await capture?.put('embedding', undefined, x);
        for (let l = 0; l < h.nLayer; l++) {
          const next = await runBlock(ctx, l, this.weights.layers[l], x);
          x.dispose();
          x = next;
          opts.onLayer?.(l + 1, h.nLayer);
        }
        const result = await this.head(x, n, opts.logits ?? 'last', capture);
        this.cached = p0 + n;
        return capture ? { ...result, trace: capture.trace } : result;
      } finally {
        x.dispose();
      }
    } finally {
      this.busy = false;
    }
  }

  /** output_norm and the output head, on the rows needed (every row only when asked or traced). */
  private async head(
    x: Tensor,
    n: number,
    rows: 'last' | 'all' | 'none',
    cap: Capture | undefined,
  ): Promise<{ logits: Float32Array; rows: number }> {
    const e = this.engine;
    const w = this.weights;
    const eps = this.hparams.rmsEps;
    const V = this.hparams.nVocab;
    const opts = { numerics: this.numerics };
    const s = new Scope();
    try {
      const allLogits = rows === 'all' || cap?.wants('logits');
      if (allLogits || cap?.wants('output_norm')) {
        const xn = s.keep(await e.rmsNorm(x, w.outputNorm, { eps }));
        await cap?.put('output_norm', undefined, xn);
        if (allLogits) {
          const logits = await s.keep(await e.matmul(xn, w.output, opts)).read();
          cap?.putData('logits', undefined, logits, [n, V]);
          if (rows === 'all') return { logits, rows: n };
          if (rows === 'none') return { logits: new Float32Array(0), rows: 0 };
          return { logits: logits.slice((n - 1) * V), rows: 1 };
        }
        if (rows === 'none') return { logits: new Float32Array(0), rows: 0 };
        const last = s.keep(await this.lastRow(xn));
        return { logits: await s.keep(await e.matmul(last, w.output, opts)).read(), rows: 1 };
      }
      if (rows === 'none') return { logits: new Float32Array(0), rows: 0 };
      const last = s.keep(await this.lastRow(x));
      const xn = s.keep(await e.rmsNorm(last, w.outputNorm, { eps }));
      return { logits: await s.keep(await e.matmul(xn, w.output, opts)).read(), rows: 1 };
    } finally {
      s.dispose();
    }
  }

  /** The last row of [n, dim] as a [1, dim] tensor. */
  private async lastRow(x: Tensor): Promise<Tensor> {
    const [n, dim] = x.shape;
    if (n === 1) return this.engine.reshape(x, [1, dim]);
    const data = await x.read();
    return this.engine.tensor(data.subarray((n - 1) * dim), [1, dim]);
  }

  private check(): void {
    if (this.disposed) throw new ModelError('model used after dispose()');
  }

  /** Frees the weights and the KV cache (the engine stays). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.weights.all) t.dispose();
    this.cache.dispose();
  }
}
