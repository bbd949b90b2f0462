/**
 * `ggml` numerics quantized matmul (assembly/quantize, assembly/matmul/quant-ggml.ts).
 *
 * Activations: the wasm quantizers are byte-identical to ggml's reference quantizers
 * (the corpus's act_quant_ref, and the TypeScript quantizers on random, tie and special inputs).
 *
 * Dots: the integer sums are exact, so the only errors are f32 roundings of the block scaling,
 * bounded per output (u = 2^-24, nb = blocks per row, x_i = the dequantized activation):
 *
 *   |a − r| ≤ γ(nb + 3, u)·(S + T)                      block scaling and the running sum
 *           + Σ_b |m_b|·(2^-11·|d_b·Σq_b| + 2^-25)      q4_1/q5_1: q8_1's s = f16(d·Σq), not d·Σq
 *           + u·(S + Mn)                                weights with a min: ggml's f32 dequant of
 *                                                       d·sc·q ± m rounds once (r uses it)
 *           + u(1 + u)·(S + Mn)                         q8_K activations: r uses f32 d·q, rounded
 *           + nb·2^-147                                 underflow of the per-block products
 *           + the error of r itself (2^-53·|r| for the corpus's correctly rounded sum)
 *
 *   S  = Σ_i |d_w·sc·(code − zero)|·|x_i| (the weight with its min zeroed),
 *   Mn = Σ_i |min part of w_i|·|x_i| (the weight with its d zeroed),
 *   T  = Mn, except q4_1/q5_1 where the computed min term is m_b·s_b: T = Σ_b |m_b·s_b|.
 * Why nb + 3: a block's term t = (d_w·d_x)·f32(I) [± (dmin_w·d_x)·f32(J) or + m_w·s_x] takes at
 * most four roundings (the int → f32 conversion, two products, the ±), then at most nb − 1
 * additions into the running sum; Higham's lemma gives γ(nb + 3) per term.
 * f16 / bf16: products of halves are exact, only the K-term sum rounds: γ(K, u)·Σ|w_i·x_i|
 * (+ K·2^-149 for bf16 products that underflow).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  activationBytes,
  activationLayout,
  GGML_MATMUL_TYPES,
  type GgmlMatmulType,
  matmulGgml,
  quantizeActivations,
  type VecDotType,
  vecDotType,
  weightRowBytes,
} from '../../../src/backends/wasm/matmul-ggml.js';
import { WasmRuntime } from '../../../src/backends/wasm/module.js';
import { ShapeError, UnsupportedTypeError } from '../../../src/errors.js';
import { dequantize } from '../../../src/ops/dequantize.js';
import { quantize } from '../../../src/ops/quantize.js';
import { gamma } from '../../../src/oracle/tiers.js';
import { GGML_TYPES } from '../../../src/types/ggml-types.js';
import {
  arrayBytes,
  arrayF32,
  arrayF64,
  conformanceAvailable,
  describeByteMismatch,
  firstByteMismatch,
  loadManifest,
} from '../../helpers/conformance.js';
import {
  f16At,
  ggmlPart,
  MIN_FIELDS,
  makeWeights,
  normals,
  rawActivations,
  rng,
  withExtension,
} from '../../helpers/ggml-inputs.js';

const have = conformanceAvailable();
const rt = await WasmRuntime.create();
const U = 2 ** -24;

// ---------------------------------------------------------------- wasm plumbing

function toWasm(bytes: Uint8Array): number {
  const p = rt.arena.alloc(bytes.byteLength);
  rt.u8.set(bytes, p);
  return p;
}

function wasmQuantize(vdt: VecDotType, x: Float32Array, M: number, K: number): Uint8Array {
  const xp = toWasm(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  const n = activationBytes(vdt, M, K);
  const out = rt.arena.alloc(n);
  try {
    quantizeActivations(rt, vdt, xp, out, M, K);
    return rt.u8.slice(out, out + n);
  } finally {
    rt.arena.release(out);
    rt.arena.release(xp);
  }
}

/** y = matmul over the given [n0, n1) ranges (one kernel call each) into one zeroed buffer. */
function wasmMatmul(
  type: GgmlMatmulType,
  xq: Uint8Array,
  w: Uint8Array,
  M: number,
  N: number,
  K: number,
  ranges: [number, number][] = [[0, N]],
): Float32Array {
  const xp = toWasm(xq);
  const wp = toWasm(w);
  const yp = rt.arena.alloc(M * N * 4);
  try {
    rt.u8.fill(0, yp, yp + M * N * 4);
    for (const [n0, n1] of ranges) matmulGgml(rt, type, xp, wp, yp, M, N, K, n0, n1);
    return rt.f32(yp, M * N).slice();
  } finally {
    rt.arena.release(yp);
    rt.arena.release(wp);
    rt.arena.release(xp);
  }
}

