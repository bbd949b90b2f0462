/**
 * The wasm engine: tensors in the shared wasm memory, ops split over the
 * worker pool by output columns (each element computed by one thread, so the
 * bits do not depend on the thread count).
 */
import type { AttentionResult, Engine, GruResult, MoeRouteTensors } from '../../engine/engine.js';
import { checkReshape, loadModelOn, tensorBytes } from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import { WasmRuntimeError } from '../../errors.js';
import type { LoadModelOptions } from '../../model/load.js';
import type { Model } from '../../model/model.js';
import { validateAdd } from '../../ops/add.js';
import { type AttentionOptions, validateAttention } from '../../ops/attention.js';
import { validateEmbedding } from '../../ops/embedding.js';
import { type GeluOptions, validateGelu } from '../../ops/gelu.js';
import { type GruOptions, type GruWeights, gruArrays, recurrenceFrom, validateGruOp } from '../../ops/gru.js';
import { KvCache, type KvCacheOptions } from '../../ops/kv-cache.js';
import { type LayerNormOptions, validateLayerNorm } from '../../ops/layer-norm.js';
import { type MatmulOptions, validateMatmul } from '../../ops/matmul.js';
import {
  type MoeFfnOptions,
  type MoeFfnResult,
  type MoeFfnWeights,
  validateMoeFfn,
} from '../../ops/moe-ffn.js';
import { type MoeRouteOptions, type MoeRouteResult, validateMoeRoute } from '../../ops/moe-route.js';
import { type RmsNormOptions, validateRmsNorm } from '../../ops/rms-norm.js';
import { type RopeOptions, validateRope } from '../../ops/rope.js';
import { scanChunkLength, validateScan } from '../../ops/scan.js';
import { validateSilu } from '../../ops/silu.js';
import { type SoftmaxOptions, validateSoftmax } from '../../ops/softmax.js';
import { validateSwiglu } from '../../ops/swiglu.js';
import { WorkerPool } from '../../scheduler/pool.js';
import { type GgmlTypeInfo, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import { attentionOnPool, wasmKvMemory } from './attention.js';
import { kernelCount } from './dequant.js';
import type { WasmRecurrence } from './gru.js';
import { runGru, runGruI8 } from './gru-op.js';
import { f32ScratchBytes, PANEL_WIDTH, type PackedWeights, packWeightsAt } from './matmul-f32.js';
import {
  activationBytes,
  isGgmlMatmulType,
  quantizeActivations,
  type VecDotType,
  vecDotType,
} from './matmul-ggml.js';
import { matmulQuantExactScratchBytes } from './matmul-quant.js';
import { type CompiledKernels, WasmRuntime } from './module.js';
import { finishMoeRoute, moeRouteBytes, moeRouteCall, putMoeBias } from './moe.js';
import { moeFfn as moeFfnOn, type QuantWeight } from './moe-dispatch.js';
import {
  addCall,
  embeddingCall,
  layerNormCall,
  type NnCall,
  rmsNormCall,
  ropeCacheBytes,
  ropeCall,
  softmaxCall,
  swigluCall,
  unaryCall,
  writeRopeCache,
} from './nn.js';
import { chunkedScanOnPool, linearScanOnPool, scanChunkScratchBytes } from './scan.js';

/** Output columns per scheduling unit for the quantized kernels (several rows per pass). */
const QUANT_GRANULARITY = 8;

class WasmTensor implements Tensor {
  private live = true;
  /** False for views (reshape, KV cache): dispose() leaves the storage to its owner. */
  owns = true;
  /** f32/f16/bf16 weights packed into panels on first use as a matmul weight. */
  packed: PackedWeights | undefined;

  constructor(
    private readonly rt: WasmRuntime,
    readonly ptr: number,
    readonly byteLength: number,
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    readonly count: number,
  ) {}

  check(): void {
    if (!this.live) throw new WasmRuntimeError('tensor used after dispose()');
  }

  async read(): Promise<Float32Array> {
    this.check();
    if (this.type.name === 'f32') return this.rt.f32(this.ptr, this.count).slice();
    const dst = this.rt.arena.alloc(this.count * 4);
    try {
      this.rt.kernel(`dequant_${this.type.name}`)(this.ptr, dst, kernelCount(this.type, this.count));
      return this.rt.f32(dst, this.count).slice();
    } finally {
      this.rt.arena.release(dst);
    }
  }

  async readBytes(): Promise<Uint8Array> {
    this.check();
    return this.rt.u8.slice(this.ptr, this.ptr + this.byteLength);
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    if (!this.owns) return;
    this.packed?.dispose();
    this.rt.arena.release(this.ptr);
  }
}

/** A tensor over bytes another object owns (a reshape's source, a KV cache): dispose() leaves them. */
function borrowed(
  rt: WasmRuntime,
  ptr: number,
  byteLength: number,
  shape: readonly number[],
  type: GgmlTypeInfo,
): WasmTensor {
  const t = new WasmTensor(
    rt,
    ptr,
    byteLength,
    [...shape],
    type,
    shape.reduce((a, b) => a * b, 1),
  );
  t.owns = false;
  return t;
}

const f32 = ggmlType('f32');

export class WasmEngine implements Engine {
  private constructor(
    private readonly rt: WasmRuntime,
    private readonly pool: WorkerPool,
  ) {}

  static async create(compiled: CompiledKernels, threads?: number): Promise<WasmEngine> {
    const rt = await WasmRuntime.create(compiled);
    const pool = await WorkerPool.create({ threads, compiled, memory: rt.memory });
    return new WasmEngine(rt, pool);
  }

  get backend(): string {
    return this.rt.build;
  }

  get threads(): number {
    return this.pool.threads;
  }

  get threadsReason(): string | undefined {
    return this.pool.reason;
  }

  tensor(
    data: Float32Array | Uint8Array,
    shape: readonly number[],
    type: GgmlTypeName | string = 'f32',
  ): Tensor {
    const info = ggmlType(type);
    const { bytes, count } = tensorBytes(data, shape, info.name);
    const ptr = this.rt.arena.alloc(bytes.byteLength);
    this.rt.u8.set(bytes, ptr);
    return new WasmTensor(this.rt, ptr, bytes.byteLength, [...shape], info, count);
  }

  private output(M: number, N: number): WasmTensor {
    const bytes = M * N * 4;
    return new WasmTensor(this.rt, this.rt.arena.alloc(bytes), bytes, [M, N], f32, M * N);
  }

  async matmul(xt: Tensor, wt: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
    const x = xt as WasmTensor;
    const w = wt as WasmTensor;
    x.check();
    w.check();
    const { M, N, K, numerics } = validateMatmul(x, w, opts);
    const y = this.output(M, N);
    try {
      const t = w.type.name;
      if (numerics === 'ggml' && isGgmlMatmulType(t)) await this.matmulGgml(x, w, y, M, N, K, vecDotType(t));
      else if (t === 'f32' || t === 'f16' || t === 'bf16') await this.matmulPacked(x, w, y, M, N, K);
      else await this.matmulQuantExact(x, w, y, M, N, K);
    } catch (e) {
      y.dispose();
      throw e;
    }
    return y;
  }

  private async matmulPacked(x: WasmTensor, w: WasmTensor, y: WasmTensor, M: number, N: number, K: number) {
    w.packed ??= packWeightsAt(this.rt, w.type.name as 'f32' | 'f16' | 'bf16', w.ptr, N, K);
    const packed = w.packed.ptr;
    const ranges = this.pool.split(N, PANEL_WIDTH);
    // Each thread packs its x blocks into its own scratch (0 bytes for GEMV).
    const per = f32ScratchBytes(this.rt, M, K);
    const scratch = per ? this.rt.arena.alloc(per * ranges.length) : 0;
    try {
      await this.pool.runRanges('gemm_f32', ranges, (r, i) => [
        x.ptr,
        packed,
        y.ptr,
        M,
        N,
        K,
        r.start,
        r.end,
        per ? scratch + i * per : 0,
      ]);
    } finally {
      if (scratch) this.rt.arena.release(scratch);
    }
  }

  private async matmulQuantExact(
    x: WasmTensor,
    w: WasmTensor,
    y: WasmTensor,
    M: number,
    N: number,
    K: number,
  ) {
    const per = matmulQuantExactScratchBytes(this.rt, M);
    const ranges = this.pool.split(N, QUANT_GRANULARITY);
    const scratch = this.rt.arena.alloc(Math.max(per, 16) * ranges.length);
    try {
      await this.pool.runRanges(`matmul_exact_${w.type.name}`, ranges, (r, i) => [
        x.ptr,
        w.ptr,
        y.ptr,
        M,
        N,
        K,
        r.start,
        r.end,
        scratch + i * per,
      ]);
    } finally {
      this.rt.arena.release(scratch);
    }
  }

  private async matmulGgml(
    x: WasmTensor,
    w: WasmTensor,
    y: WasmTensor,
    M: number,
    N: number,
    K: number,
    vdt: VecDotType,
  ) {
    const xq = this.rt.arena.alloc(activationBytes(vdt, M, K));
    try {
      quantizeActivations(this.rt, vdt, x.ptr, xq, M, K);
      const ranges = this.pool.split(N, QUANT_GRANULARITY);
      await this.pool.runRanges(`matmul_ggml_${w.type.name}`, ranges, (r) => [
        xq,
        w.ptr,
        y.ptr,
        M,
        N,
        K,
        r.start,
        r.end,
      ]);
    } finally {
      this.rt.arena.release(xq);
    }
  }

  load(source: string | Uint8Array, opts?: LoadModelOptions): Promise<Model> {
    return loadModelOn(this, source, opts);
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const w = t as WasmTensor;
    w.check();
    checkReshape(w.shape, shape);
    return borrowed(this.rt, w.ptr, w.byteLength, shape, w.type);
  }

  /** Runs an nn kernel call over the pool, split by its rows (elements). */
  private async runCall(c: NnCall): Promise<void> {
    await this.pool.runRanges(c.kernel, this.pool.split(c.total, c.granularity), (r) =>
      c.args(r.start, r.end),
    );
  }

  /** Allocates the output, runs `fill` on it, and frees it if that fails. */
  private async produce(
    shape: readonly number[],
    fill: (y: WasmTensor) => Promise<void>,
  ): Promise<WasmTensor> {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = count * 4;
    const y = new WasmTensor(this.rt, this.rt.arena.alloc(bytes), bytes, [...shape], f32, count);
    try {
      await fill(y);
      return y;
    } catch (e) {
      y.dispose();
      throw e;
    }
  }

  private live(...ts: (Tensor | null | undefined)[]): void {
    for (const t of ts) if (t) (t as WasmTensor).check();
  }

  async rmsNorm(x: Tensor, weight: Tensor | null, opts: RmsNormOptions): Promise<Tensor> {
    this.live(x, weight);
    const d = validateRmsNorm(x, weight, opts);
    const w = (weight as WasmTensor | null)?.ptr ?? 0;
    return this.produce(x.shape, (y) =>
      this.runCall(rmsNormCall((x as WasmTensor).ptr, w, y.ptr, d.rows, d.dim, d.eps)),
    );
  }

  async layerNorm(
    x: Tensor,
    weight: Tensor | null,
    bias: Tensor | null,
    opts: LayerNormOptions,
  ): Promise<Tensor> {
    this.live(x, weight, bias);
    const d = validateLayerNorm(x, weight, bias, opts);
    const w = (weight as WasmTensor | null)?.ptr ?? 0;
    const b = (bias as WasmTensor | null)?.ptr ?? 0;
    return this.produce(x.shape, (y) =>
      this.runCall(layerNormCall((x as WasmTensor).ptr, w, b, y.ptr, d.rows, d.dim, d.eps)),
    );
  }

  async rope(x: Tensor, positions: ArrayLike<number>, opts: RopeOptions): Promise<Tensor> {
    this.live(x);
    const q = validateRope(x, positions, opts);
    const cache = this.rt.arena.alloc(ropeCacheBytes(q.nTokens, q.nDims));
    try {
      writeRopeCache(this.rt, cache, positions, q);
      return await this.produce(x.shape, (y) =>
        this.runCall(ropeCall((x as WasmTensor).ptr, cache, y.ptr, q)),
      );
    } finally {
      this.rt.arena.release(cache);
    }
  }

  async softmax(x: Tensor, opts: SoftmaxOptions = {}): Promise<Tensor> {
    this.live(x, opts.mask as Tensor | null | undefined);
    const d = validateSoftmax(x, opts);
    const mask = (opts.mask as WasmTensor | null | undefined)?.ptr ?? 0;
    return this.produce(x.shape, (y) =>
      this.runCall(softmaxCall((x as WasmTensor).ptr, mask, y.ptr, d.rows, d.dim, d.maskRows, d.scale)),
    );
  }

  async silu(x: Tensor): Promise<Tensor> {
    this.live(x);
    const n = validateSilu(x);
    return this.produce(x.shape, (y) => this.runCall(unaryCall('nn_silu', (x as WasmTensor).ptr, y.ptr, n)));
  }

  async gelu(x: Tensor, opts: GeluOptions = {}): Promise<Tensor> {
    this.live(x);
    const { count: n, approximate } = validateGelu(x, opts);
    const kernel = approximate === 'erf' ? 'nn_gelu_erf' : 'nn_gelu';
    return this.produce(x.shape, (y) => this.runCall(unaryCall(kernel, (x as WasmTensor).ptr, y.ptr, n)));
  }

  async swiglu(gate: Tensor, up: Tensor): Promise<Tensor> {
    this.live(gate, up);
    const n = validateSwiglu(gate, up);
    return this.produce(gate.shape, (y) =>
      this.runCall(swigluCall((gate as WasmTensor).ptr, (up as WasmTensor).ptr, y.ptr, n)),
    );
  }

  async add(a: Tensor, b: Tensor): Promise<Tensor> {
    this.live(a, b);
    const d = validateAdd(a, b);
    return this.produce(a.shape, (y) =>
      this.runCall(addCall((a as WasmTensor).ptr, (b as WasmTensor).ptr, y.ptr, d.rows, d.dim, d.bRows)),
    );
  }

  async embedding(table: Tensor, ids: ArrayLike<number>): Promise<Tensor> {
    this.live(table);
    const d = validateEmbedding(table, ids);
    const idPtr = this.rt.arena.alloc(Math.max(d.nTokens * 4, 4));
    try {
      new Int32Array(this.rt.memory.buffer, idPtr, d.nTokens).set(Array.from(ids));
      const t = table as WasmTensor;
      return await this.produce([d.nTokens, d.nEmbd], (y) =>
        this.runCall(embeddingCall(this.rt, t.type, t.ptr, idPtr, y.ptr, d.nTokens, d.nEmbd, d.nVocab)),
      );
    } finally {
      this.rt.arena.release(idPtr);
    }
  }

  async attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Promise<AttentionResult> {
    this.live(q, k, v);
    const dims = validateAttention(q, k, v, opts);
    const side = [dims.nHead, dims.nQ, dims.nKv];
    const out = await this.produce([dims.nQ, dims.nHead * dims.headDim], async () => {});
    const scores = dims.scores ? await this.produce(side, async () => {}) : undefined;
    const softmax = dims.softmax ? await this.produce(side, async () => {}) : undefined;
    try {
      await attentionOnPool(this.rt, this.pool, dims, {
        q: (q as WasmTensor).ptr,
        k: (k as WasmTensor).ptr,
        v: (v as WasmTensor).ptr,
        out: out.ptr,
        scores: scores?.ptr,
        softmax: softmax?.ptr,
      });
    } catch (e) {
      for (const t of [out, scores, softmax]) t?.dispose();
      throw e;
    }
    return { out, scores, softmax };
  }

  async scan(
    a: Tensor,
    b: Tensor,
    h0?: Tensor | null,
    opts: { method?: 'auto' | 'sequential' | 'chunked' } = {},
  ): Promise<Tensor> {
    this.live(a, b, h0);
    const { T, D } = validateScan(a, b, h0 ?? undefined);
    const method = opts.method ?? 'auto';
    // Channels alone keep every thread busy once there are a few 4-float groups per thread.
    const chunked = method === 'chunked' || (method === 'auto' && D < 4 * this.pool.threads && T > 1);
    const [ap, bp, hp] = [a, b, h0].map((t) => (t as WasmTensor | null | undefined)?.ptr ?? 0);
    return this.produce([T, D], async (h) => {
      if (!chunked) return linearScanOnPool(this.pool, ap, bp, hp, h.ptr, T, D);
      const L = scanChunkLength(T);
      const scratch = this.rt.arena.alloc(Math.max(scanChunkScratchBytes(T, D, L), 16));
      try {
        await chunkedScanOnPool(this.pool, ap, bp, hp, h.ptr, scratch, T, D, L);
      } finally {
        this.rt.arena.release(scratch);
      }
    });
  }

  async gru(gx: Tensor, U: GruWeights<Tensor>, opts: GruOptions<Tensor> = {}): Promise<GruResult> {
    this.live(gx, ...Object.values(gruArrays(U)), opts.bh, opts.h0);
    const { T, H } = validateGruOp(gx, U, opts);
    const ptr = (t: Tensor | null | undefined) => (t as WasmTensor | null | undefined)?.ptr ?? 0;
    const gates = opts.gates ? this.output(T, 3 * H) : undefined;
    try {
      const h = await this.produce([T, H], async (hs) => {
        const c = { gx: ptr(gx), bh: ptr(opts.bh), h0: ptr(opts.h0), hs: hs.ptr, gates: ptr(gates), T };
        if (opts.int8) {
          const read = (t: Tensor) => this.rt.f32((t as WasmTensor).ptr, (t as WasmTensor).count).slice();
          const h0 = opts.h0 ? read(opts.h0) : null;
          return runGruI8(
            this.rt,
            this.pool,
            recurrenceFrom(U, H, read),
            h0,
            opts.int8.state,
            opts.int8.weights,
            c,
          );
        }
        const arrays = Object.fromEntries(Object.entries(gruArrays(U)).map(([k, t]) => [k, ptr(t)]));
        return runGru(this.rt, this.pool, { kind: U.kind, H, ...arrays } as WasmRecurrence, c);
      });
      return { h, gates };
    } catch (e) {
      gates?.dispose();
      throw e;
    }
  }

  async moeRoute(logits: Tensor, opts: MoeRouteOptions): Promise<MoeRouteTensors> {
    this.live(logits);
    const plan = validateMoeRoute(logits, opts);
    const sizes = moeRouteBytes(plan);
    const owned: number[] = [];
    const alloc = (n: number) => {
      const p = this.rt.arena.alloc(Math.max(n, 16));
      owned.push(p);
      return p;
    };
    try {
      const weights = alloc(sizes.weights);
      const experts = alloc(sizes.experts);
      const groupScores = sizes.groupScores ? alloc(sizes.groupScores) : 0;
      const bias = putMoeBias(this.rt, plan);
      if (bias) owned.push(bias);
      await this.runCall(
        moeRouteCall(plan, { logits: (logits as WasmTensor).ptr, bias, groupScores, weights, experts }),
      );
      const r = finishMoeRoute(this.rt, plan, weights, experts);
      const shape = [plan.tokens, plan.k];
      return {
        weights: this.tensor(r.weights, shape),
        experts: this.tensor(Float32Array.from(r.experts), shape),
        dropped: r.dropped,
        droppedCount: r.droppedCount,
      };
    } finally {
      for (const p of owned) this.rt.arena.release(p);
    }
  }

  async moeFfn(
    x: Tensor,
    route: MoeRouteTensors,
    weights: MoeFfnWeights,
    opts: MoeFfnOptions = {},
  ): Promise<MoeFfnResult> {
    const sh = weights.shared;
    this.live(x, route.weights, route.experts, weights.gate, weights.up, weights.down);
    if (sh) this.live(sh.gate, sh.up, sh.down, sh.gateInp);
    const d = validateMoeFfn(x, route, weights, opts);
    const r: MoeRouteResult = {
      weights: await route.weights.read(),
      experts: Int32Array.from(await route.experts.read()),
      dropped: route.dropped,
      droppedCount: route.droppedCount,
    };
    const q = (t: Tensor, count: number, N: number, K: number): QuantWeight => ({
      type: t.type.name,
      ptr: (t as WasmTensor).ptr,
      count,
      N,
      K,
    });
    const { tokens: T, dim: D, hidden: F, experts: E, sharedHidden: Fs } = d;
    const ffn = {
      gate: q(weights.gate, E, F, D),
      up: q(weights.up, E, F, D),
      down: q(weights.down, E, D, F),
    };
    const shared = sh
      ? {
          ffn: { gate: q(sh.gate, 1, Fs, D), up: q(sh.up, 1, Fs, D), down: q(sh.down, 1, D, Fs) },
          hidden: Fs,
          gateInp: (sh.gateInp as WasmTensor | null | undefined)?.ptr ?? 0,
        }
      : null;
    const out = this.output(T, D);
    const slots = opts.slotOutputs ? this.output(T, d.k * D) : undefined;
    try {
      await moeFfnOn(
        this.rt,
        this.pool,
        (x as WasmTensor).ptr,
        r,
        d.k,
        ffn,
        out.ptr,
        { tokens: T, dim: D, hidden: F },
        {
          shared,
          numerics: d.numerics,
          slotOutputs: slots?.ptr ?? 0,
        },
      );
    } catch (e) {
      out.dispose();
      slots?.dispose();
      throw e;
    }
    return { out, slots };
  }

  kvCache(opts: KvCacheOptions): KvCache {
    return new KvCache(wasmKvMemory(this.rt), opts);
  }

  async kvWrite(cache: KvCache, layer: number, pos: number, k: Tensor, v: Tensor): Promise<void> {
    this.live(k, v);
    cache.write(layer, pos, await k.read(), await v.read());
  }

  kvView(cache: KvCache, layer: number, n = cache.length(layer)): { k: Tensor; v: Tensor } {
    const type = ggmlType(cache.type);
    const shape = [n, cache.nHeadKv, cache.headDim];
    const bytes = n * cache.rowValues * type.typeSize;
    return {
      k: borrowed(this.rt, cache.kOffset(layer), bytes, shape, type),
      v: borrowed(this.rt, cache.vOffset(layer), bytes, shape, type),
    };
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }
}
