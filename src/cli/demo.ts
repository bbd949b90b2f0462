/**
 * `plumbline demo` (what `npm start` runs): a deterministic tensor through
 * every ggml format — quantize, dequantize on the wasm kernels and on the
 * reference, check the two agree bit for bit, and report the round-trip error.
 */
import { parseArgs } from 'node:util';
import { wasmStatus } from '../backends/wasm/default-runtime.js';
import { dequantize } from '../ops/dequantize.js';
import { quantize } from '../ops/quantize.js';
import { errorMetrics } from '../oracle/metrics.js';
import { GGML_TYPE_NAMES, GGML_TYPES } from '../types/ggml-types.js';
import { type Command, UsageError } from './command.js';
import { formatTable } from './table.js';

const HELP = `usage: plumbline demo [--size N] [--json]

Quantizes a deterministic tensor (N values, default 65536, approximately
normal with a few outliers) into every ggml format, dequantizes it with the
wasm SIMD kernels and with the reference implementation, checks they agree
bit for bit, and prints the round-trip error and throughput per format.

options:
  --size N   number of values (a multiple of 256)
  --json     print the results as JSON`;

/** Deterministic test signal: xorshift32 uniforms → approx. normal, 1 in 512 an outlier ×8. */
export function demoTensor(n: number, seed = 20261123): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s >>> 8) / 2 ** 24;
  };
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (u() + u() + u() + u() - 2) * Math.sqrt(3);
    x[i] = i % 512 === 37 ? g * 8 : g;
  }
  return x;
}

function timeIt(fn: () => void): number {
  fn();
  let reps = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < 60 || reps < 3) {
    fn();
    reps++;
    t = performance.now();
  }
  return (t - t0) / 1000 / reps;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'quantize → dequantize round trip through every ggml format (npm start)',
  help: HELP,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: { size: { type: 'string', default: '65536' }, json: { type: 'boolean', default: false } },
    });
    const n = Number(values.size);
    if (!Number.isSafeInteger(n) || n <= 0 || n % 256 !== 0) {
      throw new UsageError(`--size must be a positive multiple of 256, got ${values.size}`);
    }
    const x = demoTensor(n);
    const status = wasmStatus();
    const rows = [];
    for (const type of GGML_TYPE_NAMES) {
      const info = GGML_TYPES[type];
      const bytes = quantize(type, x);
      const wasm = dequantize(type, bytes, n);
      const ref = dequantize(type, bytes, n, { backend: 'reference' });
      const identical = Buffer.from(wasm.buffer).equals(Buffer.from(ref.buffer));
      const { count, maxAbs, rmse, nmse, cosine } = errorMetrics(wasm, x);
      const stats = { count, maxAbs: maxAbs.value, rmse, nmse, cosine };
      const seconds = timeIt(() => dequantize(type, bytes, n));
      rows.push({
        type,
        bitsPerWeight: (info.typeSize * 8) / info.blockSize,
        bytes: bytes.length,
        ...stats,
        wasmMatchesReference: identical,
        dequantGBps: (n * 4) / seconds / 1e9,
      });
    }
    if (values.json) {
      io.out(JSON.stringify({ wasm: status, size: n, formats: rows }, null, 2));
    } else {
      io.out(
        `plumbline demo: ${n} values through every ggml format on ${status.build ?? `the reference (${status.reason})`}\n`,
      );
      io.out(
        formatTable(
          ['type', 'bits/w', 'bytes', 'max |err|', 'RMSE', 'NMSE', 'cosine', 'wasm = ref', 'dequant GB/s'],
          rows.map((r) => [
            r.type,
            r.bitsPerWeight,
            r.bytes,
            r.maxAbs,
            r.rmse,
            r.nmse,
            r.cosine.toFixed(6),
            r.wasmMatchesReference ? 'bit-exact' : 'DIFFERS',
            r.dequantGBps,
          ]),
        ),
      );
      io.out(
        '\nerr = dequantize(quantize(x)) − x over the whole tensor; dequant GB/s of f32 output through dequantize().',
      );
    }
    return rows.every((r) => r.wasmMatchesReference) ? 0 : 1;
  },
};
