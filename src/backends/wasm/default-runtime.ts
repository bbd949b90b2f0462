/**
 * The process-wide wasm runtime behind the synchronous helpers (dequantize).
 * Loaded once at import (top-level await); if no build runs here, the helpers
 * fall back to the reference implementation and `wasmStatus()` says why.
 */
import { WasmRuntime } from './module.js';

let runtime: WasmRuntime | undefined;
let failure: string | undefined;

try {
  runtime = await WasmRuntime.create();
} catch (e) {
  failure = (e as Error).message;
}

export function defaultRuntime(): WasmRuntime | undefined {
  return runtime;
}

export interface WasmStatus {
  /** The build in use, or null when plumbline runs on the reference implementation. */
  build: WasmRuntime['build'] | null;
  reason?: string;
}

export function wasmStatus(): WasmStatus {
  return runtime ? { build: runtime.build } : { build: null, reason: failure };
}
