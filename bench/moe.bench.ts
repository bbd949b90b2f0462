/**
 * MoE routing throughput: the moe_route kernel on one thread (no pool, so the
 * figure is the kernel's own) for T = 1..4096 tokens, E = 8..256 experts,
 * k = 2..8, softmax routing (mixtral) and DeepSeek-V3's sigmoid + bias with
 * group-limited selection (8 groups, 4 kept). Beside it, the float64
 * reference (plain JS) where it finishes in reasonable time.
 */
import { referenceMoeRoute } from '../src/backends/reference/moe.js';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { moeRoute, moeRouteBytes, putMoeBias } from '../src/backends/wasm/moe.js';
import { type MoeRouteOptions, moeRoutePlan } from '../src/ops/moe-route.js';
import { measure, type SuiteResult } from './lib.js';

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
  return {
    suite: 'moe',
    notes: [
      `MoE routing, moe_route kernel, one thread, ${rt.build} build.`,
      'ns/token: time per call / T. Mtok/s: tokens routed per second (millions).',
      'ref×: how many times slower the float64 reference (plain JS) is, where measured (T·E ≤ 4096).',
    ],
    header: ['scheme', 'T', 'E', 'k', 'µs/call', 'ns/token', 'Mtok/s', 'ref×'],
    rows,
  };
}
