/**
 * The reference engine: tensors as plain typed arrays, matmul in float64
 * (src/backends/reference/matmul.ts), results rounded once to f32. Slow and
 * obviously right: the oracle side of every parity question.
 */
import type { AttentionResult, Engine, GruResult, MoeRouteTensors } from '../../engine/engine.js';
import { checkReshape, loadModelOn, tensorBytes } from '../../engine/engine.js';
import type { Tensor } from '../../engine/tensor.js';
import { WasmRuntimeError } from '../../errors.js';
import type { LoadModelOptions } from '../../model/load.js';
import type { Model } from '../../model/model.js';
import { validateAdd } from '../../ops/add.js';
import { type AttentionOptions, validateAttention } from '../../ops/attention.js';
import { dequantize } from '../../ops/dequantize.js';
import { validateEmbedding } from '../../ops/embedding.js';
import { type GeluOptions, validateGelu } from '../../ops/gelu.js';
import {
  type GruOptions,
  type GruWeights,
  quantizeRecurrence,
  recurrenceFrom,
  validateGruOp,
} from '../../ops/gru.js';
import { arrayKvMemory, KvCache, type KvCacheOptions } from '../../ops/kv-cache.js';
import { type LayerNormOptions, validateLayerNorm } from '../../ops/layer-norm.js';
import { type MatmulOptions, validateMatmul } from '../../ops/matmul.js';
import {
  type MoeFfnOptions,
  type MoeFfnResult,
  type MoeFfnWeights,
  validateMoeFfn,
} from '../../ops/moe-ffn.js';
import { type MoeRouteOptions, type MoeRouteResult, validateMoeRoute } from '../../ops/moe-route.js';
import { quantize } from '../../ops/quantize.js';
import { type RmsNormOptions, validateRmsNorm } from '../../ops/rms-norm.js';
import { type RopeOptions, validateRope } from '../../ops/rope.js';
import { validateScan } from '../../ops/scan.js';
import { validateSilu } from '../../ops/silu.js';
import { type SoftmaxOptions, validateSoftmax } from '../../ops/softmax.js';
import { validateSwiglu } from '../../ops/swiglu.js';
import { type GgmlTypeInfo, type GgmlTypeName, ggmlType } from '../../types/ggml-types.js';
import { referenceAttention } from './attention.js';
import { referenceGruScan, referenceQuantizedGruScan } from './gru.js';
import { referenceMatmul } from './matmul.js';
import { referenceMoeRoute } from './moe.js';
import { type ReferenceFfnWeights, referenceMoeFfn } from './moe-dispatch.js';
import {
  referenceAdd,
  referenceEmbedding,
  referenceGelu,
  referenceLayerNorm,
  referenceRmsNorm,
  referenceRope,
  referenceSilu,
  referenceSoftmax,
  referenceSwiglu,
} from './nn.js';
import { referenceLinearScan } from './scan.js';

class ReferenceTensor implements Tensor {
  private bytes: Uint8Array | undefined;

  constructor(
    readonly shape: readonly number[],
    readonly type: GgmlTypeInfo,
    bytes: Uint8Array,
    readonly count: number,
  ) {
    this.bytes = bytes;
  }

  /** The stored bytes never change, so their f32 values are decoded once (weights are read every pass). */
  private decoded: Float32Array | undefined;

  /** The values as f32, shared: callers only read them (read() hands out a copy). */
  values(): Float32Array {
    const bytes = this.stored();
    this.decoded ??= dequantize(this.type.name, bytes, this.count, { backend: 'reference' });
    return this.decoded;
  }

  stored(): Uint8Array {
    if (!this.bytes) throw new WasmRuntimeError('tensor used after dispose()');
    return this.bytes;
  }

  async read(): Promise<Float32Array> {
    return this.values().slice();
  }

  async readBytes(): Promise<Uint8Array> {
    return this.stored().slice();
  }

  dispose(): void {
    this.bytes = undefined;
    this.decoded = undefined;
  }
}

/** ggml numerics: x rounded through the weight type's vec_dot type (reference quantizers, exact dequant). */
function ggmlActivations(x: Float32Array, w: GgmlTypeInfo): Float32Array {
  const vdt = w.vecDotType;
  if (!vdt || vdt === 'f32') return x;
  return dequantize(vdt, quantize(vdt, x), x.length, { backend: 'reference' });
}

const F32 = ggmlType('f32');

