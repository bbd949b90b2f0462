/**
 * The wasm runtime the attention suites run on: the package's build, or the
 * module at PLUMBLINE_WASM (a build of assembly/ made elsewhere, for working on
 * kernels while the shared build/ is mid-change).
 */
import { readFile } from 'node:fs/promises';
import { type CompiledKernels, compileKernels, WasmRuntime } from '../../src/backends/wasm/module.js';

export async function attentionRuntime(): Promise<{ rt: WasmRuntime; compiled: CompiledKernels }> {
  const file = process.env.PLUMBLINE_WASM;
  const compiled: CompiledKernels = file
    ? { build: 'wasm-simd', module: await WebAssembly.compile(await readFile(file)), rejected: [] }
    : await compileKernels();
  return { rt: await WasmRuntime.create(compiled), compiled };
}
