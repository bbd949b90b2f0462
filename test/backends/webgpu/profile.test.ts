import { afterAll, describe, expect, it, vi } from 'vitest';
import { requestGpuAdapter } from '../../../src/backends/webgpu/adapter.js';
import { GpuContext, type GpuTime } from '../../../src/backends/webgpu/context.js';
import type { WebGpuEngine } from '../../../src/backends/webgpu/engine.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import type { GruStructure } from '../../../src/ops/gru.js';
import { Int8Quantizer } from '../../../src/ops/int8-quantizer.js';
import { quantize } from '../../../src/ops/quantize.js';
import { GGML_TYPE_NAMES } from '../../../src/types/ggml-types.js';
import { f32ToBf16, f32ToF16 } from '../../../src/types/half.js';
import { gruWeightTensors, randomRecurrence } from '../../helpers/gru-cases.js';
import { expertSliceCases, expertSliceWeights, moeFfnWeights } from '../../helpers/moe-ffn-cases.js';
import { webgpuEngine } from '../../helpers/webgpu.js';
import { TINY_LLAMA, TINY_MOE } from '../../helpers/webgpu-models.js';
import { load, syntheticBytes } from '../../model/helpers.js';
import { uniform } from '../wasm/nn-helpers.js';

const gpu = await webgpuEngine();
/** The engine of matmulPrecision 'f16' (its matmuls round x and W to f16 operands). */
const gpu16 = await webgpuEngine({ matmulPrecision: 'f16' });
afterAll(async () => {
  await gpu?.dispose(); // both suites share the engine
  await gpu16?.dispose();
});

/** x [8, 64], w [32, 64] and an rmsNorm weight [32]: small deterministic operands. */
function operands(e: WebGpuEngine) {
  const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  return {
    x: e.tensor(
      values(8 * 64, (i) => Math.sin(i * 0.37)),
      [8, 64],
    ),
    w: e.tensor(
      values(32 * 64, (i) => Math.cos(i * 0.11)),
      [32, 64],
    ),
    g: e.tensor(
      values(32, (i) => 1 + i / 32),
      [32],
    ),
  };
}

/** The output bytes of matmul then rmsNorm of the product. */
async function matmulThenNorm(e: WebGpuEngine): Promise<Uint8Array[]> {
  const { x, w, g } = operands(e);
  const y = await e.matmul(x, w);
  const n = await e.rmsNorm(y, g, { eps: 1e-5 });
  const bytes = [await y.readBytes(), await n.readBytes()];
  for (const t of [x, w, g, y, n]) t.dispose();
  return bytes;
}

