/**
 * The WebGPU backend: GPU time per op (dispatch + queue drained, so the GPU's
 * work is inside the time) and readback cost, at small shapes — on
 * SwiftShader (a CPU Vulkan driver) the numbers say little about GPUs, but
 * they are measured all the same; on a real GPU the same suite gives matmul
 * GFLOPS and Q4_K matvec GB/s against the device's memory bandwidth.
 *
 * Sections (one function per op family, listed in `sections`; WEBGPU_SECTIONS=matmul,gru runs
 * some) return rows; each row:
 * [section, case, timing (wall, GPU and readback ms), throughput, unit, where it ran (opReport)].
 *
 * Every timed call runs with timestamps on (ctx.profile), so the three
 * figures of a row come from the same calls: wall ms counts JS dispatch
 * (pipeline lookup, bind groups, submits), the GPU work and the wait for the
 * queue; GPU ms is the sum of that call's compute-pass timestamps (so never
 * more than its wall time); read ms is read() of what the call returned,
 * after its queue drained (the copy to a mappable buffer, the map and the copy out).
 */

import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../src/backends/webgpu/adapter.js';
import { WebGpuEngine } from '../src/backends/webgpu/engine.js';
import { gpuDequantBuffer } from '../src/backends/webgpu/ops/dequant.js';
import type { GpuTensor } from '../src/backends/webgpu/tensor.js';
import { type GruStructure, type GruWeights, gruShapes } from '../src/ops/gru.js';
import { Int8Quantizer } from '../src/ops/int8-quantizer.js';
import { quantize } from '../src/ops/quantize.js';
import { GGML_TYPE_NAMES } from '../src/types/ggml-types.js';
import { f32ToBf16, f32ToF16 } from '../src/types/half.js';
import { median, type SuiteResult } from './lib.js';

/** Medians over the same calls (see gpuMedianMs). */
interface Timing {
  /** Wall ms per call, queue drained. */
  ms: number;
  /** Sum of the call's dispatch times; null: no dispatch (a plain readback is a buffer copy) or no timestamps. */
  gpuMs: number | null;
  /** read() of the call's outputs; null: the call returned none (it disposed of its own). */
  readMs: number | null;
}

/** A GPU result a timed call hands back: read back (timed apart from the call), then disposed. */
interface Output {
  read(): Promise<unknown>;
  dispose(): void;
}

/** The outputs in what a timed call returned: an Output, or an array of them; anything else is none. */
function outputsOf(result: unknown): Output[] {
  const isOutput = (v: unknown): v is Output =>
    typeof (v as Output | null)?.read === 'function' && typeof (v as Output).dispose === 'function';
  if (Array.isArray(result)) return result.filter(isOutput);
  return isOutput(result) ? [result] : [];
}

/** A row's throughput: from a time in ms (the table gives it from wall ms and from gpu ms), or a value as is. */
type Throughput = number | string | ((ms: number) => number);

type WebGpuRow = [string, string, Timing, Throughput, string, string];

/**
 * `reps` calls of `fn` after one warm-up, timestamps on. Each call: wall time to its queue
 * drained; then (outside that time) its dispatches' GPU time, and read() of the outputs it
 * returned, timed, then disposed. Each figure is the median over the same calls; as a call's GPU
 * time is within its wall time, so is the median's. Timestamps cost each call one query set
 * and its writes (inside the wall time); a call that disposes its own outputs has no read ms.
 */
async function gpuMedianMs(e: WebGpuEngine, fn: () => Promise<unknown>, reps = 7): Promise<Timing> {
  const { ctx } = e.host;
  for (const o of outputsOf(await fn())) o.dispose();
  await ctx.finish();
  const profiled = ctx.profile(true);
  const wall: number[] = [];
  const gpu: number[] = [];
  const read: number[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const outputs = outputsOf(await fn());
      await ctx.finish();
      wall.push(performance.now() - t0);
      const times = profiled ? ((await ctx.gpuTimes()) ?? []) : [];
      if (times.length > 0) gpu.push(times.reduce((sum, t) => sum + t.ns, 0) / 1e6);
      if (outputs.length > 0) {
        const r0 = performance.now();
        await Promise.all(outputs.map((o) => o.read()));
        read.push(performance.now() - r0);
      }
      for (const o of outputs) o.dispose();
    }
  } finally {
    ctx.profile(false);
  }
  return {
    ms: median(wall),
    gpuMs: gpu.length === reps ? median(gpu) : null,
    readMs: read.length === reps ? median(read) : null,
  };
}