// ---------------------------------------------------------------- the bound

const WITH_S = new Set<string>(['q4_1', 'q5_1']);

/** The weight row split into its scale part (min zeroed) and min part (d zeroed), both exact in f32. */
function weightParts(
  type: GgmlMatmulType,
  w: Uint8Array,
  K: number,
): { scale: Float32Array; min: Float32Array } {
  const fields = MIN_FIELDS[type];
  if (!fields) return { scale: dequantize(type, w, K, { backend: 'reference' }), min: new Float32Array(K) };
  const { typeSize } = GGML_TYPES[type];
  const zeroed = (off: number) => {
    const c = w.slice();
    for (let b = 0; b < c.length; b += typeSize) c[b + off] = c[b + off + 1] = 0;
    return dequantize(type, c, K, { backend: 'reference' });
  };
  return { scale: zeroed(fields[1]), min: zeroed(fields[0]) };
}

/**
 * r: the exact dot of the dequantized rows when not given (f64, its own error bounded below);
 * bound: as derived at the top of this file.
 */
function ggmlBound(
  type: GgmlMatmulType,
  w: Uint8Array,
  xq: Uint8Array,
  K: number,
  rGiven?: number,
): { r: number; bound: number } {
  const vdt = vecDotType(type);
  xq = xq.subarray(0, activationLayout(vdt, K).ggmlBytes);
  const x = dequantize(vdt, xq, K, { backend: 'reference' });
  if (type === 'f16' || type === 'bf16') {
    const wd = dequantize(type, w, K, { backend: 'reference' });
    let mag = 0;
    let r = 0;
    for (let i = 0; i < K; i++) {
      mag += Math.abs(wd[i] * x[i]);
      r += wd[i] * x[i];
    }
    const rErr = rGiven === undefined ? gamma(K, 2 ** -53) * mag : 2 ** -53 * Math.abs(rGiven);
    return { r: rGiven ?? r, bound: gamma(K, U) * mag + K * 2 ** -149 + rErr };
  }
  const { scale, min } = weightParts(type, w, K);
  let S = 0;
  let Mn = 0;
  let r = 0;
  for (let i = 0; i < K; i++) {
    S += Math.abs(scale[i] * x[i]);
    Mn += Math.abs(min[i] * x[i]);
    r += (scale[i] + min[i]) * x[i];
  }
  const nb = K / GGML_TYPES[type].blockSize;
  let T = Mn;
  let sTerm = 0;
  if (WITH_S.has(type)) {
    T = 0;
    for (let b = 0; b < nb; b++) {
      const m = Math.abs(min[32 * b]);
      const d = f16At(xq, 36 * b);
      const s = f16At(xq, 36 * b + 2);
      let sum = 0;
      for (let j = 0; j < 32; j++) sum += (xq[36 * b + 4 + j] << 24) >> 24;
      T += m * Math.abs(s);
      sTerm += m * (2 ** -11 * Math.abs(d * sum) + 2 ** -25);
    }
  }
  const deqRound = MIN_FIELDS[type] ? U * (S + Mn) : 0;
  const actRound = vdt === 'q8_K' ? U * (1 + U) * (S + Mn) : 0;
  const rErr = rGiven === undefined ? gamma(K, 2 ** -53) * (S + Mn) * (1 + U) : 2 ** -53 * Math.abs(rGiven);
  const bound = gamma(nb + 3, U) * (S + T) + sTerm + deqRound + actRound + nb * 2 ** -147 + rErr;
  return { r: rGiven ?? r, bound };
}

function blockSizeOf(type: GgmlMatmulType): number {
  return GGML_TYPES[type].blockSize;
}

// ---------------------------------------------------------------- activation quantizers

