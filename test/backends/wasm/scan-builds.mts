/**
 * Child-process check for scan-builds.test.ts (run with
 * `node --experimental-wasm-relaxed-simd --import tsx`): runs the scan and GRU
 * kernels in the SIMD128 and the relaxed-SIMD builds on the same inputs and
 * prints, as JSON, whether their outputs are the same bits.
 */
import {
  gruGates,
  gruMatvec,
  gruMatvecScratchBytes,
  gruScanI8,
  gruScanI8ScratchBytes,
  type WasmInt8Recurrence,
  type WasmRecurrence,
} from '../../../src/backends/wasm/gru.js';
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import {
  scanChunkApply,
  scanChunkCarry,
  scanChunkReduce,
  scanChunkScratchBytes,
  scanChunks,
  scanLinear,
} from '../../../src/backends/wasm/scan.js';
import { GRU_STRUCTURES, recurrenceLayout } from '../../../src/ops/gru.js';

const builds = [
  await WasmRuntime.create(await compileKernels(['wasm-simd'])),
  await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd'])),
];

function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  });
}

function put(rt: WasmRuntime, v: Float32Array): number {
  const p = rt.arena.alloc(v.byteLength);
  rt.f32(p, v.length).set(v);
  return p;
}

/** Runs `body` in a build; returns the output's bits. */
type Body = (rt: WasmRuntime, p: (v: Float32Array) => number, out: number) => void;
function bits(rt: WasmRuntime, n: number, body: Body): Uint32Array {
  const out = rt.arena.alloc(n * 4);
  body(rt, (v) => put(rt, v), out);
  return new Uint32Array(rt.f32(out, n).slice().buffer);
}

const cases: { kernel: string; n: number; body: Body }[] = [];
const [T, D] = [70, 13];
const a = values(T * D, 1, 0.9, 1);
const b = values(T * D, 2);
const h0 = values(D, 3);
cases.push({
  kernel: 'scan_linear',
  n: T * D,
  body: (rt, p, h) => scanLinear(rt, p(a), p(b), p(h0), h, T, D),
});
cases.push({
  kernel: 'scan_chunk_*',
  n: T * D,
  body: (rt, p, h) => {
    const L = 16;
    const P = rt.arena.alloc(scanChunkScratchBytes(T, D, L));
    const E = P + scanChunks(T, L) * D * 4;
    const [ap, bp, hp] = [p(a), p(b), p(h0)];
    scanChunkReduce(rt, ap, bp, P, E, T, D, L, 0, scanChunks(T, L));
    scanChunkCarry(rt, P, E, hp, T, D, L);
    scanChunkApply(rt, ap, bp, hp, E, h, T, D, L, 0, scanChunks(T, L));
  },
});
const H = 16;
for (const kind of GRU_STRUCTURES) {
  cases.push({
    kernel: `gru_matvec_${kind} + gru_gates`,
    n: H,
    body: (rt, p, out) => {
      const { sizes } = recurrenceLayout(kind, H);
      const ptr: Record<string, number> = {};
      let seed = 10;
      for (const [name, cnt] of Object.entries(sizes)) ptr[name] = p(values(cnt, seed++, -0.5, 0.5));
      const rec = { kind, H, ...ptr } as WasmRecurrence;
      const hp = p(values(H, 20));
      const gh = rt.arena.alloc(3 * H * 4);
      const s = rt.arena.alloc(gruMatvecScratchBytes(kind, H) + 4);
      gruMatvec(rt, rec, hp, gh, s);
      gruGates(rt, p(values(3 * H, 21, -3, 3)), gh, p(values(3 * H, 22)), hp, out, H);
    },
  });
}

for (const kind of GRU_STRUCTURES) {
  cases.push({
    kernel: `gru_matvec_${kind}_i8 + gru_gates_i8`,
    n: H, // 4·H bytes of codes over T = 4 steps, read as f32 bit patterns
    body: (rt, p, out) => {
      let seed = 30;
      const codes = (n: number) => {
        const ptr = rt.arena.alloc(n);
        rt.u8.set(
          Uint8Array.from(values(n, seed++, 0, 255), (v) => v),
          ptr,
        );
        return ptr;
      };
      const scales = (n: number) => p(values(n, seed++, 0.001, 0.01));
      const { sizes, fanIn } = recurrenceLayout(kind, H);
      const arrays = Object.entries(sizes).map(([, n]) => [codes(n), scales(n / fanIn)]);
      const rec: WasmInt8Recurrence =
        kind === 'dense' || kind === 'diagonal'
          ? { kind, H, qu: arrays[0][0], su: arrays[0][1] }
          : kind === 'monarch'
            ? { kind, H, q1: arrays[0][0], s1: arrays[0][1], q2: arrays[1][0], s2: arrays[1][1] }
            : { kind, H, qw: arrays[0][0], sw: arrays[0][1] };
      gruScanI8(
        rt,
        rec,
        p(values(4 * 3 * H, 33, -3, 3)),
        p(values(3 * H, 34)),
        codes(H),
        1 / 100,
        out,
        4,
        rt.arena.alloc(gruScanI8ScratchBytes(kind, H)),
      );
    },
  });
}

console.log(
  JSON.stringify(
    cases.map((c) => {
      const [x, y] = builds.map((rt) => bits(rt, c.n, c.body));
      return { kernel: c.kernel, same: x.every((v, i) => v === y[i]), relaxed: builds[1].build };
    }),
  ),
);
