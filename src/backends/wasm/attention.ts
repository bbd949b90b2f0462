/**
 * Attention on the wasm kernels (assembly/attention): pointer-level calls that
 * a worker pool splits by unit ranges, plus array-level helpers for tests.
 *
 *   const call = prepareAttention(rt, dims, { q, k, v, out });   // dims: validateAttention(...)
 *   for (const phase of call.phases)                              // in order
 *     for each thread t with its range [u0, u1) of phase.units:
 *       rt.kernel(phase.kernel)(...attentionArgs(call, scratch_t, u0, u1));   // scratch_t: call.scratchBytes
 *   call.dispose();
 *
 * or `await attentionOnPool(rt, pool, dims, ptrs)` / `attention(rt, dims, ptrs)`.
 *
 * Phases: numerics 'exact' with n_q > 1: attn_prefill (units: kv head × block
 * of 4 queries); n_q = 1: attn_decode (units: chunk of 256 kv positions × kv
 * head) then attn_decode_combine (units: heads; chunks combined in order
 * 0, 1, 2, …); numerics 'ggml': attn_ggml (units: query × kv head). With
 * scores or softmax asked for, attn_scores (units: head × query) runs first.
 * Units depend on the sizes only, and every unit's output depends on its own
 * inputs only, so any split over any number of threads gives the same bits.
 */
import { SizeError } from '../../errors.js';
import type { AttentionDims } from '../../ops/attention.js';
import type { KvMemory } from '../../ops/kv-cache.js';
import type { WasmRuntime } from './module.js';

/** kv positions per online-softmax block (assembly/attention/params.ts TK). */
export const FLASH_BLOCK = 16;
/** kv positions per decode chunk (assembly/attention/params.ts CH). */
export const DECODE_CHUNK = 256;

/** Byte offsets into the runtime's memory. */
export interface AttentionPointers {
  /** [n_q, n_head, head_dim] f32. */
  q: number;
  /** [n_kv, n_head_kv, head_dim] f32 or f16 (e.g. a KvCache layer's K). */
  k: number;
  v: number;
  /** [n_q, n_head·head_dim] f32. */
  out: number;
  /** [n_head, n_q, n_kv] f32, when dims.scores. */
  scores?: number;
  /** [n_head, n_q, n_kv] f32, when dims.softmax. */
  softmax?: number;
}

/** A KvCache in the runtime's memory: its kOffset/vOffset are pointers the kernels take. */
export function wasmKvMemory(rt: WasmRuntime): KvMemory {
  return { alloc: (n) => rt.arena.alloc(n), release: (p) => rt.arena.release(p), bytes: () => rt.u8 };
}

/** Kernel kinds of assembly/attention/plan.ts. */
type Kind = 0 | 1 | 2 | 3 | 4;

export interface AttentionPhase {
  kernel: 'attn_prefill' | 'attn_decode' | 'attn_decode_combine' | 'attn_ggml' | 'attn_scores';
  /** Units to split among threads (each thread takes a contiguous range). */
  units: number;
}

const PARAM_BYTES = 128;
const W = {
  q: 0,
  k: 1,
  v: 2,
  out: 3,
  pos: 4,
  nQ: 5,
  nKv: 6,
  nHead: 7,
  nHeadKv: 8,
  hd: 9,
  scale: 10,
  window: 11,
  causal: 12,
  kvF16: 13,
  partials: 14,
  scores: 15,
  softmax: 16,
  numerics: 17,
} as const;

/** A prepared call: the parameter block (and positions, decode partials) in wasm memory. */
export class AttentionCall {
  private live = true;

  constructor(
    private readonly rt: WasmRuntime,
    /** Byte offset of the parameter block: the first argument of every phase's kernel. */
    readonly params: number,
    private readonly owned: readonly number[],
    readonly phases: readonly AttentionPhase[],
    /** Scratch bytes each thread needs (the largest over the phases), a multiple of 64. */
    readonly scratchBytes: number,
  ) {}

  dispose(): void {
    if (!this.live) return;
    this.live = false;
    for (const p of this.owned) this.rt.arena.release(p);
  }
}

function checkRange(rt: WasmRuntime, what: string, ptr: number, bytes: number, align: number): void {
  if (!Number.isSafeInteger(ptr) || ptr < 0 || ptr + bytes > rt.memory.buffer.byteLength)
    throw new SizeError(`attention: ${what} [${ptr}, ${ptr + bytes}) is outside the wasm memory`);
  if (ptr % align !== 0) throw new SizeError(`attention: ${what} (${ptr}) must be ${align}-byte aligned`);
}