const VEC_DOT_TYPES: VecDotType[] = ['q8_0', 'q8_1', 'q8_K', 'f16', 'bf16'];

describe.skipIf(!have)('activation quantizers are byte-identical to act_quant_ref (corpus)', () => {
  const types = have ? loadManifest().types : {};
  for (const [name, vdt] of [
    ['q4_0', 'q8_0'],
    ['q4_1', 'q8_1'],
    ['q4_K', 'q8_K'],
    ['f16', 'f16'],
    ['bf16', 'bf16'],
  ] as const) {
    const spec = types[name];
    if (!spec) continue;
    for (const c of spec.cases) {
      it(`${vdt} from ${name}.bin ${c.name}`, () => {
        const x = arrayF32(spec.file, c.arrays.act_input);
        const want = arrayBytes(spec.file, c.arrays.act_quant_ref);
        const M = x.length / c.cols;
        const rows = wasmQuantize(vdt, x, M, c.cols);
        const got = ggmlPart(vdt, rows, M, c.cols);
        const i = firstByteMismatch(want, got);
        if (i >= 0) expect.fail(describeByteMismatch(`${vdt} ${c.name}`, i, want, got));
      });
    }
  }

  it('f16 and bf16 row conversions on the special inputs (edge cases, random bit patterns)', () => {
    const s = loadManifest().f16_bf16_special;
    for (const group of [s.edge, s.random_bits]) {
      const x = arrayF32(s.file, group.arrays.input_f32);
      for (const [vdt, ref] of [
        ['f16', 'fp16_row'],
        ['bf16', 'bf16_row'],
      ] as const) {
        const want = arrayBytes(s.file, group.arrays[ref]);
        const got = wasmQuantize(vdt, x, 1, x.length);
        const i = firstByteMismatch(want, got);
        if (i >= 0)
          expect.fail(describeByteMismatch(`${vdt} of input ${i >> 1} (${x[i >> 1]})`, i, want, got));
      }
    }
  });
});

