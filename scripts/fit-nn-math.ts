/**
 * Derives the erfc polynomial of GELU's erf form in assembly/nn/math.ts
 * (run: `node --import tsx scripts/fit-nn-math.ts`): a weighted least-squares
 * polynomial, reweighted by Lawson's algorithm towards the minimax
 * (equioscillating) relative error, against the float64 reference erfcx. The
 * printed f64 coefficients are the ones in math.ts; the kernels' measured errors are in
 * src/backends/wasm/nn.ts (NN_MAX_ULP), checked by test/backends/wasm/nn-math.test.ts.
 */
import { erfcx } from '../src/backends/reference/erf.js';

/** Least squares min ‖A·c − b‖ by Householder QR (A is m×n, m ≥ n, row-major). */
function leastSquares(A: number[][], b: number[]): number[] {
  const m = A.length;
  const n = A[0].length;
  const R = A.map((r) => r.slice());
  const y = b.slice();
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += R[i][k] ** 2;
    norm = Math.sqrt(norm);
    const alpha = R[k][k] > 0 ? -norm : norm;
    const v = new Float64Array(m);
    v[k] = R[k][k] - alpha;
    for (let i = k + 1; i < m; i++) v[i] = R[i][k];
    let vv = 0;
    for (let i = k; i < m; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    for (let j = k; j < n; j++) {
      let s = 0;
      for (let i = k; i < m; i++) s += v[i] * R[i][j];
      s = (2 * s) / vv;
      for (let i = k; i < m; i++) R[i][j] -= s * v[i];
    }
    let s = 0;
    for (let i = k; i < m; i++) s += v[i] * y[i];
    s = (2 * s) / vv;
    for (let i = k; i < m; i++) y[i] -= s * v[i];
  }
  const c = new Array<number>(n).fill(0);
  for (let k = n - 1; k >= 0; k--) {
    let s = y[k];
    for (let j = k + 1; j < n; j++) s -= R[k][j] * c[j];
    c[k] = s / R[k][k];
  }
  return c;
}

/**
 * Fits target(z) ≈ Σ c_k z^k on the sample points, minimizing max |(Σ c_k z^k − target)·weight|
 * (Lawson: least squares whose weights grow where the error is largest).
 */
function lawson(z: number[], target: number[], weight: number[], degree: number) {
  let w = weight.slice();
  let c: number[] = [];
  let maxErr = 0;
  for (let it = 0; it < 100; it++) {
    const A = z.map((zi, i) => Array.from({ length: degree + 1 }, (_, k) => zi ** k * w[i]));
    c = leastSquares(
      A,
      target.map((t, i) => t * w[i]),
    );
    const err = z.map((zi, i) => (c.reduce((s, ck, k) => s + ck * zi ** k, 0) - target[i]) * weight[i]);
    maxErr = Math.max(...err.map(Math.abs));
    w = w.map((wi, i) => wi * Math.sqrt(Math.abs(err[i]) / maxErr + 1e-4));
  }
  return { c, maxErr };
}

const U = 2 ** -24;

// erfc(t) = s·R(z)·e^(−t²), s = 1/(1 + t/2), z = (2s − s0 − s1)/(s1 − s0), t in [0, 10.5]: relative error.
{
  const T1 = 10.5;
  const s0 = 1 / (1 + T1 / 2);
  const s1 = 1;
  const z: number[] = [];
  const target: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i <= 6000; i++) {
    const t = (T1 * i) / 6000;
    const s = 1 / (1 + t / 2);
    const R = erfcx(t) / s;
    z.push((2 * s - s0 - s1) / (s1 - s0));
    target.push(R);
    weight.push(1 / R);
  }
  const { c, maxErr } = lawson(z, target, weight, 10);
  console.log(
    `erfc: s0 = ${s0}; R coefficients (f64) ${JSON.stringify(c)}; fit error ${(maxErr / U).toFixed(4)} u`,
  );
}