function phasesOf(dims: AttentionDims): AttentionPhase['kernel'][] {
  const main: AttentionPhase['kernel'][] =
    dims.numerics === 'ggml'
      ? ['attn_ggml']
      : dims.nQ === 1
        ? ['attn_decode', 'attn_decode_combine']
        : ['attn_prefill'];
  return dims.scores || dims.softmax ? ['attn_scores', ...main] : main;
}

const KIND_OF: Record<AttentionPhase['kernel'], Kind> = {
  attn_prefill: 0,
  attn_decode: 1,
  attn_decode_combine: 2,
  attn_ggml: 3,
  attn_scores: 4,
};

/** Writes the parameter block, positions and (decode) partials for one attention call. */
export function prepareAttention(
  rt: WasmRuntime,
  dims: AttentionDims,
  ptrs: AttentionPointers,
): AttentionCall {
  const { nQ, nKv, nHead, nHeadKv, headDim: hd } = dims;
  const es = dims.kvType === 'f16' ? 2 : 4;
  checkRange(rt, 'q', ptrs.q, nQ * nHead * hd * 4, 4);
  checkRange(rt, 'k', ptrs.k, nKv * nHeadKv * hd * es, es);
  checkRange(rt, 'v', ptrs.v, nKv * nHeadKv * hd * es, es);
  checkRange(rt, 'out', ptrs.out, nQ * nHead * hd * 4, 4);
  const side = nHead * nQ * nKv * 4;
  if (dims.scores) {
    if (ptrs.scores === undefined)
      throw new SizeError('attention: dims.scores is set but no scores pointer given');
    checkRange(rt, 'scores', ptrs.scores, side, 4);
  }
  if (dims.softmax) {
    if (ptrs.softmax === undefined)
      throw new SizeError('attention: dims.softmax is set but no softmax pointer given');
    checkRange(rt, 'softmax', ptrs.softmax, side, 4);
  }
  return writeCall(rt, dims, ptrs);
}

function writeCall(rt: WasmRuntime, dims: AttentionDims, ptrs: AttentionPointers): AttentionCall {
  const owned: number[] = [];
  try {
    const params = rt.arena.alloc(PARAM_BYTES + dims.nQ * 4);
    owned.push(params);
    const pos = params + PARAM_BYTES;
    const words = new Int32Array(rt.memory.buffer, params, PARAM_BYTES / 4);
    words.fill(0);
    words[W.q] = ptrs.q;
    words[W.k] = ptrs.k;
    words[W.v] = ptrs.v;
    words[W.out] = ptrs.out;
    words[W.pos] = pos;
    words[W.nQ] = dims.nQ;
    words[W.nKv] = dims.nKv;
    words[W.nHead] = dims.nHead;
    words[W.nHeadKv] = dims.nHeadKv;
    words[W.hd] = dims.headDim;
    new Float32Array(rt.memory.buffer, params, PARAM_BYTES / 4)[W.scale] = dims.scale;
    words[W.window] = dims.window;
    words[W.causal] = dims.causal ? 1 : 0;
    words[W.kvF16] = dims.kvType === 'f16' ? 1 : 0;
    words[W.scores] = dims.scores ? (ptrs.scores ?? 0) : 0;
    words[W.softmax] = dims.softmax ? (ptrs.softmax ?? 0) : 0;
    words[W.numerics] = dims.numerics === 'ggml' ? 1 : 0;
    new Int32Array(rt.memory.buffer, pos, dims.nQ).set(dims.positions);

    const kernels = phasesOf(dims);
    if (kernels.includes('attn_decode')) {
      const partials = rt.arena.alloc(Math.max(rt.kernel('attn_partials_bytes')(params) as number, 16));
      owned.push(partials);
      new Int32Array(rt.memory.buffer, params, PARAM_BYTES / 4)[W.partials] = partials;
    }
    const units = rt.kernel('attn_units');
    const scratchOf = rt.kernel('attn_scratch_bytes');
    let scratch = 0;
    const phases = kernels.map((kernel) => {
      scratch = Math.max(scratch, scratchOf(params, KIND_OF[kernel]) as number);
      return { kernel, units: units(params, KIND_OF[kernel]) as number };
    });
    return new AttentionCall(rt, params, owned, phases, Math.ceil(Math.max(scratch, 16) / 64) * 64);
  } catch (e) {
    for (const p of owned) rt.arena.release(p);
    throw e;
  }
}

