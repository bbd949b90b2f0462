/**
 * engine.moeFfn on the GPU (semantics: src/ops/moe-ffn.ts). The routed slots
 * are grouped by expert on the host (a stable counting sort of the expert
 * ids, read back once); per active expert its token rows are gathered on the
 * GPU, its gate/up/down slices taken from the 3-D weight tensors (expertSlice
 * below) and its FFN run through the engine's own matmul and swiglu (whatever
 * kernels — or fallbacks — those have, in the requested numerics); the
 * outputs land in one row buffer Y.
 * The shared expert runs over all tokens the same way, its gate σ(gateInp·x)
 * as a [T, 1] matmul. A combine kernel sums w·y in slot order, the shared
 * expert last (ggml's order, as the wasm engine). Tier: gpuMoeFfnBound (src/oracle/moe-bound.ts).
 *
 * Expert slices: expert e's bytes [e·b, (e+1)·b) of a tensor (b its slice
 * size, by the tensor's own type) are bound in place — a slice view, no copy
 * — where their buffer offset is a multiple of minStorageBufferOffsetAlignment
 * (256 on most devices: every expert wherever F·D is a multiple of 2^16, e.g.
 * 768 × 2048, whatever the type). Elsewhere they are copied to a buffer of
 * their own (from byte 0, as a kernel reads a tensor): copyBufferToBuffer
 * where the offset is a multiple of 4, else the byte-copy kernel
 * (wgsl/byte-copy.ts; slices of 18- or 34-byte blocks, or odd f16 counts,
 * start mid-word). The copy is made once per weight tensor and expert
 * (GpuTensor.derived: kept with the weight's root owner, costing that slice's
 * bytes again, and disposed with it), so a decode loop copies each such
 * expert once; weights whose bytes may change (immutable false) are copied
 * per call. Either way the kernels read the same bytes from word 0 of their
 * binding: same bits.
 */
import type { Engine, MoeRouteTensors } from '../../../engine/engine.js';
import type { Tensor } from '../../../engine/tensor.js';
import type { MoeFfnOptions, MoeFfnResult, MoeFfnWeights } from '../../../ops/moe-ffn.js';
import { validateMoeFfn } from '../../../ops/moe-ffn.js';
import { byteSizeOf, ggmlType } from '../../../types/ggml-types.js';
import type { GpuHost } from '../host.js';
import type { GpuTensor } from '../tensor.js';
import { BYTE_COPY_WG, byteCopyWgsl } from '../wgsl/byte-copy.js';
import { MOE_FLAT_WG, moeCombineWgsl, moeGatherWgsl } from '../wgsl/moe.js';

/** What expertSlice names the buffer of a copied slice (tests count these allocations). */
export const EXPERT_SLICE_COPY = 'moeFfn expert slice (copy)';

/**
 * Expert e's slice ([e·bytes, (e+1)·bytes) of w) as a tensor of `shape`: in place where the device
 * binds its offset, else a copy (cached on w where w's bytes cannot change; see the module header).
 * Per-call tensors (views, uncached copies) go to `owned`, disposed when the call ends.
 */
export function expertSlice(
  host: GpuHost,
  w: GpuTensor,
  e: number,
  bytes: number,
  shape: number[],
  owned: { dispose(): void }[],
): GpuTensor {
  const at = e * bytes;
  if (w.sliceable(at)) {
    const v = w.slice(at, bytes, shape);
    owned.push(v);
    return v;
  }
  const copy = () => {
    const s = host.output(shape, EXPERT_SLICE_COPY, w.type);
    if ((w.byteOffset + at) % 4 === 0) host.ctx.copy(w.buffer, w.byteOffset + at, s.buffer, 0, bytes);
    else
      host.ctx.run(
        byteCopyWgsl(),
        [w.byteOffset + at, bytes],
        [w.buffer, s.binding],
        Math.ceil(bytes / 4 / BYTE_COPY_WG),
      );
    return s;
  };
  if (!w.immutable) {
    const s = copy();
    owned.push(s);
    return s;
  }
  // Keyed by the buffer offset: views of one root share its store.
  return w.derived(`moeFfn expert slice ${w.byteOffset + at}+${bytes} [${shape}]`, copy);
}

/** Slot rows grouped by expert: row r holds slot `slot[r]` (= t·k + j); pos[slot] = r or −1 (dropped). */
export function groupSlots(ids: Int32Array, T: number, k: number, E: number, dropped: Uint8Array | null) {
  const counts = new Int32Array(E + 1);
  for (let t = 0; t < T; t++) if (!dropped?.[t]) for (let j = 0; j < k; j++) counts[ids[t * k + j] + 1]++;
  for (let e = 0; e < E; e++) counts[e + 1] += counts[e];
  const first = counts.slice(0, E + 1);
  const slot = new Int32Array(counts[E]);
  const pos = new Int32Array(T * k).fill(-1);
  const next = counts.slice(0, E);
  for (let t = 0; t < T; t++)
    if (!dropped?.[t])
      for (let j = 0; j < k; j++) {
        const r = next[ids[t * k + j]]++;
        slot[r] = t * k + j;
        pos[t * k + j] = r;
      }
  return { first, slot, pos };
}

