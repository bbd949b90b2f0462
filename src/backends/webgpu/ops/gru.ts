/**
 * engine.gru on the GPU (semantics: src/ops/gru.ts; kernels: ../wgsl/gru.ts):
 * per step, the structure's product stages before its last (Monarch: stage 1;
 * butterfly: factors 0 … ℓ − 2), then one step kernel that computes the last
 * stage for its element's three outputs and the gates, writing the new state
 * into a buffer of T + 1 rows (row 0: h0) the next step reads: 1 dispatch per
 * step for dense and diagonal, 2 for Monarch, ℓ for butterfly. The queue
 * orders the dispatches: nothing waits on the CPU until the result is read.
 *
 * f32: the state rows are h_t (copied to the output at the end). int8
 * (opts.int8): U quantized on the host as the CPU engines do it
 * (quantizeRecurrence: the same codes and scales), uploaded once per U tensor
 * and weight quantizer (packedU: kept for later calls), the state rows are i32
 * codes, row 0 the state quantizer's codes of h0; each step's code is the
 * exact round-half-to-even of h'/s_h computed in integers (no floating-point
 * division), and the output is f32(q)·s_h. A NaN has no code: its code
 * −128 is read back after the scan and refused (QuantizerInputError naming
 * the step, as the CPU engines), which costs one read of the codes.
 *
 * Tiers, per step from the kernel's own previous state: ./gru-bound.ts.
 */
import type { GruResult } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import {
  butterflyFactors,
  checkStateQuantizer,
  type GruInt8Options,
  type GruOptions,
  type GruRecurrence,
  type GruWeights,
  gruArrays,
  gruNanStateError,
  monarchBlock,
  quantizeRecurrence,
  validateGruOp,
} from '../../../ops/gru.js';
import type { Int8Quantizer } from '../../../ops/int8-quantizer.js';
import { ggmlType } from '../../../types/ggml-types.js';
import { type Binding, f32Bits } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  GRU_WG,
  gruButterflyWgsl,
  gruMonarchWgsl,
  gruParams,
  gruStepWgsl,
  NAN_STATE_CODE,
} from '../wgsl/gru.js';

/** One U array quantized, on the GPU: its int8 codes four to a u32 word, then its scales' f32 bits from word `scalesAt`. */
export interface PackedArray {
  buffer: GPUBuffer;
  scalesAt: number;
}

/** The quantized GRU's inputs to the kernels: U's packed arrays by name, the state scale and h0's codes. */
export interface GpuGruInt8 {
  packed: Record<string, PackedArray>;
  sh: number;
  q0: Int32Array;
}

/**
 * The GRU scan of GPU tensors: h [T, H] and optionally the gates [T, 3H]; int8 given: the quantized GRU,
 * and `codes`, a copy of its state codes [T, H] i32 for the NaN check (the caller reads and destroys it).
 */
