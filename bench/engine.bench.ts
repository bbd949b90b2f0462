/**
 * The engine end to end (tensors resident, ops split over the worker pool):
 * 1 vs 2 threads for the f32 GEMM (1024³) and for the decode matvecs the
 * issue names (Q4_K, Q8_0, Q6_K; 1×4096×4096 and 1×4096×11008) in both
 * numerics, plus prefill M = 64. Per-kernel comparisons with the peers are in
 * the matmul-peers, matmul-quant and matmul-ggml suites.
 */
import { createEngine, type Engine } from '../src/engine/engine.js';
import type { Tensor } from '../src/engine/tensor.js';
import type { MatmulNumerics } from '../src/ops/matmul.js';
import { quantize } from '../src/ops/quantize.js';
import { measure, type SuiteResult } from './lib.js';
import { randomF32 } from './peers/common.js';

interface Case {
  label: string;
  type: string;
  M: number;
  N: number;
  K: number;
  numerics: MatmulNumerics;
}

const CASES: Case[] = [
  { label: 'f32 GEMM 1024³', type: 'f32', M: 1024, N: 1024, K: 1024, numerics: 'exact' },
  ...['q4_K', 'q8_0', 'q6_K'].flatMap((type) =>
    [4096, 11008].flatMap((N) =>
      (['exact', 'ggml'] as const).map((numerics) => ({
        label: `${type} 1×4096×${N}`,
        type,
        M: 1,
        N,
        K: 4096,
        numerics,
      })),
    ),
  ),
  ...(['exact', 'ggml'] as const).map((numerics) => ({
    label: 'q4_K prefill 64×4096×4096',
    type: 'q4_K',
    M: 64,
    N: 4096,
    K: 4096,
    numerics,
  })),
];

async function time(e: Engine, c: Case, w: Tensor, x: Tensor): Promise<number> {
  const [r] = await measure(
    [
      {
        name: c.label,
        fn: async () => {
          (await e.matmul(x, w, { numerics: c.numerics })).dispose();
        },
      },
    ],
    c.M * c.N * c.K > 1e9 ? 1500 : 600,
  );
  return r.seconds;
}

export async function engineBench(): Promise<SuiteResult> {
  const engines = [
    await createEngine({ backend: 'wasm', threads: 1 }),
    await createEngine({ backend: 'wasm', threads: 2 }),
  ];
  const rows: (string | number)[][] = [];
  const weights = new Map<string, Uint8Array>();
  for (const c of CASES) {
    const key = `${c.type}/${c.N}/${c.K}`;
    let bytes = weights.get(key);
    if (!bytes) {
      const wv = randomF32(c.N * c.K, 7);
      bytes = c.type === 'f32' ? new Uint8Array(wv.buffer) : quantize(c.type, wv);
      weights.set(key, bytes);
    }
    const secs: number[] = [];
    for (const e of engines) {
      const w = e.tensor(bytes, [c.N, c.K], c.type);
      const x = e.tensor(randomF32(c.M * c.K, 3), [c.M, c.K]);
      secs.push(await time(e, c, w, x));
      w.dispose();
      x.dispose();
    }
    const flops = 2 * c.M * c.N * c.K;
    const weightGB = bytes.length / 1e9;
    rows.push([
      c.label,
      c.numerics,
      secs[0] * 1e3,
      secs[1] * 1e3,
      secs[0] / secs[1],
      flops / secs[1] / 1e9,
      weightGB / secs[1],
    ]);
  }
  const backend = engines[0].backend;
  for (const e of engines) await e.dispose();
  return {
    suite: 'engine',
    notes: [
      `engine.matmul on ${backend}, tensors resident; ms per call (median), 1 and 2 threads (the calling thread + 1 worker).`,
      'Targets (issue #3): f32 1024³ on 2 threads >= 1.85x 1 thread.',
    ],
    header: ['case', 'numerics', 'ms 1T', 'ms 2T', '2T speedup', 'GFLOPS 2T', 'weight GB/s 2T'],
    rows,
  };
}
