/**
 * Measures the SiLU and GELU (tanh and erf forms) kernels against
 * the float64 reference over every f32 of their sweep range
 * (NN_ERROR_SWEEP; `--stride N` to sample), printing the figures recorded in
 * NN_MAX_ULP / NN_SUBNORMAL_ABS (src/backends/wasm/nn.ts).
 *   node --import tsx scripts/nn-error-sweep.ts [--stride N] [kernel...]
 */
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { NN_ERROR_SWEEP } from '../src/backends/wasm/nn.js';
import { type SweptKernel, sweep } from '../test/backends/wasm/nn-sweep.js';

const args = process.argv.slice(2);
const s = args.indexOf('--stride');
const stride = s >= 0 ? Number(args[s + 1]) : 1;
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--stride') as SweptKernel[];
const rt = await WasmRuntime.create();
for (const k of names.length ? names : (Object.keys(NN_ERROR_SWEEP) as SweptKernel[])) {
  const [lo, hi] = NN_ERROR_SWEEP[k].range;
  const t0 = performance.now();
  const r = sweep(rt, k, lo, hi, stride);
  console.log(
    `${k} (${rt.build}): ${r.points} inputs in [${lo}, ${hi}], stride ${stride}: max ${r.maxUlp.toFixed(3)} ulp at x = ${r.maxUlpAt}; ` +
      `subnormal results within ${r.maxSubnormal.toFixed(3)}·2^-149; special-value mismatches ${r.specialMismatches} ` +
      `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
