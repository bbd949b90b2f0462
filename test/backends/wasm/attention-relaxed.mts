// Runs the attention checks on the relaxed-SIMD build (exact numerics use
// f32x4.relaxed_madd there, which may be fused: held to the same bound; the
// ggml path uses no relaxed instruction and must still match the emulation bit
// for bit) and prints a JSON report. Started by attention.test.ts as:
// node --experimental-wasm-relaxed-simd --import tsx <this file>
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import {
  bitsEqual,
  checkOutput,
  dimsOf,
  makeInputs,
  runWasm,
  type Shape,
  singleUnits,
  unevenSplit,
  wasmExp,
} from '../../helpers/attention-cases.js';
import { emulateGgmlAttention } from '../../helpers/ggml-attention.js';

const rt = await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd']));
const exp = wasmExp(rt);
const failures: Record<string, string[]> = { bound: [], determinism: [], ggml: [] };
let cases = 0;
const shapes: Shape[] = [
  { nQ: 1, nKv: 1000, nHead: 8, nHeadKv: 2, headDim: 128 },
  { nQ: 1, nKv: 33, nHead: 4, nHeadKv: 4, headDim: 36 },
  { nQ: 21, nKv: 300, nHead: 8, nHeadKv: 2, headDim: 80 },
  { nQ: 5, nKv: 7, nHead: 6, nHeadKv: 1, headDim: 64 },
];
for (const s of shapes) {
  for (const kv of ['f32', 'f16'] as const) {
    const x = makeInputs(s, 77, kv);
    const exact = dimsOf(s, kv, { window: 250 });
    const base = runWasm(rt, exact, x);
    const c = checkOutput(exact, x, base.out);
    failures.bound.push(...c.failures.map((f) => `${JSON.stringify(s)} ${kv}: ${f}`));
    for (const split of [singleUnits, unevenSplit(3)]) {
      if (!bitsEqual(runWasm(rt, exact, x, split).out, base.out))
        failures.determinism.push(`${JSON.stringify(s)} ${kv}`);
    }
    const ggml = dimsOf(s, kv, { numerics: 'ggml' });
    if (!bitsEqual(runWasm(rt, ggml, x).out, emulateGgmlAttention(x.q, x.k, x.v, ggml, exp)))
      failures.ggml.push(`${JSON.stringify(s)} ${kv}`);
    cases++;
  }
}
console.log(JSON.stringify({ build: rt.build, relaxed: rt.kernels.relaxed_simd(), cases, failures }));