/** Scratch bytes per thread for these dims (prepareAttention's scratchBytes; a function of the dims only). */
export function attentionScratchBytes(rt: WasmRuntime, dims: AttentionDims): number {
  const call = writeCall(rt, dims, { q: 0, k: 0, v: 0, out: 0 });
  call.dispose();
  return call.scratchBytes;
}

/** One thread's kernel arguments for units [u0, u1) of a phase. */
export function attentionArgs(call: AttentionCall, scratch: number, u0: number, u1: number): number[] {
  return [call.params, scratch, u0, u1];
}

/** A worker pool as the wasm engine has it (src/scheduler/pool.ts). */
export interface AttentionPool {
  readonly threads: number;
  split(total: number, granularity?: number): readonly { start: number; end: number }[];
  runRanges(
    kernel: string,
    ranges: readonly { start: number; end: number }[],
    args: (range: { start: number; end: number }, thread: number) => readonly number[],
  ): Promise<void>;
}

/** Runs a whole attention call over a pool: each phase split by unit ranges, phases in order. */
export async function attentionOnPool(
  rt: WasmRuntime,
  pool: AttentionPool,
  dims: AttentionDims,
  ptrs: AttentionPointers,
): Promise<void> {
  const call = prepareAttention(rt, dims, ptrs);
  let scratch = 0;
  try {
    scratch = rt.arena.alloc(call.scratchBytes * pool.threads);
    for (const phase of call.phases) {
      await pool.runRanges(phase.kernel, pool.split(phase.units, 1), (r, t) =>
        attentionArgs(call, scratch + t * call.scratchBytes, r.start, r.end),
      );
    }
  } finally {
    if (scratch) rt.arena.release(scratch);
    call.dispose();
  }
}

/**
 * Runs an attention call on the calling thread. `split` (for tests) gives each
 * phase's unit ranges in the order to run them; default: one range per phase.
 */
export function attention(
  rt: WasmRuntime,
  dims: AttentionDims,
  ptrs: AttentionPointers,
  split?: (units: number, kernel: AttentionPhase['kernel']) => readonly [number, number][],
): void {
  const call = prepareAttention(rt, dims, ptrs);
  let scratch = 0;
  try {
    scratch = rt.arena.alloc(call.scratchBytes);
    for (const phase of call.phases) {
      const kernel = rt.kernel(phase.kernel);
      for (const [u0, u1] of split
        ? split(phase.units, phase.kernel)
        : [[0, phase.units] as [number, number]]) {
        if (u0 < u1) kernel(...attentionArgs(call, scratch, u0, u1));
      }
    }
  } finally {
    if (scratch) rt.arena.release(scratch);
    call.dispose();
  }
}

export interface AttentionArrays {
  out: Float32Array;
  scores?: Float32Array;
  softmax?: Float32Array;
}

/**
 * Convenience for tests and one-off calls: copies q (f32) and k, v (f32 values,
 * or f16 bits as a Uint16Array) into the runtime's memory, runs, copies out.
 */
export function attentionArrays(
  rt: WasmRuntime,
  dims: AttentionDims,
  q: Float32Array,
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  split?: Parameters<typeof attention>[3],
): AttentionArrays {
  const place = (a: Float32Array | Uint16Array): number => {
    const p = rt.arena.alloc(Math.max(a.byteLength, 16));
    rt.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
    return p;
  };
  const { nQ, nHead, nKv, headDim } = dims;
  const side = nHead * nQ * nKv;
  const owned: number[] = [];
  try {
    const ptrs: AttentionPointers = {
      q: owned[owned.push(place(q)) - 1],
      k: owned[owned.push(place(k)) - 1],
      v: owned[owned.push(place(v)) - 1],
      out: owned[owned.push(rt.arena.alloc(Math.max(nQ * nHead * headDim * 4, 16))) - 1],
    };
    if (dims.scores) ptrs.scores = owned[owned.push(rt.arena.alloc(Math.max(side * 4, 16))) - 1];
    if (dims.softmax) ptrs.softmax = owned[owned.push(rt.arena.alloc(Math.max(side * 4, 16))) - 1];
    attention(rt, dims, ptrs, split);
    return {
      out: rt.f32(ptrs.out, nQ * nHead * headDim).slice(),
      scores: ptrs.scores !== undefined ? rt.f32(ptrs.scores, side).slice() : undefined,
      softmax: ptrs.softmax !== undefined ? rt.f32(ptrs.softmax, side).slice() : undefined,
    };
  } finally {
    for (const p of owned) rt.arena.release(p);
  }
}