/** Where the calls of `op` ran so far: 'webgpu', 'cpu' or 'mixed'. */
function placement(e: WebGpuEngine, op: string): string {
  const r = e.opReport()[op];
  if (!r) return '—';
  return r.cpu === 0 ? 'webgpu' : r.webgpu === 0 ? 'cpu' : 'mixed';
}

/** Readback: bytes copied back per second through Tensor.read(). */
async function readbackRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  for (const n of [1 << 10, 1 << 18, 1 << 22]) {
    const t = e.tensor(new Float32Array(n).fill(1), [n]);
    const timing = await gpuMedianMs(e, () => t.read());
    rows.push(['readback', `${(n * 4) / 1024} KiB`, timing, (ms) => (n * 4) / (ms * 1e6), 'GB/s', 'webgpu']);
    t.dispose();
  }
  return rows;
}

/**
 * Dequant: every ggml type → f32 on the GPU at 2^20 elements (4 MiB of f32 output), GB/s of
 * output with the queue drained; read ms: the f32 result read back (Tensor.read() of a quantized
 * tensor is the two together, chunked).
 */
async function dequantRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const n = 1 << 20;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2);
  const rows: WebGpuRow[] = [];
  for (const type of GGML_TYPE_NAMES) {
    if (type === 'f32') continue; // read() of an f32 tensor is the plain readback above
    const bytes =
      type === 'f16'
        ? new Uint8Array(Uint16Array.from(x, f32ToF16).buffer)
        : type === 'bf16'
          ? new Uint8Array(Uint16Array.from(x, f32ToBf16).buffer)
          : quantize(type, x);
    const t = e.tensor(bytes, [n], type) as GpuTensor;
    const dq = await gpuMedianMs(e, async () => {
      const out = gpuDequantBuffer(e.host.ctx, t);
      return { read: () => e.host.ctx.read(out, n * 4), dispose: () => out.destroy() };
    });
    rows.push(['dequant', `${type} 4 MiB f32`, dq, (ms) => (n * 4) / (ms * 1e6), 'GB/s', 'webgpu']);
    t.dispose();
  }
  return rows;
}

/**
 * matmul: f32 GEMM GFLOPS at 256³ and 512³ (tiled kernel), and matvec (M = 1) GB/s of weight
 * bytes at N = K = 4096 for f32, Q4_K exact (decoded in place) and Q4_K ggml (q8_K activations,
 * integer dots, the quantizer included). Wall: dispatch + queue drained; read ms: y read back.
 */
async function matmulRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  return matmulRowsOn(e, '', ['exact', 'ggml']);
}

/**
 * The same products with matmulPrecision 'f16' (operands rounded to f16, stored as f16 where the
 * adapter has shader-f16): the exact-numerics rows (ggml's q8 kernels do not change).
 */
async function matmulF16Rows(): Promise<WebGpuRow[]> {
  const e = await WebGpuEngine.create({ threads: 1, matmulPrecision: 'f16' });
  try {
    return await matmulRowsOn(e, e.device.f16 ? ' f16 operands (f16 storage)' : ' f16 operands', ['exact']);
  } finally {
    await e.dispose();
  }
}

