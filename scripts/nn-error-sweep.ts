/**
 * Measures the SiLU and GELU (tanh and erf forms) kernels against
 * the float64 reference over their sweeps (NN_ERROR_SWEEP; `--stride N`
 * overrides the stride outside the dense band), printing the figures
 * recorded in NN_MAX_ULP / NN_SUBNORMAL_ABS (src/backends/wasm/nn.ts).
 *   node --import tsx scripts/nn-error-sweep.ts [--stride N] [kernel...]
 */
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { NN_ERROR_SWEEP } from '../src/backends/wasm/nn.js';
import { type SweptKernel, sweep } from '../test/backends/wasm/nn-sweep.js';

const args = process.argv.slice(2);
const s = args.indexOf('--stride');
const strideArg = s >= 0 ? Number(args[s + 1]) : undefined;
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--stride') as SweptKernel[];
const rt = await WasmRuntime.create();
for (const k of names.length ? names : (Object.keys(NN_ERROR_SWEEP) as SweptKernel[])) {
  const { range, dense } = NN_ERROR_SWEEP[k];
  const stride = strideArg ?? NN_ERROR_SWEEP[k].stride;
  const t0 = performance.now();
  const r = sweep(rt, k, range[0], range[1], stride, dense);
  console.log(
    `${k} (${rt.build}): ${r.points} inputs in [${range}], stride ${stride}, every f32 with |x| in [${dense}]: max ${r.maxUlp.toFixed(3)} ulp at x = ${r.maxUlpAt}; ` +
      `subnormal results within ${r.maxSubnormal.toFixed(3)}·2^-149; special-value mismatches ${r.specialMismatches} ` +
      `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