describe.skipIf(!gpu)('WebGPU timestamp profiling', () => {
  const e = gpu!;
  const ctx = e.host.ctx;

  it('times each dispatch of matmul and rmsNorm within the wall time of its op', async () => {
    expect(ctx.canProfile).toBe(true); // SwiftShader (CI) offers timestamp-query
    expect(ctx.profile(true)).toBe(true);
    // One op at a time, so each op's intervals can be held against its own wall time.
    const { x, w, g } = operands(e);
    await ctx.finish();
    await ctx.gpuTimes(); // nothing recorded before this point counts
    let t0 = performance.now();
    const y = await e.matmul(x, w);
    await ctx.finish();
    const matmulNs = (performance.now() - t0) * 1e6;
    const matmulTimes = (await ctx.gpuTimes())!;
    t0 = performance.now();
    const n = await e.rmsNorm(y, g, { eps: 1e-5 });
    await ctx.finish();
    const normNs = (performance.now() - t0) * 1e6;
    const normTimes = (await ctx.gpuTimes())!;
    ctx.profile(false);
    expect(matmulTimes.length).toBeGreaterThanOrEqual(1);
    expect(normTimes.length).toBeGreaterThanOrEqual(1);
    expect(matmulTimes.length + normTimes.length).toBeGreaterThanOrEqual(2);
    for (const [times, wallNs] of [
      [matmulTimes, matmulNs],
      [normTimes, normNs],
    ] as const) {
      let sum = 0;
      for (const t of times) {
        expect(Number.isFinite(t.ns)).toBe(true);
        expect(t.ns).toBeGreaterThanOrEqual(0);
        expect(t.ns).toBeLessThanOrEqual(wallNs);
        sum += t.ns;
      }
      expect(sum).toBeLessThanOrEqual(wallNs); // one op's dispatches run one after another on the queue
    }
    // Labels: the kernels' leading `// name` comments.
    expect(matmulTimes.map((t) => t.label).join()).toMatch(/matmul/);
    expect(normTimes.map((t) => t.label).join()).toMatch(/rms/);
    for (const t of [...matmulTimes, ...normTimes]) expect(t.label.length).toBeGreaterThan(0);
    for (const t of [x, w, g, y, n]) t.dispose();
  });

  it('takes an explicit label and reads each interval once', async () => {
    ctx.profile(true);
    const out = ctx.buffer(16, 'profile test output');
    const code = `@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(4) fn main(@builtin(local_invocation_index) i: u32) { out[i] = params[0] + i; }`;
    ctx.run(code, [7], [out], 1, 'fill');
    ctx.run(code, [9], [out], 1);
    const times = (await ctx.gpuTimes())!;
    expect(times.map((t) => t.label)).toEqual(['fill', 'main']); // no leading comment: the entry point
    expect(await ctx.gpuTimes()).toEqual([]);
    ctx.profile(false);
    expect(new Uint32Array((await ctx.read(out, 16)).buffer)).toEqual(new Uint32Array([9, 10, 11, 12]));
    out.destroy();
  });

  it('keeps more dispatches than one query set holds', async () => {
    ctx.profile(true);
    const out = ctx.buffer(4, 'profile test output');
    const code = `// count
@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() { out[0] = out[0] + params[0]; }`;
    for (let i = 0; i < 300; i++) ctx.run(code, [1], [out], 1);
    const times = (await ctx.gpuTimes())!;
    ctx.profile(false);
    expect(times.length).toBe(300);
    expect(times.every((t) => t.label === 'count' && t.ns >= 0)).toBe(true);
    expect(new Uint32Array((await ctx.read(out, 4)).buffer)[0]).toBe(300);
    out.destroy();
  });

  it('creates no query set when off, and computes the same bits as with profiling on', async () => {
    const spy = vi.spyOn(ctx.device, 'createQuerySet');
    try {
      expect(ctx.profile(false)).toBe(false);
      const off = await matmulThenNorm(e);
      expect(spy).not.toHaveBeenCalled();
      expect(await ctx.gpuTimes()).toEqual([]); // available, nothing recorded
      ctx.profile(true);
      const on = await matmulThenNorm(e);
      expect(spy).toHaveBeenCalled();
      expect((await ctx.gpuTimes())!.length).toBeGreaterThanOrEqual(2);
      ctx.profile(false);
      expect(on).toEqual(off);
    } finally {
      spy.mockRestore();
    }
  });

  it('says unavailable (null) on a device without timestamp-query, and never throws', async () => {
    // A real adapter that does not offer the feature, as one without it would (the device is real).
    const found = await requestGpuAdapter();
    const { adapter } = found;
    const hidden = {
      features: new Set([...adapter.features].filter((f) => f !== 'timestamp-query')),
      limits: adapter.limits,
      info: adapter.info,
      requestDevice: (d?: GPUDeviceDescriptor) => adapter.requestDevice(d),
    } as unknown as GPUAdapter;
    const bare = await GpuContext.create({ ...found, adapter: hidden });
    try {
      expect(bare.canProfile).toBe(false);
      expect(bare.profile(true)).toBe(false);
      const out = bare.buffer(4, 'profile test output');
      bare.run(
        `@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() { out[0] = params[0]; }`,
        [5],
        [out],
        1,
      );
      expect(await bare.gpuTimes()).toBeNull();
      expect(new Uint32Array((await bare.read(out, 4)).buffer)[0]).toBe(5);
    } finally {
      bare.destroy();
    }
  });
});

/** GPU tensors a call returned (the tensor itself, or the tensors among an object's values). */
function tensorsOf(result: unknown): Tensor[] {
  const isTensor = (v: unknown): v is Tensor => typeof (v as Tensor | null)?.dispose === 'function';
  if (isTensor(result)) return [result];
  if (result && typeof result === 'object') return Object.values(result).filter(isTensor);
  return [];
}

/**
 * One engine call, and the labels its dispatches carry in a profile: the distinct labels, exactly
 * (each names the op and its variant, from the kernel's leading comment).
 */
interface LabelCase {
  name: string;
  labels: string[];
  call: (e: WebGpuEngine) => Promise<unknown>;
  /** Run on the engine of matmulPrecision 'f16' (default: the f32 one). */
  f16Operands?: boolean;
}

const ACT = '(matmul ggml activations)';