/** A float64 result rounded once to f32, as a tensor. */
function fromF64(y: Float64Array, shape: readonly number[]): ReferenceTensor {
  const out = Float32Array.from(y);
  return new ReferenceTensor([...shape], F32, new Uint8Array(out.buffer), out.length);
}

const values = (t: Tensor) => (t as ReferenceTensor).values();
const maybe = (t: Tensor | null | undefined) => (t ? values(t) : null);

export class ReferenceEngine implements Engine {
  readonly backend = 'reference';
  readonly threads = 1;

  static async create(): Promise<ReferenceEngine> {
    return new ReferenceEngine();
  }

  tensor(
    data: Float32Array | Uint8Array,
    shape: readonly number[],
    type: GgmlTypeName | string = 'f32',
  ): Tensor {
    const info = ggmlType(type);
    const { bytes, count } = tensorBytes(data, shape, info.name);
    return new ReferenceTensor([...shape], info, bytes.slice(), count);
  }

  async matmul(x: Tensor, w: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
    const { M, N, K, numerics } = validateMatmul(x, w, opts);
    const xs = (x as ReferenceTensor).values();
    const xv = numerics === 'ggml' ? ggmlActivations(xs, w.type) : xs;
    const { y } = referenceMatmul(xv, (w as ReferenceTensor).values(), M, N, K);
    const out = Float32Array.from(y);
    return new ReferenceTensor([M, N], ggmlType('f32'), new Uint8Array(out.buffer), M * N);
  }

  load(source: string | Uint8Array, opts?: LoadModelOptions): Promise<Model> {
    return loadModelOn(this, source, opts);
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const r = t as ReferenceTensor;
    checkReshape(r.shape, shape);
    return new ReferenceTensor([...shape], r.type, r.stored(), r.count);
  }

  async rmsNorm(x: Tensor, weight: Tensor | null, opts: RmsNormOptions): Promise<Tensor> {
    const d = validateRmsNorm(x, weight, opts);
    return fromF64(referenceRmsNorm(values(x), maybe(weight), d.rows, d.dim, d.eps), x.shape);
  }

  async layerNorm(
    x: Tensor,
    weight: Tensor | null,
    bias: Tensor | null,
    opts: LayerNormOptions,
  ): Promise<Tensor> {
    const d = validateLayerNorm(x, weight, bias, opts);
    return fromF64(referenceLayerNorm(values(x), maybe(weight), maybe(bias), d.rows, d.dim, d.eps), x.shape);
  }

  async rope(x: Tensor, positions: ArrayLike<number>, opts: RopeOptions): Promise<Tensor> {
    const q = validateRope(x, positions, opts);
    return fromF64(referenceRope(values(x), Array.from(positions), q), x.shape);
  }

  async softmax(x: Tensor, opts: SoftmaxOptions = {}): Promise<Tensor> {
    const d = validateSoftmax(x, opts);
    const mask = opts.mask ? values(opts.mask as Tensor) : null;
    return fromF64(referenceSoftmax(values(x), mask, d.rows, d.dim, d.maskRows, d.scale), x.shape);
  }

  async silu(x: Tensor): Promise<Tensor> {
    validateSilu(x);
    return fromF64(referenceSilu(values(x)), x.shape);
  }

  async gelu(x: Tensor, opts: GeluOptions = {}): Promise<Tensor> {
    const { approximate } = validateGelu(x, opts);
    return fromF64(referenceGelu(values(x), approximate), x.shape);
  }

  async swiglu(gate: Tensor, up: Tensor): Promise<Tensor> {
    validateSwiglu(gate, up);
    return fromF64(referenceSwiglu(values(gate), values(up)), gate.shape);
  }

  async add(a: Tensor, b: Tensor): Promise<Tensor> {
    const d = validateAdd(a, b);
    return fromF64(referenceAdd(values(a), values(b), d.rows, d.dim, d.bRows), a.shape);
  }

  async embedding(table: Tensor, ids: ArrayLike<number>): Promise<Tensor> {
    const d = validateEmbedding(table, ids);
    const t = table as ReferenceTensor;
    return fromF64(referenceEmbedding(t.type, t.stored(), Array.from(ids), d.nEmbd), [d.nTokens, d.nEmbd]);
  }

  /** Exact softmax(QKᵀ·scale + mask)·V in float64 on the given values (f16 K/V widened exactly). */
  async attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Promise<AttentionResult> {
    const dims = validateAttention(q, k, v, opts);
    const r = referenceAttention(values(q), values(k), values(v), dims);
    const side = [dims.nHead, dims.nQ, dims.nKv];
    return {
      out: fromF64(r.out, [dims.nQ, dims.nHead * dims.headDim]),
      scores: r.scores ? fromF64(r.scores, side) : undefined,
      softmax: r.softmax ? fromF64(r.softmax, side) : undefined,
    };
  }

