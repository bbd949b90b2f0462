// Runs the f32 matmul checks on the relaxed-SIMD build and prints a JSON report.
// Started by matmul-f32.test.ts as: node --experimental-wasm-relaxed-simd --import tsx <this file>
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import {
  checkDeterminism,
  checkHalfWeights,
  checkLayout,
  checkShapes,
  checkSpecialValues,
} from './matmul-f32-checks.js';

const rt = await WasmRuntime.create(await compileKernels(['wasm-relaxed-simd']));
const shapes = checkShapes(rt);
const report = {
  build: rt.build,
  relaxed: rt.kernels.relaxed_simd(),
  cases: shapes.cases,
  failures: {
    layout: checkLayout(rt),
    shapes: shapes.failures,
    half: checkHalfWeights(rt),
    special: checkSpecialValues(rt),
    determinism: checkDeterminism(rt).failures,
  },
};
console.log(JSON.stringify(report));