/**
 * Every kernel family: dequant of every type, matmul's paths (f16 operands too: `storage` is their
 * labels' suffix, ' (f16 storage)' where the halves are stored as f16), nn, attention, KV cache, MoE,
 * scan, gru.
 */
function labelCases(storage: string): LabelCase[] {
  const cases: LabelCase[] = [];
  const x = (e: WebGpuEngine, shape: number[], seed: number, scale = 1) =>
    e.tensor(
      uniform(
        shape.reduce((a, b) => a * b, 1),
        seed,
        scale,
      ),
      shape,
    );
  const typed = (e: WebGpuEngine, type: string, shape: number[], seed: number) => {
    const v = uniform(
      shape.reduce((a, b) => a * b, 1),
      seed,
      0.5,
    );
    if (type === 'f16') return e.tensor(new Uint8Array(Uint16Array.from(v, f32ToF16).buffer), shape, type);
    if (type === 'bf16') return e.tensor(new Uint8Array(Uint16Array.from(v, f32ToBf16).buffer), shape, type);
    return e.tensor(quantize(type, v), shape, type);
  };
  for (const type of GGML_TYPE_NAMES)
    if (type !== 'f32')
      // read() of f32 is a buffer copy: no dispatch
      cases.push({
        name: `read ${type}`,
        labels: [`dequant ${type}`],
        call: (e) => typed(e, type, [256], 1).read(),
      });
  cases.push(
    {
      name: 'embedding q4_K',
      labels: ['embedding q4_K'],
      call: (e) => e.embedding(typed(e, 'q4_K', [4, 256], 2), [2, 0, 3]),
    },
    {
      name: 'matmul f32 M 2',
      labels: ['matmul matvec f32'],
      call: (e) => e.matmul(x(e, [2, 64], 3), x(e, [16, 64], 4)),
    },
    {
      name: 'matmul f32 M 16',
      labels: ['matmul tiled f32'],
      call: (e) => e.matmul(x(e, [16, 64], 3), x(e, [16, 64], 4)),
    },
    {
      name: 'matmul q4_K exact',
      labels: ['matmul matvec q4_K'],
      call: (e) => e.matmul(x(e, [1, 256], 5), typed(e, 'q4_K', [8, 256], 6)),
    },
  );
  for (const [name, M, w, type] of [
    ['M 2', 2, [16, 64], 'f32'],
    ['M 16', 16, [16, 64], 'f32'],
    ['M 1 q4_K', 1, [8, 256], 'q4_K'],
  ] as const)
    cases.push({
      name: `matmul f16 operands ${name}`,
      // The matvec takes x rounded by its own kernel; the tiled kernel rounds x as it stages its tiles.
      labels:
        M > 8
          ? [`matmul tiled ${type} f16 operands${storage}`]
          : [`matmul round x f16${storage}`, `matmul matvec ${type} f16 operands${storage}`],
      call: (e) => e.matmul(x(e, [M, w[1]], 3), type === 'f32' ? x(e, [...w], 4) : typed(e, type, [...w], 4)),
      f16Operands: true,
    });
  for (const [type, act] of [
    ['q4_K', 'q8_K'],
    ['q4_0', 'q8_0'],
    ['q4_1', 'q8_1'],
  ] as const)
    cases.push({
      name: `matmul ${type} ggml`,
      labels: [`quantize ${act} ${ACT}`, `matmul ggml ${type} · ${act}`],
      call: (e) => e.matmul(x(e, [2, 256], 7), typed(e, type, [8, 256], 8), { numerics: 'ggml' }),
    });
  for (const type of ['f16', 'bf16'] as const)
    cases.push({
      name: `matmul ${type} ggml`,
      labels: [`round to ${type} ${ACT}`, `matmul matvec ${type}`],
      call: (e) => e.matmul(x(e, [2, 64], 9), typed(e, type, [8, 64], 10), { numerics: 'ggml' }),
    });
  cases.push(
    {
      name: 'rmsNorm',
      labels: ['rmsNorm w=true'],
      call: (e) => e.rmsNorm(x(e, [4, 32], 11), x(e, [32], 12), { eps: 1e-5 }),
    },
    {
      name: 'layerNorm',
      labels: ['layerNorm w=true b=true'],
      call: (e) => e.layerNorm(x(e, [4, 32], 11), x(e, [32], 12), x(e, [32], 13), { eps: 1e-5 }),
    },
    {
      name: 'rope neox',
      labels: ['rope neox ff=false'],
      call: (e) => e.rope(x(e, [3, 2, 16], 14), [0, 1, 2], { mode: 'neox' }),
    },
    {
      name: 'softmax mask',
      labels: ['softmax mask=true'],
      call: (e) => e.softmax(x(e, [4, 16], 15), { mask: x(e, [4, 16], 16) }),
    },
    { name: 'silu', labels: ['silu'], call: (e) => e.silu(x(e, [40], 17)) },
    { name: 'gelu', labels: ['gelu'], call: (e) => e.gelu(x(e, [40], 17)) },
    { name: 'gelu erf', labels: ['geluErf'], call: (e) => e.gelu(x(e, [40], 17), { approximate: 'erf' }) },
    { name: 'swiglu', labels: ['swiglu'], call: (e) => e.swiglu(x(e, [40], 18), x(e, [40], 19)) },
    { name: 'add', labels: ['add'], call: (e) => e.add(x(e, [40], 18), x(e, [40], 19)) },
    {
      name: 'attention prefill, scores and softmax',
      labels: ['attention partial f16=false final=true', 'attention scores f16=false', 'attention softmax'],
      call: (e) =>
        e.attention(x(e, [3, 4, 16], 20), x(e, [3, 2, 16], 21), x(e, [3, 2, 16], 22), {
          scores: true,
          softmax: true,
        }),
    },
    {
      name: 'attention decode, f16 K/V over two chunks',
      labels: ['attention partial f16=true final=false', 'attention combine'],
      call: (e) =>
        e.attention(
          x(e, [1, 4, 16], 23),
          typed(e, 'f16', [300, 2, 16], 24),
          typed(e, 'f16', [300, 2, 16], 25),
        ),
    },
    {
      name: 'kvWrite f16',
      labels: ['kv write f16'],
      call: async (e) => {
        const cache = e.kvCache({ nLayer: 1, nCtx: 8, nHeadKv: 2, headDim: 16, type: 'f16' });
        await e.kvWrite(cache, 0, 0, x(e, [3, 2, 16], 26), x(e, [3, 2, 16], 27));
      },
    },
    {
      name: 'moeRoute mixtral',
      labels: ['moe route (workgroup 8)'],
      call: (e) => e.moeRoute(x(e, [4, 8], 28, 3), { scheme: 'mixtral', k: 2 }),
    },
    {
      name: 'moeRoute deepseek-v3',
      labels: ['moe sigmoid selection values', 'moe route (workgroup 16)'],
      call: (e) =>
        e.moeRoute(x(e, [4, 16], 29, 3), {
          scheme: 'deepseek-v3',
          k: 4,
          nGroup: 4,
          topkGroup: 2,
          scale: 2.5,
        }),
    },
    {
      name: 'moeRoute switch',
      labels: ['moe route (workgroup 8)', 'moe switch capacity'],
      call: (e) => e.moeRoute(x(e, [4, 8], 30, 3), { scheme: 'switch', k: 1, capacityFactor: 1 }),
    },
    {
      name: 'moeFfn mixtral f32',
      labels: ['moe route (workgroup 4)', 'moe gather', 'matmul matvec f32', 'swiglu', 'moe combine'],
      call: async (e) => {
        const { w } = moeFfnWeights(e, 'f32', false, { E: 4, D: 16, F: 32, Fs: 16 });
        const xs = x(e, [2, 16], 31);
        return e.moeFfn(xs, await e.moeRoute(x(e, [2, 4], 32, 3), { scheme: 'mixtral', k: 2 }), w);
      },
    },
    {
      name: 'moeFfn, q4_0 experts starting mid-word (copied by the byte-copy kernel)',
      labels: [
        'moe route (workgroup 4)',
        'byte copy',
        'moe gather',
        'matmul matvec q4_0',
        'matmul matvec f16',
        'swiglu',
        'moe combine',
      ],
      call: async (e) => {
        const c = expertSliceCases.find((s) => s.types[0] === 'q4_0')!;
        const { w } = expertSliceWeights(e, c, 4);
        const route = await e.moeRoute(x(e, [2, 4], 32, 3), { scheme: 'mixtral', k: 2 });
        return e.moeFfn(x(e, [2, c.D], 31), route, w);
      },
    },
    {
      name: 'scan sequential',
      labels: ['scan sequential'],
      call: (e) => e.scan(x(e, [64, 8], 33, 0.9), x(e, [64, 8], 34), null, { method: 'sequential' }),
    },
    {
      name: 'scan chunked',
      labels: ['scan chunk reduce', 'scan chunk carry', 'scan chunk apply'],
      call: (e) => e.scan(x(e, [64, 8], 33, 0.9), x(e, [64, 8], 34), null, { method: 'chunked' }),
    },
  );
  // Each step: the products before the last, then the step kernel (the last product stage fused with the gates).
  const gruKernels: Record<GruStructure, [number, string[]]> = {
    dense: [8, ['step dense']],
    diagonal: [8, ['step diagonal']],
    monarch: [9, ['monarch 1', 'step monarch']],
    butterfly: [8, ['butterfly', 'step butterfly']],
  };
  const state = Int8Quantizer.fromScales({ granularity: 'per-tensor', range: 'narrow' }, [1 / 127]);
  for (const [kind, [H, kernels]] of Object.entries(gruKernels) as [GruStructure, [number, string[]]][])
    for (const int8 of [false, true])
      cases.push({
        name: `gru ${kind}${int8 ? ' int8' : ''}`,
        labels: kernels.map((k) => `gru ${k}${int8 ? ' int8' : ''}`),
        call: (e) =>
          e.gru(
            x(e, [3, 3 * H], 36),
            gruWeightTensors(e, randomRecurrence(kind, H, 35, 0.3)),
            int8 ? { int8: { state } } : {},
          ),
      });
  return cases;
}