describe('activation quantizers match the TypeScript reference quantizers', () => {
  const K = 1024;
  const inputs: [string, Float32Array][] = [];
  inputs.push(['normal', normals(4 * K, 1)]);
  inputs.push(['wide range', normals(4 * K, 2).map((v, i) => v * 2 ** ((i % 61) - 30))]);
  // Ties: per 32-block amax 127, values k/2, so x·id lands on halves.
  const ties = new Float32Array(4 * K);
  const u = rng(3);
  for (let i = 0; i < ties.length; i++) ties[i] = i % 32 === 0 ? 127 : Math.floor(u() * 509 - 254) / 2;
  inputs.push(['ties', ties]);
  const special = normals(4 * K, 4);
  // Zero blocks, −0, subnormals, huge values, infinities, NaN (first, middle, last of a block).
  special.fill(0, 0, 256);
  special.fill(-0, 256, 320);
  for (let i = 320; i < 352; i++) special[i] = (i - 336) * 1e-42;
  for (let i = 352; i < 384; i++) special[i] = 1e-38 * (i - 360);
  special[400] = 3e38;
  special[401] = -3.4e38;
  special[450] = Number.POSITIVE_INFINITY;
  special[520] = Number.NaN;
  special[577] = Number.NaN;
  special[639] = Number.NaN;
  special[700] = Number.NaN;
  special[701] = 1e30;
  special[1030] = Number.NEGATIVE_INFINITY;
  special[2048] = Number.NaN;
  for (let i = 2304; i < 2560; i++) special[i] = Number.NaN;
  inputs.push(['special', special]);

  for (const vdt of VEC_DOT_TYPES) {
    for (const [label, x] of inputs) {
      it(`${vdt}: ${label}`, () => {
        const want = quantize(vdt, x);
        const M = x.length / K;
        const rows = wasmQuantize(vdt, x, M, K);
        const got = ggmlPart(vdt, rows, M, K);
        const i = firstByteMismatch(want, got);
        if (i >= 0) expect.fail(describeByteMismatch(`${vdt} ${label}`, i, want, got));
        // The widened codes and per-block scalars after each row's blocks.
        const j = firstByteMismatch(withExtension(vdt, got, M, K), rows);
        if (j >= 0) expect.fail(`${vdt} ${label}: activation row extension differs at byte ${j}`);
        // The plain block quantizers (quantize_<q8 type>(x, out, nblocks)) write the same blocks.
        if (vdt.startsWith('q8')) {
          const xp = toWasm(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
          const op = rt.arena.alloc(want.length);
          rt.kernel(`quantize_${vdt}`)(xp, op, x.length / GGML_TYPES[vdt].blockSize);
          const k = firstByteMismatch(want, rt.u8.slice(op, op + want.length));
          rt.arena.release(op);
          rt.arena.release(xp);
          if (k >= 0) expect.fail(`quantize_${vdt} differs at byte ${k}`);
        }
      });
    }
  }
});

// ---------------------------------------------------------------- dots against the corpus

describe.skipIf(!have)('dots agree with dot_dequant_f64_refact within the derived bound (corpus)', () => {
  const types = have ? loadManifest().types : {};
  for (const type of GGML_MATMUL_TYPES) {
    const spec = types[type];
    if (!spec) continue;
    for (const c of spec.cases) {
      it(`${type} ${c.name}`, () => {
        const K = c.cols;
        const vdt = vecDotType(type);
        const w = arrayBytes(spec.file, c.arrays.quant);
        const xIn = arrayF32(spec.file, c.arrays.act_input);
        const M = xIn.length / K;
        const xq = wasmQuantize(vdt, xIn, M, K);
        expect(
          firstByteMismatch(arrayBytes(spec.file, c.arrays.act_quant_ref), ggmlPart(vdt, xq, M, K)),
        ).toBe(-1);
        const N = c.rows;
        const y = wasmMatmul(type, xq, w, M, N, K);
        const ref = arrayF64(spec.file, c.arrays.dot_dequant_f64_refact); // [N, M]
        const vec = arrayF32(spec.file, c.arrays.vec_dot_refact); // [N, M]
        const wRow = weightRowBytes(type, K);
        const xRow = xq.length / M;
        for (let n = 0; n < N; n++) {
          for (let m = 0; m < M; m++) {
            const a = y[m * N + n];
            const r = ref[n * M + m];
            const { bound } = ggmlBound(
              type,
              w.subarray(n * wRow, (n + 1) * wRow),
              xq.subarray(m * xRow, (m + 1) * xRow),
              K,
              r,
            );
            if (!(Math.abs(a - r) <= bound))
              expect.fail(
                `${type} ${c.name} row ${n} act ${m}: ${a} vs ${r}, |diff| ${Math.abs(a - r)} > bound ${bound}`,
              );
            // ggml's own AVX-512 vec_dot on the same activations: the same exact integers, another
            // f32 order. A loose cross-check (f16: ggml accumulates in fp16 there, skipped).
            if (type !== 'f16' && !(Math.abs(a - vec[n * M + m]) <= 4 * bound))
              expect.fail(`${type} ${c.name} row ${n} act ${m}: ${a} vs ggml vec_dot ${vec[n * M + m]}`);
          }
        }
      });
    }
  }
});

// ---------------------------------------------------------------- random weights

function checkAgainstReference(
  type: GgmlMatmulType,
  w: Uint8Array,
  xq: Uint8Array,
  y: Float32Array,
  M: number,
  N: number,
  K: number,
  what: string,
): void {
  const wRow = weightRowBytes(type, K);
  const xRow = xq.length / M;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const { r, bound } = ggmlBound(
        type,
        w.subarray(n * wRow, (n + 1) * wRow),
        xq.subarray(m * xRow, (m + 1) * xRow),
        K,
      );
      const a = y[m * N + n];
      if (!(Math.abs(a - r) <= bound))
        expect.fail(
          `${type} ${what} y[${m}, ${n}] = ${a}, reference ${r}, |diff| ${Math.abs(a - r)} > ${bound}`,
        );
    }
  }
}

const bitsEqual = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

