/**
 * Replay of the mixture-of-experts stages: a clean wasm qwen3moe pass has no
 * fault in either numerics, a wrong routing is a fault of the routing stages
 * (moe_out, combining what it was given, follows from its inputs), a wrong
 * combine a fault of moe_out alone; WebGPU (Dawn) MoE traces replay clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceWeights } from '../../src/backends/reference/moe.js';
import { createEngine, type Engine, type MoeRouteTensors } from '../../src/engine/engine.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { moeRoutePlan } from '../../src/ops/moe-route.js';
import { type ReplayResult, replay } from '../../src/oracle/replay.js';
import { moeWeightsReplay } from '../../src/oracle/replay-moe.js';
import { encodeTrace } from '../../src/trace/trace-file.js';
import { capturePass, traceTensors } from '../helpers/faulty-engine.js';
import { MOE_MODELS } from '../helpers/moe-models.js';
import { webgpuEngine } from '../helpers/webgpu.js';

const TOKENS = [1, 5, 9, 3, 7, 11, 2];
const SPEC = { ...MOE_MODELS.qwen3moe, seed: 7 } as const;
// q8_0 experts, an f32 router (llama.cpp's default); and a q8_0 router (ggml: its logits at the q8 tier).
const QWEN3MOE = syntheticModel(SPEC);
const Q8_ROUTER = syntheticModel({ ...SPEC, types: { ffn_gate_inp: 'q8_0' } });
// Mixtral-style llama (q4_0 experts, q8_0 down) and Qwen2-MoE (f16 experts, a gated shared expert, no renormalization).
const MIXTRAL = syntheticModel({ ...MOE_MODELS.mixtral, seed: 8 });
const QWEN2MOE = syntheticModel({ ...MOE_MODELS.qwen2moe, seed: 9 });
const K = 2;
const MOE_STAGES = ['moe_router_logits', 'moe_weights', 'moe_experts', 'moe_out'];

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', threads: 2 });
});
afterAll(() => engine.dispose());
const gpu = await webgpuEngine();
afterAll(() => gpu?.dispose());

const verdicts = (r: ReplayResult, v: string) => r.stages.filter((s) => s.verdict === v).map((s) => s.name);
const row = (r: ReplayResult, name: string) => r.stages.find((s) => s.name === name);

/** The engine with op's first call (layer 0) replaced, everything else delegated untouched. */
function wrapFirst<Op extends 'moeRoute' | 'moeFfn'>(op: Op, replace: NonNullable<Engine[Op]>): Engine {
  let calls = 0;
  const wrapped = (...args: unknown[]) =>
    calls++ === 0
      ? (replace as (...a: unknown[]) => unknown)(...args)
      : (engine[op] as (...a: unknown[]) => unknown).apply(engine, args);
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === op) return wrapped;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('replay: MoE stages', () => {
  for (const [numerics, router, gguf] of [
    ['exact', 'f32', QWEN3MOE],
    ['ggml', 'f32', QWEN3MOE],
    ['ggml', 'q8_0', Q8_ROUTER],
  ] as const)
    it(`a clean wasm qwen3moe pass (${router} router) has no fault in ${numerics} numerics, every MoE stage replayed`, async () => {
      const { bytes } = await capturePass(engine, gguf, TOKENS, numerics);
      const r = await replay(gguf, bytes);
      expect(verdicts(r, 'fault')).toEqual([]);
      expect(verdicts(r, 'skipped')).toEqual([]);
      expect(r.firstFault).toBeNull();
      for (const l of [0, 1])
        for (const s of [...MOE_STAGES, 'layer_output']) {
          const x = row(r, `blk.${l}.${s}`);
          expect(x?.consistent, x?.name).toBe(true);
          expect(x?.boundRatio as number, x?.name).toBeLessThanOrEqual(1);
        }
      expect(row(r, 'blk.0.moe_router_logits')?.tier).toBe(router === 'q8_0' ? 'q8' : 'f32');
      expect(row(r, 'blk.1.layer_output')?.inputs).toEqual(['blk.1.attn_residual', 'blk.1.moe_out']);
    });

  for (const [name, gguf] of [
    ['mixtral', MIXTRAL],
    ['qwen2moe + shared expert', QWEN2MOE],
  ] as const)
    for (const numerics of ['exact', 'ggml'] as const)
      it(`a clean wasm ${name} pass has no fault in ${numerics} numerics`, async () => {
        const { bytes } = await capturePass(engine, gguf, TOKENS, numerics);
        const r = await replay(gguf, bytes, { reference: 'none' });
        expect(verdicts(r, 'fault')).toEqual([]);
        expect(verdicts(r, 'skipped')).toEqual([]);
        for (const s of r.stages.filter((x) => x.stage.startsWith('moe_')))
          expect(s.boundRatio as number, s.name).toBeLessThanOrEqual(1);
      });

  it('a trace marked webgpu is held to the larger of the CPU and WGSL bounds (ratios never above the CPU ones)', async () => {
    const { stages, meta } = await capturePass(engine, QWEN2MOE, TOKENS, 'exact');
    const cpu = await replay(QWEN2MOE, encodeTrace(traceTensors(stages), meta), { reference: 'none' });
    const gpu = await replay(QWEN2MOE, encodeTrace(traceTensors(stages), { ...meta, backend: 'webgpu' }), {
      reference: 'none',
    });
    expect(verdicts(gpu, 'fault')).toEqual([]);
    for (const s of gpu.stages.filter((x) => x.stage.startsWith('moe_'))) {
      const c = row(cpu, s.name);
      expect(s.boundRatio as number, s.name).toBeLessThanOrEqual(c?.boundRatio as number);
    }
  });

  it('a routing kernel that swaps the two experts of one token: moe_experts is the fault, moe_out follows', async () => {
    const wrong = wrapFirst('moeRoute', async (logits, opts) => {
      const r: MoeRouteTensors = await engine.moeRoute(logits, opts);
      const ids = await r.experts.read();
      const t = 3;
      [ids[t * K], ids[t * K + 1]] = [ids[t * K + 1], ids[t * K]];
      const shape = r.experts.shape;
      r.experts.dispose();
      return { ...r, experts: engine.tensor(ids, shape) };
    });
    const { bytes } = await capturePass(wrong, QWEN3MOE, TOKENS, 'exact');
    const r = await replay(QWEN3MOE, bytes);
    expect(r.firstFault?.name).toBe('blk.0.moe_experts');
    expect(verdicts(r, 'fault')).toEqual(['blk.0.moe_experts']);
    // Exactly the swapped token's two slots are off.
    const ex = row(r, 'blk.0.moe_experts');
    expect(ex?.firstExceeding).toBeGreaterThanOrEqual(3 * K * 64);
    expect(ex?.firstExceeding).toBeLessThan(4 * K * 64);
    expect(row(r, 'blk.0.moe_weights')?.consistent).toBe(true);
    expect(row(r, 'blk.0.moe_out')?.consistent).toBe(true);
  });

  it('a routing kernel that gives one token another expert: moe_weights and moe_experts are faults', async () => {
    const wrong = wrapFirst('moeRoute', async (logits, opts) => {
      const r: MoeRouteTensors = await engine.moeRoute(logits, opts);
      const ids = await r.experts.read();
      const t = 2;
      // An expert neither slot holds, with the second slot's weight kept: a wrong selection.
      let e = 0;
      while (e === ids[t * K] || e === ids[t * K + 1]) e++;
      ids[t * K + 1] = e;
      const w = await r.weights.read();
      w[t * K] = 0.75;
      w[t * K + 1] = 0.25;
      const [si, sw] = [r.experts.shape, r.weights.shape];
      r.experts.dispose();
      r.weights.dispose();
      return { ...r, experts: engine.tensor(ids, si), weights: engine.tensor(w, sw) };
    });
    const { bytes } = await capturePass(wrong, QWEN3MOE, TOKENS, 'exact');
    const r = await replay(QWEN3MOE, bytes);
    expect(r.firstFault?.name).toBe('blk.0.moe_weights');
    expect(verdicts(r, 'fault')).toEqual(['blk.0.moe_weights', 'blk.0.moe_experts']);
    expect(row(r, 'blk.0.moe_out')?.consistent).toBe(true);
  });

  it('an FFN kernel with one wrong output element: moe_out is the only fault', async () => {
    const ffn = engine.moeFfn as NonNullable<Engine['moeFfn']>;
    const wrong = wrapFirst('moeFfn', async (x, route, w, opts) => {
      const r = await ffn.call(engine, x, route, w, opts);
      const out = await r.out.read();
      out[4 * 64 + 17] *= 1.01;
      const shape = r.out.shape;
      r.out.dispose();
      return { ...r, out: engine.tensor(out, shape) };
    });
    const { bytes } = await capturePass(wrong, QWEN3MOE, TOKENS, 'ggml');
    const r = await replay(QWEN3MOE, bytes);
    expect(verdicts(r, 'fault')).toEqual(['blk.0.moe_out']);
    expect(row(r, 'blk.0.moe_out')?.firstExceeding).toBe(4 * 64 + 17);
    expect(row(r, 'blk.0.moe_experts')?.consistent).toBe(true);
    expect(row(r, 'blk.0.layer_output')?.consistent).toBe(true);
  });
});