export function gruOnGpu(
  host: GpuHost,
  gx: GpuTensor,
  U: GruWeights<GpuTensor>,
  bh: GpuTensor | null,
  h0: GpuTensor | null,
  T: number,
  H: number,
  withGates: boolean,
  int8: GpuGruInt8 | null = null,
): GruResult & { codes?: GPUBuffer } {
  const { ctx } = host;
  const h = host.output([T, H], 'gru h');
  const gates = withGates ? host.output([T, 3 * H], 'gru gates') : undefined;
  const temps: GPUBuffer[] = [];
  const temp = (bytes: number, what: string) => {
    const b = ctx.buffer(bytes, what);
    temps.push(b);
    return b;
  };
  try {
    const S = temp((T + 1) * H * 4, 'gru state');
    if (int8) ctx.write(S, 0, new Uint8Array(int8.q0.buffer, int8.q0.byteOffset, H * 4));
    else if (h0) ctx.copy(h0.buffer, h0.byteOffset, S, 0, H * 4);
    else ctx.write(S, 0, new Uint8Array(H * 4));
    // The earlier stages' output, which the step kernel's last stage reads (dense, diagonal: none).
    const staged =
      U.kind === 'monarch' || U.kind === 'butterfly' ? temp(3 * H * 4, 'gru product stage') : null;
    // Absent operands: one dummy per binding (one buffer bound read-only and writable in a dispatch is invalid).
    const noBias = temp(4, 'gru b_h (none)');
    const noGates = temp(4, 'gru gates (none)');
    const w: Record<string, Binding> = {};
    for (const [name, t] of Object.entries(gruArrays(U)))
      w[name] = int8 ? int8.packed[name].buffer : t.binding;
    const scalesAt = (name: string) => int8?.packed[name].scalesAt ?? 0;
    const shape = U.kind === 'monarch' ? monarchBlock(H) : U.kind === 'butterfly' ? butterflyFactors(H) : 0;
    const base = { H, bias: !!bh, gates: !!gates, sh: int8 ? f32Bits(int8.sh) : 0, shape };
    const outputs = Math.ceil((3 * H) / GRU_WG);
    const pairs = Math.ceil((3 * H) / 2 / GRU_WG);
    // The stages before the last, into `staged`.
    const stages = (t: number) => {
      if (U.kind === 'monarch') {
        const p = gruParams({ ...base, t, scalesAt: scalesAt('b1') });
        ctx.run(gruMonarchWgsl(!!int8), p, [w.b1, S, staged!], outputs);
      } else if (U.kind === 'butterfly')
        for (let f = 0; f + 1 < shape; f++) {
          const p = gruParams({ ...base, t, factor: f, scalesAt: scalesAt('w') });
          ctx.run(gruButterflyWgsl(!!int8), p, [w.w, S, staged!], pairs);
        }
    };
    const last = U.kind === 'monarch' ? 'b2' : U.kind === 'butterfly' ? 'w' : 'u';
    const lastInputs: Binding[] = staged ? [w[last], staged] : [w[last]];
    const io: Binding[] = [gx.binding, bh?.binding ?? noBias, S, gates?.binding ?? noGates];
    const step = gruStepWgsl(U.kind, !!int8);
    for (let t = 0; t < T; t++) {
      stages(t);
      const p = gruParams({ ...base, t, scalesAt: scalesAt(last) });
      ctx.run(step, p, [...lastInputs, ...io, ...(int8 ? [h.binding] : [])], Math.ceil(H / GRU_WG));
    }
    if (!int8 && T * H > 0) ctx.copy(S, H * 4, h.buffer, 0, T * H * 4);
    if (!int8 || T * H === 0) return { h, gates };
    const codes = ctx.buffer(T * H * 4, 'gru state codes');
    ctx.copy(S, H * 4, codes, 0, T * H * 4);
    return { h, gates, codes };
  } catch (e) {
    h.dispose();
    gates?.dispose();
    throw e;
  } finally {
    for (const b of temps) b.destroy();
  }
}

const quantizerIds = new WeakMap<Int8Quantizer, number>();
let nextQuantizerId = 1;

/**
 * A weight quantizer's name in a key: a frozen Int8Quantizer never changes (its scales are set once),
 * so its identity names it; absent, it is max-abs on the array itself.
 */
function quantizerKey(q: Int8Quantizer | undefined): string {
  if (!q) return 'max-abs';
  let id = quantizerIds.get(q);
  if (id === undefined) {
    id = nextQuantizerId++;
    quantizerIds.set(q, id);
  }
  return `quantizer ${id}`;
}

/** Where an array's packed scales start: its codes padded to whole words. */
function scalesAt(count: number): number {
  return Math.ceil(count / 4);
}

/** codes (padded to whole words) then the scales' bits: one tensor of u32 words for a kernel's one binding. */
function packArray(host: GpuHost, codes: Int8Array, scales: Float32Array, what: string): GpuTensor {
  const at = scalesAt(codes.length);
  const bytes = new Uint8Array(at * 4 + scales.byteLength);
  bytes.set(new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength));
  bytes.set(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength), at * 4);
  // Words of codes and scale bits, typed f32 only to be a tensor: kernels read them as u32.
  return host.upload(bytes, [bytes.byteLength / 4], ggmlType('f32'), what);
}

/**
 * U's packed arrays: quantizeRecurrence's codes and scales (every array at once, as the CPU engines)
 * of U read back. An immutable tensor keeps them (GpuTensor.derived, disposed with it), keyed by the
 * bytes, the structure and the weight quantizer, which are all they depend on; a KV cache view
 * (immutable false: kvWrite rewrites it under the same object) is quantized again at each call, its
 * packed arrays in `temps` for the caller to dispose after the scan.
 */
