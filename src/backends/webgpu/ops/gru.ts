/**
 * engine.gru on the GPU (semantics: src/ops/gru.ts; kernels: ../wgsl/gru.ts):
 * per step, the structure's recurrent product (dense, diagonal: one
 * dispatch; Monarch: two; butterfly: one per factor), then the gates, which
 * write the new state into a buffer of T + 1 rows (row 0: h0) the next step
 * reads. The queue orders the dispatches: nothing waits on the CPU until the
 * result is read.
 *
 * f32: the state rows are h_t (copied to the output at the end). int8
 * (opts.int8): U quantized on the host as the CPU engines do it
 * (quantizeRecurrence: the same codes and scales), the state rows are i32
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
import { type Binding, f32Bits } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  GRU_WG,
  gruButterflyI8Wgsl,
  gruButterflyWgsl,
  gruDenseI8Wgsl,
  gruDenseWgsl,
  gruDiagonalI8Wgsl,
  gruDiagonalWgsl,
  gruGatesI8Wgsl,
  gruGatesWgsl,
  gruMonarchI8Wgsl,
  gruMonarchWgsl,
  NAN_STATE_CODE,
} from '../wgsl/gru.js';

/** The quantized GRU's inputs to the kernels: int8 codes and scales of U's arrays, the state scale and h0's codes. */
export interface GpuGruInt8 {
  codes: Record<string, Int8Array>;
  scales: Record<string, Float32Array>;
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
  const arrays = gruArrays(U);
  const h = host.output([T, H], 'gru h');
  const gates = withGates ? host.output([T, 3 * H], 'gru gates') : undefined;
  const temps: GPUBuffer[] = [];
  const temp = (bytes: number, what: string) => {
    const b = ctx.buffer(bytes, what);
    temps.push(b);
    return b;
  };
  const upload = (v: Int8Array | Float32Array | Int32Array, what: string) => {
    const b = ctx.upload(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), what);
    temps.push(b);
    return b;
  };
  try {
    const S = temp((T + 1) * H * 4, 'gru state');
    if (int8) ctx.write(S, 0, new Uint8Array(int8.q0.buffer, int8.q0.byteOffset, H * 4));
    else if (h0) ctx.copy(h0.buffer, 0, S, 0, H * 4);
    else ctx.write(S, 0, new Uint8Array(H * 4));
    const gh = temp(3 * H * 4, 'gru recurrent product');
    const x = U.kind === 'monarch' ? temp(3 * H * 4, 'gru monarch intermediate') : null;
    // Absent operands: one dummy per binding (one buffer bound read-only and writable in a dispatch is invalid).
    const noBias = temp(4, 'gru b_h (none)');
    const noGates = temp(4, 'gru gates (none)');
    const w: Record<string, Binding> = {};
    const s: Record<string, Binding> = {};
    for (const name of Object.keys(arrays)) {
      if (!int8) w[name] = arrays[name].binding;
      else {
        w[name] = upload(int8.codes[name], `gru U.${name} codes`);
        s[name] = upload(int8.scales[name], `gru U.${name} scales`);
      }
    }
    const sh = int8 ? f32Bits(int8.sh) : 0;
    const outputs = Math.ceil((3 * H) / GRU_WG);
    const product = (t: number) => {
      switch (U.kind) {
        case 'dense':
        case 'diagonal': {
          if (!int8) {
            const code = U.kind === 'dense' ? gruDenseWgsl() : gruDiagonalWgsl();
            return ctx.run(code, [0, H, t], [w.u, S, gh], outputs);
          }
          const code = U.kind === 'dense' ? gruDenseI8Wgsl() : gruDiagonalI8Wgsl();
          return ctx.run(code, [0, H, t, 0, 0, sh], [w.u, s.u, S, gh], outputs);
        }
        case 'monarch': {
          const B = monarchBlock(H);
          const p = [0, H, t, B, 0, sh];
          if (!int8) {
            ctx.run(gruMonarchWgsl(1), p, [w.b1, S, x!], outputs);
            return ctx.run(gruMonarchWgsl(2), p, [w.b2, x!, gh], outputs);
          }
          ctx.run(gruMonarchI8Wgsl(1), p, [w.b1, s.b1, S, x!], outputs);
          return ctx.run(gruMonarchI8Wgsl(2), p, [w.b2, s.b2, x!, gh], outputs);
        }
        case 'butterfly': {
          const ell = butterflyFactors(H);
          const pairs = Math.ceil((3 * H) / 2 / GRU_WG);
          for (let f = 0; f < ell; f++) {
            if (int8) ctx.run(gruButterflyI8Wgsl(), [0, H, t, ell, f, sh], [w.w, s.w, S, gh], pairs);
            else ctx.run(gruButterflyWgsl(), [0, H, t, ell, f], [w.w, S, gh], pairs);
          }
        }
      }
    };
    const common: Binding[] = [gx.binding, gh, bh?.binding ?? noBias, S, gates?.binding ?? noGates];
    for (let t = 0; t < T; t++) {
      product(t);
      const p = [0, H, t, bh ? 1 : 0, gates ? 1 : 0, sh];
      if (int8) ctx.run(gruGatesI8Wgsl(), p, [...common, h.binding], Math.ceil(H / GRU_WG));
      else ctx.run(gruGatesWgsl(), p, common, Math.ceil(H / GRU_WG));
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

/** The quantized GRU's host-side inputs: U read back and quantized per output channel, h0's state codes. */
async function int8Inputs(
  U: GruWeights<GpuTensor>,
  H: number,
  h0: GpuTensor | null,
  opts: GruInt8Options,
): Promise<GpuGruInt8> {
  const sh = checkStateQuantizer(opts.state);
  const arrays = gruArrays(U);
  const values: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(arrays)) values[name] = await t.read();
  const q = quantizeRecurrence({ kind: U.kind, H, ...values } as GruRecurrence, opts.weights);
  const q0 = Int32Array.from(opts.state.quantize(h0 ? await h0.read() : new Float32Array(H)));
  return { codes: q.codes, scales: q.scales, sh, q0 };
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
  const int8 = opts.int8 ? await int8Inputs(gpuU, H, h0, opts.int8) : null;
  const r = gruOnGpu(
    host,
    host.gpu(gx, 'gru gx'),
    gpuU,
    opts.bh ? host.gpu(opts.bh, 'gru bh') : null,
    h0,
    T,
    H,
    !!opts.gates,
    int8,
  );
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
