/**
 * Dequantization throughput per type, single thread, in GB/s of f32 output
 * (ggml's test-quantize-perf convention), at an L1-resident size. Beside it,
 * the plain-JS (scalar TypeScript) implementation of the same format, and the
 * native ggml per-core figures the foundation issue targets.
 */
import { REFERENCE_DEQUANT } from '../src/backends/reference/dequant.js';
import { kernelCount } from '../src/backends/wasm/dequant.js';
import { WasmRuntime } from '../src/backends/wasm/module.js';
import { dequantize } from '../src/ops/dequantize.js';
import { quantize } from '../src/ops/quantize.js';
import { GGML_TYPE_NAMES, GGML_TYPES, type GgmlTypeName } from '../src/types/ggml-types.js';
import { measure, type SuiteResult } from './lib.js';

/** Native ggml, one core of this machine, test-quantize-perf (issue #2): GB/s of f32 output. */
const NATIVE_GGML_GBPS: Partial<Record<GgmlTypeName, number>> = { q4_K: 24, q8_0: 30 };

const N = 4096; // 16 KiB of f32 output + the quantized input: L1-resident

function input(n: number): Float32Array {
  let s = 12345;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
  }
  return x;
}

export async function dequantBench(types: readonly GgmlTypeName[] = GGML_TYPE_NAMES): Promise<SuiteResult> {
  const rt = await WasmRuntime.create();
  const x = input(N);
  const rows: (string | number)[][] = [];
  for (const name of types) {
    const info = GGML_TYPES[name];
    const bytes = name === 'f32' ? new Uint8Array(x.buffer.slice(0)) : quantize(name, x);
    const src = rt.arena.alloc(bytes.length);
    const dst = rt.arena.alloc(N * 4);
    rt.u8.set(bytes, src);
    const kernel = rt.kernel(`dequant_${name}`);
    const count = kernelCount(info, N);
    const y = new Float32Array(N);
    const ref = REFERENCE_DEQUANT[name];
    const REPEAT = 64;
    const [wasm, api, js] = await measure([
      {
        name: 'wasm kernel',
        repeat: REPEAT,
        fn: () => {
          for (let r = 0; r < REPEAT; r++) kernel(src, dst, count);
        },
      },
      { name: 'dequantize()', fn: () => dequantize(name, bytes, N) },
      { name: 'plain JS', fn: () => ref(bytes, y, count) },
    ]);
    rt.arena.release(dst);
    rt.arena.release(src);
    const gbps = (s: number) => (N * 4) / s / 1e9;
    const native = NATIVE_GGML_GBPS[name];
    rows.push([
      name,
      gbps(wasm.seconds),
      gbps(api.seconds),
      gbps(js.seconds),
      js.seconds / wasm.seconds,
      native ?? '-',
      native ? gbps(wasm.seconds) / native : '-',
    ]);
  }
  return {
    suite: 'dequant',
    notes: [
      `${rt.build}, 1 thread, ${N} elements per call (L1-resident), GB/s of f32 output.`,
      'dequantize() includes copying bytes into wasm memory and the result out; "plain JS" is the scalar TypeScript reference.',
      'Targets (issue #2): >= 8x plain JS; >= 0.5x native ggml per core (q4_K 24 GB/s, q8_0 30 GB/s, test-quantize-perf).',
    ],
    header: [
      'type',
      'wasm GB/s',
      'dequantize() GB/s',
      'plain JS GB/s',
      'x plain JS',
      'native GB/s',
      'x native',
    ],
    rows,
  };
}