export async function gpuMoeFfn(
  host: GpuHost,
  engine: Engine,
  x: Tensor,
  route: MoeRouteTensors,
  weights: MoeFfnWeights,
  opts: MoeFfnOptions = {},
): Promise<MoeFfnResult> {
  const d = validateMoeFfn(x, route, weights, opts);
  const { tokens: T, dim: D, hidden: F, experts: E, k, numerics } = d;
  const { ctx } = host;
  const xg = host.gpu(x, 'moeFfn x');
  const [gate, up, down] = [weights.gate, weights.up, weights.down].map((t, i) =>
    host.gpu(t, `moeFfn ${['gate', 'up', 'down'][i]}`),
  );
  // Each tensor's own type sizes its slice: gate and up may differ (e.g. an f32 up beside a quantized gate).
  const [gateBytes, upBytes, downBytes] = [gate, up, down].map((t) => byteSizeOf(t.type, F * D));
  const ids = Int32Array.from(await host.gpu(route.experts, 'moeFfn route experts').read());
  const { first, slot, pos } = groupSlots(ids, T, k, E, route.dropped);
  const R = slot.length;
  const owned: { dispose(): void }[] = [];
  const keep = <V extends { dispose(): void }>(v: V): V => {
    owned.push(v);
    return v;
  };
  const slice = (w: GpuTensor, e: number, bytes: number, shape: number[]) =>
    expertSlice(host, w, e, bytes, shape, owned);
  const mm = (a: Tensor, w: Tensor) => engine.matmul(a, w, { numerics }).then(keep);
  const ffn = async (xs: Tensor, g: Tensor, u: Tensor, dn: Tensor) =>
    mm(keep(await engine.swiglu(await mm(xs, g), await mm(xs, u))), dn);
  const words = ggmlType('f32');

  const out = host.output([T, D], 'moeFfn out');
  const slots = opts.slotOutputs ? host.output([T, k * D], 'moeFfn slots') : undefined;
  try {
    const Y = keep(host.output([R, D], 'moeFfn expert rows'));
    const tokenOfRow = Uint32Array.from(slot, (s) => Math.floor(s / k));
    const idx = keep(host.upload(new Uint8Array(tokenOfRow.buffer), [R], words, 'moeFfn row tokens'));
    for (let e = 0; e < E; e++) {
      const n = first[e + 1] - first[e];
      if (n === 0) continue;
      const xe = keep(host.output([n, D], 'moeFfn expert rows'));
      ctx.run(
        moeGatherWgsl(),
        [D, first[e], n],
        [idx.binding, xg.binding, xe.binding],
        Math.ceil((n * D) / MOE_FLAT_WG),
      );
      const y = host.gpu(
        await ffn(
          xe,
          slice(gate, e, gateBytes, [F, D]),
          slice(up, e, upBytes, [F, D]),
          slice(down, e, downBytes, [D, F]),
        ),
        'moeFfn expert output',
      );
      ctx.copy(y.buffer, y.byteOffset, Y.buffer, first[e] * D * 4, n * D * 4);
    }
    const sh = weights.shared;
    let S: GpuTensor | null = null;
    let z: GpuTensor | null = null;
    if (sh) {
      S = host.gpu(await ffn(xg, sh.gate, sh.up, sh.down), 'moeFfn shared');
      if (sh.gateInp)
        z = host.gpu(
          await mm(xg, host.gpu(sh.gateInp, 'moeFfn shared gateInp').view([1, D])),
          'moeFfn shared gate',
        );
    }
    const posT = keep(host.upload(new Uint8Array(pos.buffer), [T * k], words, 'moeFfn slot rows'));
    // Absent operands: the read-only ones may share a dummy, the written one (slots) may not.
    const none = keep(host.output([1], 'moeFfn (absent operand)'));
    const noSlots = keep(host.output([1], 'moeFfn slots (none)'));
    ctx.run(
      moeCombineWgsl(),
      [T, D, k, S ? 1 : 0, z ? 1 : 0, slots ? 1 : 0],
      [
        Y.binding,
        posT.binding,
        host.gpu(route.weights, 'moeFfn route weights').binding,
        (S ?? none).binding,
        (z ?? none).binding,
        out.binding,
        (slots ?? noSlots).binding,
      ],
      Math.ceil((T * D) / MOE_FLAT_WG),
    );
    host.ran('moeFfn', 'webgpu');
    return { out, slots };
  } catch (e) {
    out.dispose();
    slots?.dispose();
    throw e;
  } finally {
    for (const o of owned) o.dispose();
  }
}
