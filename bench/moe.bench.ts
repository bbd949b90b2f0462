/**
 * MoE routing throughput: the moe_route kernel on one thread (no pool, so the
 * figure is the kernel's own) for T = 1..4096 tokens, E = 8..256 experts,
 * k = 2..8, softmax routing (mixtral) and DeepSeek-V3's sigmoid + bias with
 * group-limited selection (8 groups, 4 kept). Beside it, the float64
 * reference (plain JS) where it finishes in reasonable time. Then one MoE
 * layer (q4_0 experts, exact and ggml numerics, decode and prefill token
 * counts) split into routing / dispatch / activation quantization / expert
 * matmuls / combine, with the share spent outside the expert matmuls, on one thread
 * and on a 2-thread pool. Last, decode tokens/s of a small MoE model beside a
 * dense model with the same active parameters.
 */
import { loadavg } from 'node:os';
import { referenceMoeRoute } from '../src/backends/reference/moe.js';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { finishMoeRoute, moeRoute, moeRouteBytes, putMoeBias } from '../src/backends/wasm/moe.js';
import {
  callingThread,
  type ExpertFfn,
  type KernelRunner,
  moeFfn,
  moeTimings,
  type QuantWeight,
} from '../src/backends/wasm/moe-dispatch.js';
import { createEngine, type Engine } from '../src/engine/engine.js';
import type { Numerics } from '../src/model/model.js';
import { argmax } from '../src/model/sampling.js';
import { type SyntheticModelSpec, syntheticModel } from '../src/model/synthetic.js';
import { type MoeRouteOptions, moeRoutePlan } from '../src/ops/moe-route.js';
import { quantize } from '../src/ops/quantize.js';
import { WorkerPool } from '../src/scheduler/pool.js';
import { measure, median, type SuiteResult, table } from './lib.js';

function input(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0 || 1;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = (((s >>> 8) / 2 ** 24) * 2 - 1) * scale;
  }
  return x;
}

const TOKENS = [1, 64, 1024, 4096];
const SHAPES: [number, number][] = [
  [8, 2],
  [64, 2],
  [64, 8],
  [256, 8],
];

export async function moeBench(): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const rows: (string | number)[][] = [];
  const cases: [string, (E: number, k: number) => MoeRouteOptions | null][] = [
    ['mixtral', (_E, k) => ({ scheme: 'mixtral', k })],
    [
      'deepseek-v3',
      (E, k) =>
        E >= 64
          ? { scheme: 'deepseek-v3', k, bias: input(E, 3, 0.05), nGroup: 8, topkGroup: 4, scale: 2.5 }
          : null,
    ],
  ];
  for (const [scheme, optsFor] of cases)
    for (const [E, k] of SHAPES) {
      const opts = optsFor(E, k);
      if (!opts) continue;
      for (const T of TOKENS) {
        const plan = moeRoutePlan(T, E, opts);
        const bytes = moeRouteBytes(plan);
        const logits = input(T * E, T + E + k, 4);
        const lp = rt.arena.alloc(logits.byteLength);
        rt.f32(lp, logits.length).set(logits);
        const p = {
          logits: lp,
          bias: putMoeBias(rt, plan),
          groupScores: bytes.groupScores ? rt.arena.alloc(bytes.groupScores) : 0,
          weights: rt.arena.alloc(bytes.weights),
          experts: rt.arena.alloc(bytes.experts),
        };
        const repeat = Math.max(1, Math.floor(4096 / T));
        const withRef = T * E <= 64 * 64;
        const m = await measure(
          [
            {
              name: 'wasm',
              repeat,
              fn: () => {
                for (let r = 0; r < repeat; r++) moeRoute(rt, plan, p);
              },
            },
            ...(withRef ? [{ name: 'reference', fn: () => void referenceMoeRoute(logits, T, E, opts) }] : []),
          ],
          150,
        );
        const s = m[0].seconds;
        rows.push([
          scheme,
          String(T),
          String(E),
          String(k),
          s * 1e6,
          (s / T) * 1e9,
          T / s / 1e6,
          withRef ? m[1].seconds / s : '-',
        ]);
        for (const ptr of Object.values(p)) if (ptr) rt.arena.release(ptr);
      }
    }
  const layer = await layerSplit(rt);
  const decode = await decodeComparison();
  return {
    suite: 'moe',
    notes: [
      `MoE routing, moe_route kernel, one thread, ${rt.build} build.`,
      'ns/token: time per call / T. Mtok/s: tokens routed per second (millions).',
      'ref×: how many times slower the float64 reference (plain JS) is, where measured (T·E ≤ 4096).',
      '',
      '',
      `MoE layer (q4_0 experts, qwen3-moe routing), ms per layer, median of ${LAYER_RUNS}: routing kernel, dispatch`,
      '(grouping, item plans, gathering rows), quantize (ggml: activations to q8_0), experts (every expert matmul',
      'with the fused SwiGLU), combine. overhead % = (routing + dispatch + combine) / total; the activation',
      'quantization counts with the matmuls, as in a dense ggml matmul. The router logits matmul gate_inp·x is',
      'not included: a dense matmul like any other.',
      table(layer.header, layer.rows),
      '',
      `Decode: ${DECODE} single-token passes after an 8-token prompt, median of 3 runs. MoE: synthetic qwen3moe,`,
      'n_embd 1024, 4 layers, 8 experts of 1024, 2 per token, q4_0; dense: the same qwen3 with n_ff 2048 (the same',
      'active parameters). Target: dense/MoE ≤ 1.3.',
      table(decode.header, decode.rows),
      `load average at the end: ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')} (the machine is shared)`,
    ],
    header: ['scheme', 'T', 'E', 'k', 'µs/call', 'ns/token', 'Mtok/s', 'ref×'],
    rows,
  };
}

