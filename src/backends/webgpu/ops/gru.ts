/**
 * engine.gru on the GPU (semantics: src/ops/gru.ts; kernels: ../wgsl/gru.ts):
 * per step, the structure's recurrent product (dense, diagonal: one
 * dispatch; Monarch: two; butterfly: one per factor), then the gates, which
 * write h_t into a state buffer [(T + 1)·H] (row 0: h0) the next step reads.
 * f32 throughout; the queue orders the dispatches, so nothing waits on the
 * CPU until the result is read.
 *
 * Tier, per step from the kernel's own previous state: gpuGruStepBound
 * (./gru-bound.ts).
 *
 * The quantized GRU (opts.int8) runs on the CPU engine: its state codes are
 * round-half-to-even of h/s_h, and the GPU's 2.5-ULP division would move
 * codes at .5 boundaries that the CPU's correctly rounded one keeps — a GPU
 * version needs an exact-division rounding kernel, not written yet.
 */
import type { GruResult } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import {
  butterflyFactors,
  type GruOptions,
  type GruWeights,
  gruArrays,
  monarchBlock,
  validateGruOp,
} from '../../../ops/gru.js';
import type { Binding } from '../context.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import {
  GRU_WG,
  gruButterflyWgsl,
  gruDenseWgsl,
  gruDiagonalWgsl,
  gruGatesWgsl,
  gruMonarchWgsl,
} from '../wgsl/gru.js';

const INT8_WHY =
  'int8 GRU: state codes round h/s_h half to even; WGSL division (2.5 ULP) would move codes at .5 boundaries, and no exact-rounding kernel exists yet';

/** The GRU scan of GPU tensors: h [T, H] and optionally the gates [T, 3H]. */
export function gruOnGpu(
  host: GpuHost,
  gx: GpuTensor,
  U: GruWeights<GpuTensor>,
  bh: GpuTensor | null,
  h0: GpuTensor | null,
  T: number,
  H: number,
  withGates: boolean,
): GruResult {
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
  try {
    const S = temp((T + 1) * H * 4, 'gru state');
    if (h0) ctx.copy(h0.buffer, 0, S, 0, H * 4);
    else ctx.write(S, 0, new Uint8Array(H * 4));
    const gh = temp(3 * H * 4, 'gru recurrent product');
    const x = U.kind === 'monarch' ? temp(3 * H * 4, 'gru monarch intermediate') : null;
    const none = temp(4, 'gru (absent operand)');
    const outputs = Math.ceil((3 * H) / GRU_WG);
    const product = (t: number) => {
      switch (U.kind) {
        case 'dense':
          return ctx.run(gruDenseWgsl(), [0, H, t], [arrays.u.binding, S, gh], outputs);
        case 'diagonal':
          return ctx.run(gruDiagonalWgsl(), [0, H, t], [arrays.u.binding, S, gh], outputs);
        case 'monarch': {
          const B = monarchBlock(H);
          ctx.run(gruMonarchWgsl(1), [0, H, t, B], [arrays.b1.binding, S, x!], outputs);
          return ctx.run(gruMonarchWgsl(2), [0, H, t, B], [arrays.b2.binding, x!, gh], outputs);
        }
        case 'butterfly': {
          const ell = butterflyFactors(H);
          for (let f = 0; f < ell; f++)
            ctx.run(
              gruButterflyWgsl(),
              [0, H, t, ell, f],
              [arrays.w.binding, S, gh],
              Math.ceil((3 * H) / 2 / GRU_WG),
            );
        }
      }
    };
    const gateBufs: Binding[] = [gx.binding, gh, bh?.binding ?? none, S, gates?.binding ?? none];
    for (let t = 0; t < T; t++) {
      product(t);
      ctx.run(gruGatesWgsl(), [0, H, t, bh ? 1 : 0, gates ? 1 : 0], gateBufs, Math.ceil(H / GRU_WG));
    }
    if (T * H > 0) ctx.copy(S, H * 4, h.buffer, 0, T * H * 4);
    return { h, gates };
  } catch (e) {
    h.dispose();
    gates?.dispose();
    throw e;
  } finally {
    for (const b of temps) b.destroy();
  }
}

export async function gpuGru(
  host: GpuHost,
  gx: Tensor,
  U: GruWeights<Tensor>,
  opts: GruOptions<Tensor> = {},
): Promise<GruResult> {
  const { T, H } = validateGruOp(gx, U, opts);
  const arrays = gruArrays(U);
  if (opts.int8) {
    const names = Object.keys(arrays);
    const r = await host.onCpu(
      'gru',
      INT8_WHY,
      [gx, opts.bh, opts.h0, ...names.map((n) => arrays[n])],
      (cpu, [g, bh, h0, ...ws]) => {
        const cu = {
          kind: U.kind,
          ...Object.fromEntries(names.map((n, i) => [n, ws[i]])),
        } as GruWeights<Tensor>;
        return cpu.gru!(g!, cu, { ...opts, bh, h0 });
      },
    );
    return {
      h: await host.fromCpu(r.h, 'gru h'),
      gates: r.gates ? await host.fromCpu(r.gates, 'gru gates') : undefined,
    };
  }
  const gpuU = {
    kind: U.kind,
    ...Object.fromEntries(Object.entries(arrays).map(([n, t]) => [n, host.gpu(t, `gru U.${n}`)])),
  } as GruWeights<GpuTensor>;
  const r = gruOnGpu(
    host,
    host.gpu(gx, 'gru gx'),
    gpuU,
    opts.bh ? host.gpu(opts.bh, 'gru bh') : null,
    opts.h0 ? host.gpu(opts.h0, 'gru h0') : null,
    T,
    H,
    !!opts.gates,
  );
  host.ran('gru', 'webgpu');
  return r;
}