describe('random weights: every type, ragged N, M = 1..4 and 64, within the bound', () => {
  for (const type of GGML_MATMUL_TYPES) {
    const bs = blockSizeOf(type);
    const K = bs === 256 ? 512 : bs === 32 ? 96 : 75; // f16/bf16: K not a multiple of 8
    it(`${type}: quantize() weights, M = 1..4, N = 13`, () => {
      const N = 13;
      const w = makeWeights(type, N, K, 10, false);
      for (let M = 1; M <= 4; M++) {
        const xq = wasmQuantize(vecDotType(type), normals(M * K, 20 + M), M, K);
        checkAgainstReference(type, w, xq, wasmMatmul(type, xq, w, M, N, K), M, N, K, `M=${M}`);
      }
    });
    it(`${type}: raw random codes (extremes of every code range), M = 64, N = 6`, () => {
      const N = 6;
      const M = 64;
      const w = makeWeights(type, N, K, 30, true);
      const xq = rawActivations(vecDotType(type), M, K, 40);
      checkAgainstReference(type, w, xq, wasmMatmul(type, xq, w, M, N, K), M, N, K, 'raw');
    });
  }

  it('K = 4096 decode shape (q4_K, q8_0, q6_K), N = 7', () => {
    const K = 4096;
    const N = 7;
    for (const type of ['q4_K', 'q8_0', 'q6_K'] as const) {
      const w = makeWeights(type, N, K, 50, false);
      const xq = wasmQuantize(vecDotType(type), normals(K, 51), 1, K);
      checkAgainstReference(type, w, xq, wasmMatmul(type, xq, w, 1, N, K), 1, N, K, 'K=4096');
    }
  });
});

describe('determinism: bit-identical for any [n0, n1) split and any M', () => {
  const splits: [number, number][][] = [
    [[0, 37]],
    [
      [0, 1],
      [1, 37],
    ],
    [
      [0, 17],
      [17, 30],
      [30, 37],
    ],
    [
      [0, 3],
      [3, 10],
      [10, 11],
      [11, 37],
    ],
    [
      [5, 37],
      [0, 5],
    ],
  ];
  for (const type of GGML_MATMUL_TYPES) {
    it(type, () => {
      const bs = blockSizeOf(type);
      const K = bs === 256 ? 512 : bs === 32 ? 160 : 203;
      const N = 37;
      const M = 5;
      const w = makeWeights(type, N, K, 60, false);
      const xq = wasmQuantize(vecDotType(type), normals(M * K, 61), M, K);
      const full = wasmMatmul(type, xq, w, M, N, K);
      for (const ranges of splits) {
        expect(bitsEqual(wasmMatmul(type, xq, w, M, N, K, ranges), full), JSON.stringify(ranges)).toBe(true);
      }
      // Each row of x alone (M = 1) gives the same bits as within M = 5.
      const xRow = xq.length / M;
      for (let m = 0; m < M; m++) {
        const one = wasmMatmul(type, xq.subarray(m * xRow, (m + 1) * xRow), w, 1, N, K);
        expect(bitsEqual(one, full.subarray(m * N, (m + 1) * N)), `row ${m}`).toBe(true);
      }
    });
  }
});

describe('relaxed SIMD build', () => {
  it('computes bit-identical activations and outputs to the SIMD128 build (raw codes, all types)', () => {
    // Node 20 validates the relaxed build only behind a flag: compare both builds in a child process.
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', 'test/helpers/ggml-builds.ts'],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(out) as { type: string; same: boolean; relaxed: string }[];
    expect(report.length).toBe(GGML_MATMUL_TYPES.length + VEC_DOT_TYPES.length);
    for (const r of report) {
      expect(r.relaxed).toBe('wasm-relaxed-simd');
      expect(r.same, r.type).toBe(true);
    }
  });
});

describe('validation', () => {
  it('rejects types without a ggml-mode kernel and bad shapes with typed errors', () => {
    expect(() => vecDotType('q8_K')).toThrow(UnsupportedTypeError);
    expect(() => vecDotType('f32')).toThrow(UnsupportedTypeError);
    expect(() => matmulGgml(rt, 'q4_K', 0, 0, 0, 1, 1, 100)).toThrow(
      /K = 100 is not a multiple of q4_K's block size 256/,
    );
    expect(() => matmulGgml(rt, 'q4_0', 0, 0, 0, 1, 4, 32, 2, 5)).toThrow(ShapeError);
    expect(() => quantizeActivations(rt, 'q8_0', 0, 0, 1, 33)).toThrow(ShapeError);
    expect(() => activationBytes('q8_K', 2, 255)).toThrow(ShapeError);
  });
});