const LAYERS: { E: number; k: number; D: number; F: number }[] = [
  { E: 32, k: 4, D: 1024, F: 512 },
  { E: 64, k: 8, D: 512, F: 256 },
];
const LAYER_TOKENS = [1, 64, 256, 512];
const LAYER_RUNS = 5;

function expertWeight(rt: WasmRuntime, E: number, N: number, K: number, seed: number): QuantWeight {
  const bytes = quantize('q4_0', input(E * N * K, seed, 0.5));
  const ptr = rt.arena.alloc(bytes.byteLength);
  rt.u8.set(bytes, ptr);
  return { type: 'q4_0', ptr, count: E, N, K };
}

/**
 * Times each part of one MoE layer (the routing kernel, then moeFfn's
 * timings) on the calling thread alone and over a 2-thread pool.
 */
async function layerSplit(rt: WasmRuntime): Promise<{ header: string[]; rows: (string | number)[][] }> {
  const rows: (string | number)[][] = [];
  const pool = await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory });
  const runners: KernelRunner[] = [callingThread(rt), pool];
  try {
    for (const { E, k, D, F } of LAYERS) {
      const ffn: ExpertFfn = {
        gate: expertWeight(rt, E, F, D, 1),
        up: expertWeight(rt, E, F, D, 2),
        down: expertWeight(rt, E, D, F, 3),
      };
      for (const runner of runners)
        for (const numerics of ['exact', 'ggml'] as const)
          for (const T of LAYER_TOKENS) {
            const plan = moeRoutePlan(T, E, { scheme: 'qwen3-moe', k });
            const bytes = moeRouteBytes(plan);
            const logits = input(T * E, 5 + T, 3);
            const lp = rt.arena.alloc(logits.byteLength);
            rt.f32(lp, logits.length).set(logits);
            const p = {
              logits: lp,
              bias: 0,
              groupScores: 0,
              weights: rt.arena.alloc(bytes.weights),
              experts: rt.arena.alloc(bytes.experts),
            };
            const x = rt.arena.alloc(T * D * 4);
            rt.f32(x, T * D).set(input(T * D, 9, 1));
            const out = rt.arena.alloc(T * D * 4);
            const parts: Record<string, number[]> = {
              routing: [],
              dispatch: [],
              quantize: [],
              experts: [],
              combine: [],
            };
            for (let r = 0; r <= LAYER_RUNS; r++) {
              const t0 = performance.now();
              moeRoute(rt, plan, p);
              const route = finishMoeRoute(rt, plan, p.weights, p.experts);
              const routing = performance.now() - t0;
              const tm = moeTimings();
              const dims = { tokens: T, dim: D, hidden: F };
              await moeFfn(rt, runner, x, route, k, ffn, out, dims, { numerics, timings: tm });
              if (r === 0) continue; // warm-up
              parts.routing.push(routing);
              for (const key of ['dispatch', 'quantize', 'experts', 'combine'] as const)
                parts[key].push(tm[key]);
            }
            const m = Object.fromEntries(Object.entries(parts).map(([key, v]) => [key, median(v)]));
            const total = m.routing + m.dispatch + m.quantize + m.experts + m.combine;
            const overhead = m.routing + m.dispatch + m.combine;
            rows.push([
              `E ${E} k ${k} D ${D} F ${F}`,
              String(runner.threads),
              numerics,
              String(T),
              total,
              m.routing,
              m.dispatch,
              m.quantize,
              m.experts,
              m.combine,
              (100 * overhead) / total,
            ]);
            for (const ptr of [lp, p.weights, p.experts, x, out]) rt.arena.release(ptr);
          }
      for (const w of [ffn.gate, ffn.up, ffn.down]) rt.arena.release(w.ptr);
    }
  } finally {
    await pool.dispose();
  }
  return {
    header: [
      'layer',
      'threads',
      'numerics',
      'T',
      'total ms',
      'routing',
      'dispatch',
      'quantize',
      'experts',
      'combine',
      'overhead %',
    ],
    rows,
  };
}