async function matmulRowsOn(
  e: WebGpuEngine,
  variant: string,
  numericsList: readonly ('exact' | 'ggml')[],
): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  const time = async (
    x: ReturnType<WebGpuEngine['tensor']>,
    w: ReturnType<WebGpuEngine['tensor']>,
    reps: number,
    numerics: 'exact' | 'ggml' = 'exact',
  ) => gpuMedianMs(e, () => e.matmul(x, w, { numerics }), reps);
  for (const n of [256, 512]) {
    const x = e.tensor(
      Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)),
      [n, n],
    );
    const w = e.tensor(
      Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)),
      [n, n],
    );
    const timing = await time(x, w, n > 256 ? 3 : 5);
    rows.push([
      'matmul',
      `f32 ${n}³${variant}`,
      timing,
      (ms) => (2 * n ** 3) / (ms * 1e6),
      'GFLOPS',
      placement(e, 'matmul'),
    ]);
    x.dispose();
    w.dispose();
  }
  const K = 4096;
  const N = 4096;
  const x = e.tensor(
    Float32Array.from({ length: K }, (_, i) => Math.sin(i * 0.1)),
    [1, K],
  );
  const wv = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * 0.05);
  const wq = e.tensor(quantize('q4_K', wv), [N, K], 'q4_K');
  const qBytes = (N * K * 144) / 256;
  for (const numerics of numericsList) {
    const timing = await time(x, wq, 5, numerics);
    rows.push([
      'matmul',
      `q4_K matvec 1×${N}×${K} ${numerics}${variant}`,
      timing,
      (ms) => qBytes / (ms * 1e6),
      'GB/s',
      placement(e, 'matmul'),
    ]);
  }
  wq.dispose();
  const wf = e.tensor(wv, [N, K]);
  const timing = await time(x, wf, 5);
  rows.push([
    'matmul',
    `f32 matvec 1×${N}×${K}${variant}`,
    timing,
    (ms) => (N * K * 4) / (ms * 1e6),
    'GB/s',
    placement(e, 'matmul'),
  ]);
  wf.dispose();
  x.dispose();
  return rows;
}

/**
 * moeRoute: tokens routed per second for T = 1 … 1024 (mixtral E = 8 k = 2; deepseek-v3 E = 256 k = 8,
 * 8 groups keep 4); read ms: the weights and ids read back.
 */
async function moeRouteRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  const schemes = [
    ['mixtral E8 k2', 8, { scheme: 'mixtral', k: 2 }],
    ['deepseek-v3 E256 k8', 256, { scheme: 'deepseek-v3', k: 8, nGroup: 8, topkGroup: 4, scale: 2.5 }],
  ] as const;
  for (const [name, E, opts] of schemes)
    for (const T of [1, 16, 128, 1024]) {
      const logits = e.tensor(
        Float32Array.from({ length: T * E }, (_, i) => Math.sin(i * 0.37) * 3),
        [T, E],
      );
      const timing = await gpuMedianMs(e, async () => {
        const r = await e.moeRoute(logits, opts);
        return [r.weights, r.experts];
      });
      rows.push(['moeRoute', `${name} T ${T}`, timing, (ms) => T / ms, 'ktok/s', placement(e, 'moeRoute')]);
      logits.dispose();
    }
  return rows;
}

/**
 * moeFfn: wall ms per call of the routed FFN (E = 8 experts, k = 2, q8_0 experts, no shared expert)
 * at decode (T = 1) and prefill (T = 64), for a shape whose expert slices start at offsets the
 * device binds directly (D 256, F 512) and one whose slices do not (D 96, F 96: copied once, cached).
 * Routing is done once outside the timed call.
 */
export async function moeFfnRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  const [E, k] = [8, 2];
  const values = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 0.5);
  for (const [D, F] of [
    [256, 512],
    [96, 96],
  ] as const) {
    const expert = (shape: number[], f: number) =>
      e.tensor(quantize('q8_0', values(E * shape[0] * shape[1], f)), [E, ...shape], 'q8_0');
    const w = { gate: expert([F, D], 0.37), up: expert([F, D], 0.41), down: expert([D, F], 0.43) };
    for (const T of [1, 64]) {
      const x = e.tensor(values(T * D, 0.29), [T, D]);
      const logits = e.tensor(values(T * E, 1.7), [T, E]);
      const route = await e.moeRoute(logits, { scheme: 'mixtral', k });
      const timing = await gpuMedianMs(e, async () => (await e.moeFfn(x, route, w)).out, 5);
      rows.push([
        'moeFfn',
        `q8_0 E${E} k${k} D${D} F${F} T ${T}`,
        timing,
        (ms) => T / ms,
        'ktok/s',
        placement(e, 'moeFfn'),
      ]);
      for (const t of [x, logits, route.weights, route.experts]) t.dispose();
    }
    for (const t of [w.gate, w.up, w.down]) t.dispose();
  }
  return rows;
}