  async scan(a: Tensor, b: Tensor, h0?: Tensor | null): Promise<Tensor> {
    const { T, D } = validateScan(a, b, h0 ?? undefined);
    return fromF64(referenceLinearScan(values(a), values(b), maybe(h0), T, D).h, [T, D]);
  }

  async gru(gx: Tensor, U: GruWeights<Tensor>, opts: GruOptions<Tensor> = {}): Promise<GruResult> {
    const { T, H } = validateGruOp(gx, U, opts);
    const rec = recurrenceFrom(U, H, values);
    const gates = opts.gates ? new Float64Array(T * 3 * H) : undefined;
    const [x, bh, h0] = [values(gx), maybe(opts.bh), maybe(opts.h0)];
    const h = opts.int8
      ? referenceQuantizedGruScan(
          quantizeRecurrence(rec, opts.int8.weights),
          x,
          bh,
          h0,
          opts.int8.state,
          gates,
        )
      : referenceGruScan(rec, x, bh, h0, gates);
    return { h: fromF64(h, [T, H]), gates: gates && fromF64(gates, [T, 3 * H]) };
  }

  async moeRoute(logits: Tensor, opts: MoeRouteOptions): Promise<MoeRouteTensors> {
    const plan = validateMoeRoute(logits, opts);
    const r = referenceMoeRoute(values(logits), plan.tokens, plan.experts, opts);
    const shape = [plan.tokens, plan.k];
    return {
      weights: this.tensor(r.weights, shape),
      experts: this.tensor(Float32Array.from(r.experts), shape),
      dropped: r.dropped,
      droppedCount: r.droppedCount,
    };
  }

  async moeFfn(
    x: Tensor,
    route: MoeRouteTensors,
    weights: MoeFfnWeights,
    opts: MoeFfnOptions = {},
  ): Promise<MoeFfnResult> {
    const d = validateMoeFfn(x, route, weights, opts);
    const { tokens: T, dim: D, k } = d;
    const round = (w: Tensor) => (row: Float32Array) => ggmlActivations(row, w.type);
    const ffnOf = (w: { gate: Tensor; up: Tensor; down: Tensor }, hidden: number): ReferenceFfnWeights => ({
      gate: values(w.gate),
      up: values(w.up),
      down: values(w.down),
      hidden,
      round:
        d.numerics === 'ggml' ? { gate: round(w.gate), up: round(w.up), down: round(w.down) } : undefined,
    });
    const sh = weights.shared;
    const shared = sh ? { ...ffnOf(sh, d.sharedHidden), gateInp: maybe(sh.gateInp) } : null;
    const r: MoeRouteResult = {
      weights: values(route.weights),
      experts: Int32Array.from(values(route.experts)),
      dropped: route.dropped,
      droppedCount: route.droppedCount,
    };
    const slots = opts.slotOutputs ? new Float64Array(T * k * D) : null;
    const out = referenceMoeFfn(values(x), T, D, r, k, ffnOf(weights, d.hidden), shared, slots);
    return { out: fromF64(out, [T, D]), slots: slots ? fromF64(slots, [T, k * D]) : undefined };
  }

  kvCache(opts: KvCacheOptions): KvCache {
    return new KvCache(arrayKvMemory(), opts);
  }

  async kvWrite(cache: KvCache, layer: number, pos: number, k: Tensor, v: Tensor): Promise<void> {
    cache.write(layer, pos, values(k), values(v));
  }

  /** Copies (the reference's memory regions can move when the cache grows). */
  kvView(cache: KvCache, layer: number, n = cache.length(layer)): { k: Tensor; v: Tensor } {
    const { k, v } = cache.read(layer, n);
    const shape = [n, cache.nHeadKv, cache.headDim];
    if (cache.type === 'f32')
      return { k: fromF64(Float64Array.from(k), shape), v: fromF64(Float64Array.from(v), shape) };
    // f16 storage: hand attention the f16 bits, as the wasm engine does.
    const half = (x: Float32Array) =>
      new ReferenceTensor(shape, ggmlType('f16'), quantize('f16', x), x.length);
    return { k: half(k), v: half(v) };
  }

  async dispose(): Promise<void> {}
}
