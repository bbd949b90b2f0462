/**
 * The KV cache of a model: for every layer, K and V of up to n_ctx positions,
 * each [n_ctx, n_head_kv, head_dim] of f32 or f16 (ggml numerics: llama.cpp's
 * default cache type is f16; writes round to nearest even). Position p is row
 * p, so the first n positions of a layer are exactly the [n, n_head_kv,
 * head_dim] K and V that attention reads (src/ops/attention.ts).
 *
 * Storage is a byte region of some memory (a wasm runtime's arena, or plain
 * JS memory for the reference backend): KvMemory says how to get it.
 */
import { ContextOverflowError, ShapeError, SizeError } from '../errors.js';
import { f16ToF32, f32ToF16 } from '../types/half.js';
import type { KvType } from './attention.js';

export interface KvMemory {
  /** A region of at least `bytes` bytes, 64-byte aligned; returns its offset. */
  alloc(bytes: number): number;
  release(offset: number): void;
  /** A current view of the whole memory (wasm views go stale when the memory grows). */
  bytes(): Uint8Array;
}

export interface KvCacheOptions {
  nLayer: number;
  /** Positions per layer. */
  nCtx: number;
  nHeadKv: number;
  headDim: number;
  /** Default 'f32'. */
  type?: KvType;
}

/** Plain JS memory for KvCaches: one buffer, regions bump-allocated (a cache allocates once). */
export function arrayKvMemory(): KvMemory {
  let buffer = new Uint8Array(0);
  return {
    alloc(bytes) {
      const at = Math.ceil(buffer.byteLength / 64) * 64;
      let next: typeof buffer;
      try {
        next = new Uint8Array(at + bytes);
      } catch (e) {
        // Past the engine's typed-array limit, or out of memory: the context asked for is too long.
        if (!(e instanceof RangeError)) throw e;
        throw new SizeError(`KV cache: cannot allocate ${at + bytes} bytes (${e.message})`);
      }
      next.set(buffer);
      buffer = next;
      return at;
    },
    release() {},
    bytes: () => buffer,
  };
}

const ELEMENT_BYTES: Record<KvType, number> = { f32: 4, f16: 2 };

export class KvCache {
  readonly nLayer: number;
  readonly nCtx: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly type: KvType;
  private readonly k: number[] = [];
  private readonly v: number[] = [];
  private readonly lengths: number[];
  /** The one region holding every layer's K and V. */
  private readonly region: number;
  private live = true;

  constructor(
    private readonly memory: KvMemory,
    opts: KvCacheOptions,
  ) {
    for (const name of ['nLayer', 'nCtx', 'nHeadKv', 'headDim'] as const) {
      const x = opts[name];
      if (!Number.isSafeInteger(x) || x < 1)
        throw new ShapeError(`KvCache: ${name} must be a positive integer, got ${x}`);
    }
    const type = opts.type ?? 'f32';
    if (type !== 'f32' && type !== 'f16')
      throw new ShapeError(`KvCache: type must be 'f32' or 'f16', got ${type}`);
    this.nLayer = opts.nLayer;
    this.nCtx = opts.nCtx;
    this.nHeadKv = opts.nHeadKv;
    this.headDim = opts.headDim;
    this.type = type;
    this.lengths = new Array(this.nLayer).fill(0);
    // One allocation; each layer's K and V start on a 64-byte boundary.
    const stride = Math.ceil(this.layerBytes / 64) * 64;
    this.region = memory.alloc(2 * this.nLayer * stride);
    for (let l = 0; l < this.nLayer; l++) {
      this.k.push(this.region + 2 * l * stride);
      this.v.push(this.region + (2 * l + 1) * stride);
    }
  }

  /** Values per position (n_head_kv·head_dim). */
  get rowValues(): number {
    return this.nHeadKv * this.headDim;
  }

  /** Bytes of one layer's K (or V). */
  get layerBytes(): number {
    return this.nCtx * this.rowValues * ELEMENT_BYTES[this.type];
  }

  private check(layer: number): void {
    if (!this.live) throw new SizeError('KvCache used after dispose()');
    if (!Number.isSafeInteger(layer) || layer < 0 || layer >= this.nLayer)
      throw new ShapeError(`KvCache: layer ${layer} is not in [0, ${this.nLayer})`);
  }