/** scan: T = 4096, D = 256, sequential and chunked, GB/s of a, b read and h written; read ms: h (4 MiB). */
async function scanRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const [T, D] = [4096, 256];
  const a = e.tensor(
    Float32Array.from({ length: T * D }, (_, i) => 0.9 + 0.1 * Math.sin(i)),
    [T, D],
  );
  const b = e.tensor(
    Float32Array.from({ length: T * D }, (_, i) => Math.cos(i * 0.3)),
    [T, D],
  );
  const rows: WebGpuRow[] = [];
  const bytes = 3 * T * D * 4;
  for (const method of ['sequential', 'chunked'] as const) {
    const timing = await gpuMedianMs(e, () => e.scan(a, b, null, { method }), 5);
    rows.push([
      'scan',
      `${method} T ${T} D ${D}`,
      timing,
      (ms) => bytes / (ms * 1e6),
      'GB/s',
      placement(e, 'scan'),
    ]);
  }
  for (const t of [a, b]) t.dispose();
  return rows;
}

/**
 * nn and attention: rmsNorm [64, 4096], rope (neox) [64, 32, 128], softmax [2048, 512] in GB/s of
 * f32 read and written; attention prefill (64 queries × 64 kv, 8 heads over 2 kv heads, head_dim
 * 64, causal) and decode (1 query × 2048 kv, 32 heads over 8, head_dim 128; the chunked path),
 * f16 K/V, in GFLOPS of the QKᵀ and PV products; read ms: each op's output.
 */
async function nnAttentionRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  const values = (n: number, f = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 * f));
  const bw = (bytes: number, ms: number) => bytes / (ms * 1e6);
  const x = e.tensor(values(64 * 4096), [64, 4096]);
  const w = e.tensor(values(4096, 3), [4096]);
  let timing = await gpuMedianMs(e, () => e.rmsNorm(x, w, { eps: 1e-5 }));
  rows.push([
    'nn',
    'rmsNorm 64×4096',
    timing,
    (ms) => bw(2 * 64 * 4096 * 4, ms),
    'GB/s',
    placement(e, 'rmsNorm'),
  ]);
  const r = e.reshape(x, [64, 32, 128]);
  const positions = Array.from({ length: 64 }, (_, i) => 100 + i);
  timing = await gpuMedianMs(e, () => e.rope(r, positions, { mode: 'neox' }));
  rows.push([
    'nn',
    'rope neox 64×32×128',
    timing,
    (ms) => bw(2 * 64 * 4096 * 4, ms),
    'GB/s',
    placement(e, 'rope'),
  ]);
  const sx = e.reshape(x, [512, 512]);
  timing = await gpuMedianMs(e, () => e.softmax(sx, { scale: 0.125 }));
  rows.push([
    'nn',
    'softmax 512×512',
    timing,
    (ms) => bw(2 * 512 * 512 * 4, ms),
    'GB/s',
    placement(e, 'softmax'),
  ]);
  for (const t of [x, w]) t.dispose();
  const half = (n: number, f: number) => new Uint8Array(Uint16Array.from(values(n, f), f32ToF16).buffer);
  for (const [name, nQ, nKv, nHead, nHeadKv, hd] of [
    ['prefill 64 q × 64 kv, hd 64', 64, 64, 8, 2, 64],
    ['decode 1 q × 2048 kv, hd 128', 1, 2048, 32, 8, 128],
  ] as const) {
    const q = e.tensor(values(nQ * nHead * hd), [nQ, nHead, hd]);
    const k = e.tensor(half(nKv * nHeadKv * hd, 2), [nKv, nHeadKv, hd], 'f16');
    const v = e.tensor(half(nKv * nHeadKv * hd, 5), [nKv, nHeadKv, hd], 'f16');
    timing = await gpuMedianMs(e, async () => (await e.attention(q, k, v)).out, 5);
    // Causal prefill sees about half of the kv positions on average.
    const pairs = nQ === 1 ? nKv : (nQ * (nQ + 1)) / 2 + nQ * (nKv - nQ);
    const flops = 4 * pairs * nHead * hd;
    rows.push(['attention', name, timing, (ms) => flops / (ms * 1e6), 'GFLOPS', placement(e, 'attention')]);
    for (const t of [q, k, v]) t.dispose();
  }
  return rows;
}

/**
 * gru: T = 32 steps at H = 64 and H = 256, f32 for every structure and int8 for dense and Monarch
 * (U quantized with max-abs scales, the state with s_h = 1/127), no b_h or h0; wall ms per call
 * (int8: with the NaN check's read of the codes; U is quantized and uploaded in the warm-up call
 * only), GPU ms per step (the call's dispatch times / T), read ms of h.
 */