/** A small MoE model and a dense one with the same active parameters (attention identical, n_ff = k·n_ff_exp). */
const MOE_MODEL: SyntheticModelSpec = {
  arch: 'qwen3moe',
  nEmbd: 1024,
  nLayer: 4,
  nHead: 8,
  nHeadKv: 4,
  nFf: 2048,
  nVocab: 384,
  type: 'q4_0',
  moe: { nExpert: 8, nExpertUsed: 2, nFfExp: 1024 },
};
const DENSE_MODEL: SyntheticModelSpec = { ...MOE_MODEL, arch: 'qwen3', moe: undefined };
const DECODE = 32;

const generated = new Map<SyntheticModelSpec, Uint8Array>();
/** The GGUF bytes of a spec, written once. */
function modelBytes(spec: SyntheticModelSpec): Uint8Array {
  let b = generated.get(spec);
  if (!b) {
    b = syntheticModel(spec);
    generated.set(spec, b);
  }
  return b;
}

/** Decode tokens/s (median of 3 runs of DECODE single-token passes after an 8-token prompt). */
async function decodeRate(engine: Engine, spec: SyntheticModelSpec, numerics: Numerics): Promise<number> {
  const model = await engine.load(modelBytes(spec), { numerics, nCtx: 64 });
  try {
    const rates: number[] = [];
    for (let r = 0; r < 4; r++) {
      model.reset();
      let { logits } = await model.forward([1, 300, 301, 302, 303, 304, 305, 306]);
      const t0 = performance.now();
      for (let i = 0; i < DECODE; i++) ({ logits } = await model.forward([argmax(logits)]));
      if (r > 0) rates.push(DECODE / ((performance.now() - t0) / 1000));
    }
    return median(rates);
  } finally {
    model.dispose();
  }
}

async function decodeComparison(): Promise<{ header: string[]; rows: (string | number)[][] }> {
  const rows: (string | number)[][] = [];
  for (const threads of [1, 2]) {
    const engine = await createEngine({ backend: 'wasm', threads });
    try {
      for (const numerics of ['exact', 'ggml'] as const) {
        const dense = await decodeRate(engine, DENSE_MODEL, numerics);
        const moe = await decodeRate(engine, MOE_MODEL, numerics);
        rows.push([String(engine.threads), numerics, dense, moe, dense / moe]);
      }
    } finally {
      await engine.dispose();
    }
  }
  return { header: ['threads', 'numerics', 'dense tok/s', 'MoE tok/s', 'dense/MoE ×'], rows };
}