describe('replay: MoE traces without moe_experts (moe_out from the experts of ffn_norm)', () => {
  const withoutSlots = (p: Awaited<ReturnType<typeof capturePass>>) =>
    encodeTrace(
      traceTensors(p.stages).filter((t) => !t.name.endsWith('.moe_experts')),
      p.meta,
    );

  for (const [name, gguf] of [
    ['qwen3moe', QWEN3MOE],
    ['qwen2moe + shared expert', QWEN2MOE],
  ] as const)
    for (const numerics of ['exact', 'ggml'] as const)
      it(`a clean wasm ${name} pass has no fault in ${numerics} numerics`, async () => {
        const r = await replay(gguf, withoutSlots(await capturePass(engine, gguf, TOKENS, numerics)), {
          reference: 'none',
        });
        expect(verdicts(r, 'fault')).toEqual([]);
        expect(verdicts(r, 'skipped')).toEqual([]);
        expect(row(r, 'blk.0.moe_out')?.inputs).toEqual([
          'blk.0.ffn_norm',
          'blk.0.moe_weights',
          'blk.0.moe_router_logits',
        ]);
      });

  it('one wrong FFN output element is a fault of moe_out', async () => {
    const ffn = engine.moeFfn as NonNullable<Engine['moeFfn']>;
    const wrong = wrapFirst('moeFfn', async (x, route, w, opts) => {
      const r = await ffn.call(engine, x, route, w, opts);
      const out = await r.out.read();
      out[2 * 64 + 40] *= 1.01;
      const shape = r.out.shape;
      r.out.dispose();
      return { ...r, out: engine.tensor(out, shape) };
    });
    const r = await replay(QWEN3MOE, withoutSlots(await capturePass(wrong, QWEN3MOE, TOKENS, 'exact')));
    expect(verdicts(r, 'fault')).toEqual(['blk.0.moe_out']);
    expect(row(r, 'blk.0.moe_out')?.firstExceeding).toBe(2 * 64 + 40);
  });
});