export async function gruRows(e: WebGpuEngine): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  const T = 32;
  const values = (n: number, f: number, a: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * a);
  const state = Int8Quantizer.fromScales({ granularity: 'per-tensor', range: 'narrow' }, [1 / 127]);
  const cases: [GruStructure, boolean][] = [
    ['dense', false],
    ['dense', true],
    ['diagonal', false],
    ['monarch', false],
    ['monarch', true],
    ['butterfly', false],
  ];
  for (const H of [64, 256]) {
    const gx = e.tensor(values(T * 3 * H, 0.37, 2), [T, 3 * H]);
    for (const [kind, int8] of cases) {
      const arrays = Object.entries(gruShapes(kind, H)).map(([name, shape], k) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return [
          name,
          e.tensor(values(n, 0.41 + k, kind === 'dense' ? 1 / Math.sqrt(H) : 0.6), shape),
        ] as const;
      });
      const U = { kind, ...Object.fromEntries(arrays) } as GruWeights<ReturnType<WebGpuEngine['tensor']>>;
      const timing = await gpuMedianMs(
        e,
        async () => (await e.gru(gx, U, int8 ? { int8: { state } } : {})).h,
      );
      rows.push([
        'gru',
        `${kind}${int8 ? ' int8' : ''} H ${H} T ${T}`,
        timing,
        timing.gpuMs === null ? '—' : timing.gpuMs / T,
        'gpu ms/step',
        placement(e, 'gru'),
      ]);
      for (const [, t] of arrays) t.dispose();
    }
    gx.dispose();
  }
  return rows;
}

/** The sections, in order; each op family adds its own. */
const sections: ((e: WebGpuEngine) => Promise<WebGpuRow[]>)[] = [
  readbackRows,
  dequantRows,
  matmulRows,
  matmulF16Rows,
  moeRouteRows,
  moeFfnRows,
  scanRows,
  nnAttentionRows,
  gruRows,
];

export async function webgpuBench(): Promise<SuiteResult> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const e = await WebGpuEngine.create({ threads: 1 });
  try {
    const rows: WebGpuRow[] = [];
    // WEBGPU_SECTIONS=matmul,matmulF16 runs only those sections (their function names less 'Rows').
    const only = process.env.WEBGPU_SECTIONS?.split(',').map((n) => n.trim());
    for (const s of sections)
      if (!only || only.includes(s.name.replace(/Rows$/, ''))) rows.push(...(await s(e)));
    const d = e.device;
    return {
      suite: 'webgpu',
      notes: [
        `adapter: ${d.description}${d.software ? ' (software: a CPU Vulkan driver, figures say little about GPUs)' : ''}; shader-f16 ${d.f16 ? 'yes' : 'no'}, subgroups ${d.subgroups ? 'yes' : 'no'}`,
        'ms, gpu ms, read ms: medians over the same calls (after one warm-up), each call run with timestamps on; throughput is from ms, gpu throughput from gpu ms (what a GPU kernel achieves, against the device bandwidth)',
        'ms: wall time per call with the GPU queue drained (JS dispatch + submit + GPU work + wait; the timestamps add one query set and two writes per dispatch)',
        `gpu ms: the sum of that call's dispatch times from compute-pass timestamps (timestamp-query; ${e.host.ctx.canProfile ? 'on here' : 'not offered here: —'}); ms − gpu ms is JS dispatch, submit and queue wait. — where a call dispatches no kernel (a plain readback is a buffer copy)`,
        "read ms: read() of the call's outputs once its queue drained (copy to a mappable buffer, map, copy out), outside ms; — where the case returns no output (readback rows: the read is the call)",
        ...(d.software
          ? [
              "SwiftShader runs the 'GPU' on CPU threads and takes its timestamps from the CPU clock: gpu ms is CPU time spent in the kernels, not a GPU's",
            ]
          : []),
      ],
      header: [
        'section',
        'case',
        'ms',
        'gpu ms',
        'read ms',
        'throughput',
        'gpu throughput',
        'unit',
        'ran on',
      ],
      rows: rows.map(([section, name, t, throughput, unit, ran]) => [
        section,
        name,
        t.ms,
        t.gpuMs ?? '—',
        t.readMs ?? '—',
        typeof throughput === 'function' ? throughput(t.ms) : throughput,
        typeof throughput === 'function' && t.gpuMs !== null ? throughput(t.gpuMs) : '—',
        unit,
        ran,
      ]),
    };
  } finally {
    await e.dispose();
  }
}