  /** Positions [0, length) of the layer hold K and V. */
  length(layer: number): number {
    this.check(layer);
    return this.lengths[layer];
  }

  /** Offset of the layer's K in the memory ([n_ctx, n_head_kv, head_dim] of `type`). */
  kOffset(layer: number): number {
    this.check(layer);
    return this.k[layer];
  }

  /** Offset of the layer's V in the memory. */
  vOffset(layer: number): number {
    this.check(layer);
    return this.v[layer];
  }

  /**
   * Checks a write of n positions at [pos, pos + n) of a layer before anything
   * is stored: ShapeError for a gap, ContextOverflowError past n_ctx. With
   * commit(), the bookkeeping of write() for caches that store elsewhere (GPU).
   */
  reserve(layer: number, pos: number, n: number): void {
    this.check(layer);
    if (!Number.isSafeInteger(pos) || pos < 0 || pos > this.lengths[layer])
      throw new ShapeError(
        `KvCache.write: position ${pos} would leave a gap (layer ${layer} holds [0, ${this.lengths[layer]}))`,
      );
    if (pos + n > this.nCtx) throw new ContextOverflowError(pos + n - 1, this.nCtx);
  }

  /** Records a stored write (after reserve): the layer then holds [0, pos + n). */
  commit(layer: number, pos: number, n: number): void {
    this.check(layer);
    this.lengths[layer] = pos + n;
  }

  /**
   * Writes K and V (f32 [n, n_head_kv, head_dim]) at positions [pos, pos + n):
   * an append when pos = length, a rewrite of later positions when pos < length
   * (they are dropped: the layer then holds [0, pos + n)). Throws
   * ContextOverflowError when pos + n > n_ctx, before writing anything.
   */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array): void {
    this.check(layer);
    const n = k.length / this.rowValues;
    if (!Number.isInteger(n) || v.length !== k.length)
      throw new ShapeError(
        `KvCache.write: k and v must each be [n, ${this.nHeadKv}, ${this.headDim}], got ${k.length} and ${v.length} values`,
      );
    this.reserve(layer, pos, n);
    const count = n * this.rowValues;
    const at = pos * this.rowValues;
    const mem = this.memory.bytes();
    if (this.type === 'f32') {
      new Float32Array(mem.buffer, mem.byteOffset + this.k[layer], this.nCtx * this.rowValues).set(k, at);
      new Float32Array(mem.buffer, mem.byteOffset + this.v[layer], this.nCtx * this.rowValues).set(v, at);
    } else {
      const kh = new Uint16Array(mem.buffer, mem.byteOffset + this.k[layer], this.nCtx * this.rowValues);
      const vh = new Uint16Array(mem.buffer, mem.byteOffset + this.v[layer], this.nCtx * this.rowValues);
      for (let i = 0; i < count; i++) {
        kh[at + i] = f32ToF16(k[i]);
        vh[at + i] = f32ToF16(v[i]);
      }
    }
    this.commit(layer, pos, n);
  }

  /** K and V of positions [0, n) as f32 (f16 widened exactly): [n, n_head_kv, head_dim] each. */
  read(layer: number, n = this.length(layer)): { k: Float32Array; v: Float32Array } {
    this.check(layer);
    if (!Number.isSafeInteger(n) || n < 0 || n > this.lengths[layer])
      throw new ShapeError(`KvCache.read: ${n} positions asked, layer ${layer} holds ${this.lengths[layer]}`);
    const count = n * this.rowValues;
    const mem = this.memory.bytes();
    if (this.type === 'f32') {
      return {
        k: new Float32Array(mem.buffer, mem.byteOffset + this.k[layer], count).slice(),
        v: new Float32Array(mem.buffer, mem.byteOffset + this.v[layer], count).slice(),
      };
    }
    const widen = (off: number) => {
      const h = new Uint16Array(mem.buffer, mem.byteOffset + off, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(h[i]);
      return out;
    };
    return { k: widen(this.k[layer]), v: widen(this.v[layer]) };
  }

  /** Forgets every position (of every layer, or of one). */
  clear(layer?: number): void {
    if (layer === undefined) this.lengths.fill(0);
    else {
      this.check(layer);
      this.lengths[layer] = 0;
    }
  }

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    this.memory.release(this.region);
  }
}