async function packedU(
  host: GpuHost,
  U: GruWeights<GpuTensor>,
  H: number,
  weights: GruInt8Options['weights'],
): Promise<{ packed: Record<string, PackedArray>; temps: GpuTensor[] }> {
  const arrays = Object.entries(gruArrays(U));
  const key = (name: string, t: GpuTensor) =>
    `gru int8 ${U.kind}.${name} ${quantizerKey(weights?.[name])} bytes ${t.byteOffset}+${t.byteLength}`;
  const packed: Record<string, PackedArray> = {};
  const kept = (name: string, p: GpuTensor, t: GpuTensor) => {
    packed[name] = { buffer: p.buffer, scalesAt: scalesAt(t.count) };
  };
  for (const [name, t] of arrays) {
    const p = t.immutable ? t.keptDerived(key(name, t)) : undefined;
    if (p) kept(name, p, t);
  }
  const temps: GpuTensor[] = [];
  if (Object.keys(packed).length === arrays.length) return { packed, temps };
  const values: Record<string, Float32Array> = {};
  for (const [name, t] of arrays) values[name] = await t.read();
  const q = quantizeRecurrence({ kind: U.kind, H, ...values } as GruRecurrence, weights);
  for (const [name, t] of arrays) {
    if (packed[name]) continue;
    const make = () => packArray(host, q.codes[name], q.scales[name], `gru U.${name} int8`);
    if (t.immutable) kept(name, t.derived(key(name, t), make), t);
    else {
      const p = make();
      temps.push(p);
      kept(name, p, t);
    }
  }
  return { packed, temps };
}

export async function gpuGru(
  host: GpuHost,
  gx: Tensor,
  U: GruWeights<Tensor>,
  opts: GruOptions<Tensor> = {},
): Promise<GruResult> {
  const { T, H } = validateGruOp(gx, U, opts);
  const gpuU = {
    kind: U.kind,
    ...Object.fromEntries(Object.entries(gruArrays(U)).map(([n, t]) => [n, host.gpu(t, `gru U.${n}`)])),
  } as GruWeights<GpuTensor>;
  const h0 = opts.h0 ? host.gpu(opts.h0, 'gru h0') : null;
  const sh = opts.int8 ? checkStateQuantizer(opts.int8.state) : 0;
  const u = opts.int8 ? await packedU(host, gpuU, H, opts.int8.weights) : null;
  let r: GruResult & { codes?: GPUBuffer };
  try {
    const q0 = u && Int32Array.from(opts.int8!.state.quantize(h0 ? await h0.read() : new Float32Array(H)));
    r = gruOnGpu(
      host,
      host.gpu(gx, 'gru gx'),
      gpuU,
      opts.bh ? host.gpu(opts.bh, 'gru bh') : null,
      h0,
      T,
      H,
      !!opts.gates,
      u && { packed: u.packed, sh, q0: q0! },
    );
  } finally {
    for (const p of u?.temps ?? []) p.dispose(); // after submit: the queued work keeps them alive
  }
  host.ran('gru', 'webgpu');
  if (r.codes) await refuseNanState(host, r, T * H, H);
  return { h: r.h, gates: r.gates };
}

/**
 * Throws the CPU engines' QuantizerInputError when a NaN reached the int8 state: state_code gives it
 * NAN_STATE_CODE (../wgsl/gru.ts), outside the narrow range; the first one names the step.
 */
async function refuseNanState(host: GpuHost, r: GruResult & { codes?: GPUBuffer }, n: number, H: number) {
  const codes = r.codes as GPUBuffer;
  let bytes: Uint8Array;
  try {
    bytes = await host.ctx.read(codes, n * 4);
  } finally {
    codes.destroy();
  }
  const nan = new Int32Array(bytes.buffer, bytes.byteOffset, n).indexOf(NAN_STATE_CODE);
  if (nan < 0) return;
  r.h.dispose();
  r.gates?.dispose();
  throw gruNanStateError(Math.floor(nan / H));
}