describe.skipIf(!gpu || !gpu16)('WebGPU profile labels', () => {
  const e = gpu!;

  /** fn's dispatches (run() calls) on `engine` and its profile, read after it. */
  async function profiled(
    engine: WebGpuEngine,
    fn: () => Promise<unknown>,
  ): Promise<{ dispatches: number; times: GpuTime[] }> {
    const { ctx } = engine.host;
    await ctx.finish();
    const runs = vi.spyOn(ctx, 'run');
    try {
      expect(ctx.profile(true)).toBe(true);
      await ctx.gpuTimes(); // nothing before fn counts
      for (const t of tensorsOf(await fn())) t.dispose();
      return { dispatches: runs.mock.calls.length, times: (await ctx.gpuTimes())! };
    } finally {
      ctx.profile(false);
      runs.mockRestore();
    }
  }

  /** A label names the op and its variant: never empty, never the bare entry point. */
  function expectNamed(times: GpuTime[], where: string): void {
    for (const t of times) {
      expect(t.label.trim(), where).not.toBe('');
      expect(t.label, where).not.toBe('main');
    }
  }

  /** Calls of `engine` that fell back to the CPU engine so far, all ops. */
  const cpuCalls = (engine: WebGpuEngine) =>
    Object.values(engine.opReport()).reduce((sum, r) => sum + r.cpu, 0);

  const storage = gpu16?.host.matmulOperands().halfStorage ? ' (f16 storage)' : '';
  it.each(labelCases(storage).map((c) => [c.name, c]))(
    '%s: one labelled interval per dispatch',
    async (_, c) => {
      const engine = c.f16Operands ? gpu16! : e;
      const cpu = cpuCalls(engine);
      const { dispatches, times } = await profiled(engine, () => c.call(engine));
      expect(cpuCalls(engine)).toBe(cpu); // every part of the call ran on the GPU
      expect(dispatches).toBeGreaterThan(0);
      expect(times.length).toBe(dispatches);
      expectNamed(times, c.name);
      expect([...new Set(times.map((t) => t.label))].sort()).toEqual([...c.labels].sort());
    },
  );

  it('a model forward (qwen3moe, prompt then a decode step): every dispatch labelled by its op', async () => {
    const model = await load(e, syntheticBytes({ ...TINY_LLAMA, arch: 'qwen3moe', moe: TINY_MOE }));
    try {
      const prompt = model.tokenizer!.encode('the of and to in is');
      for (const tokens of [prompt, [5]]) {
        const { dispatches, times } = await profiled(e, () => model.forward(tokens));
        expect(times.length).toBe(dispatches);
        expectNamed(times, `forward of ${tokens.length} tokens`);
        const ops = new Set(times.map((t) => t.label.split(' ')[0]));
        for (const op of ['embedding', 'rmsNorm', 'matmul', 'rope', 'attention', 'moe', 'swiglu', 'add'])
          expect(ops, `forward of ${tokens.length} tokens`).toContain(op);
      }
    } finally {
      model.dispose();
    }
  });
});