describe.skipIf(!gpu)('replay of WebGPU MoE traces', () => {
  for (const [name, gguf] of [
    ['qwen3moe', QWEN3MOE],
    ['qwen2moe + shared expert', QWEN2MOE],
  ] as const)
    for (const numerics of ['exact', 'ggml'] as const)
      it(`${name}, ${numerics} numerics: every stage (MoE included) follows from its inputs`, async () => {
        const { bytes } = await capturePass(gpu!, gguf, TOKENS, numerics);
        const r = await replay(gguf, bytes, { reference: 'none' });
        expect(r.candidate.backend).toMatch(/webgpu/);
        const bad = r.stages
          .filter((s) => s.verdict !== 'ok')
          .map((s) => `${s.name}: ${s.verdict} ${s.reason}`);
        expect(bad).toEqual([]);
      });
});

describe('moeWeightsReplay: selections near a tie', () => {
  // Sigmoid routing (deepseek-v3): experts 1 and 2 one f32 ulp of logit apart, within the kernel's
  // selection error of a tie; expert 3 clearly worse. Token 1 has no tie.
  const E = 4;
  const logits = Float32Array.of(2, 1, 1 + 2 ** -23, -1, 0.5, 3, -2, 1.5);
  const opts = { scheme: 'deepseek-v3', k: 2 } as const;
  const plan = moeRoutePlan(2, E, opts);
  const row = Array.from(logits.subarray(0, E));
  const within = (w: ArrayLike<number>, r: ReturnType<typeof moeWeightsReplay>) =>
    Array.from(w, (v, i) => Math.abs(v - r.y[i]) <= r.kernelBound[i]);

  it('admits the near-tied expert (with its own weights), not the clearly worse one', async () => {
    const r = moeWeightsReplay(logits, E, opts, 'cpu');
    expect(r.selections[0][0]).toEqual([0, 2]);
    expect(r.selections[0].slice(1)).toContainEqual([0, 1]);
    expect(r.selections[1]).toHaveLength(1);
    const tail = Array.from(r.y.subarray(2));
    const other = Float32Array.from([...referenceWeights(row, plan, [0, 1]), ...tail]);
    expect(within(other, r)).toEqual([true, true, true, true]);
    const worse = Float32Array.from([...referenceWeights(row, plan, [0, 3]), ...tail]);
    expect(within(worse, r)).toEqual([false, false, true, true]);
  });

  it('the wasm routing kernel on these logits is within the bound, whichever tied expert it picks', async () => {
    const route = await engine.moeRoute(engine.tensor(logits, [2, E]), opts);
    const w = await route.weights.read();
    const r = moeWeightsReplay(logits, E, opts, 'cpu');
    expect(within(w, r)).toEqual([true, true, true, true]);
    route.weights.dispose();
    route.experts.dispose();
  });

  it('a softmax scheme admits no other selection', () => {
    const r = moeWeightsReplay(logits, E, { scheme: 'qwen3-moe', k: 2 }, 'cpu');
    expect(r.selections.map((s) => s.length)).toEqual([1, 1]);
  });
});
