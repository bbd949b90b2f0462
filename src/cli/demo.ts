/**
 * `plumbline demo` (what `npm start` runs): a deterministic tensor through
 * every ggml format — quantize, dequantize on the wasm kernels and on the
 * reference, check the two agree bit for bit, and report the round-trip error;
 * then a small model, the parity matrix on wasm, and the WebGPU adapter here
 * (with the parity matrix on it when the adapter is a hardware one).
 */
import { parseArgs } from 'node:util';
import { wasmStatus } from '../backends/wasm/default-runtime.js';
import { createEngine } from '../engine/engine.js';
import { dequantize } from '../ops/dequantize.js';
import { quantize } from '../ops/quantize.js';
import { errorMetrics } from '../oracle/metrics.js';
import { type ParityRow, parityMatrix } from '../oracle/parity-matrix.js';
import { GGML_TYPE_NAMES, GGML_TYPES } from '../types/ggml-types.js';
import { type Command, UsageError } from './command.js';
import { type DemoModelResult, runDemoModel } from './demo-model.js';
import { demoWebGpu, formatWebGpuLine } from './demo-webgpu.js';
import { formatTable } from './table.js';

const HELP = `usage: plumbline demo [--size N] [--tokens N] [--skip-model] [--webgpu-parity] [--json]

Quantizes a deterministic tensor (N values, default 65536, approximately
normal with a few outliers) into every ggml format, dequantizes it with the
wasm SIMD kernels and with the reference implementation, checks they agree
bit for bit, and prints the round-trip error and throughput per format.

Then writes (once, cached under node_modules/.cache/plumbline) a small
deterministic llama GGUF with Q4_K weights, generates a few tokens with it
on the wasm engine (tokens/s), and compares one traced forward pass with the
float64 reference backend stage by stage.

Then the parity matrix (plumbline parity) on wasm, and the WebGPU adapter
found here (or why none); on a hardware adapter the parity matrix runs on
WebGPU too, beside the wasm rows.

options:
  --size N       number of values (a multiple of 256)
  --tokens N     tokens to generate with the demo model (default 16)
  --skip-model   only the format round trip
  --webgpu-parity  the parity matrix on WebGPU even on a software adapter
                 (SwiftShader: seconds; not run by default)
  --json         print the results as JSON`;

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
      options: {
        size: { type: 'string', default: '65536' },
        tokens: { type: 'string', default: '16' },
        'skip-model': { type: 'boolean', default: false },
        'webgpu-parity': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    const maxTokens = Number(values.tokens);
    if (!Number.isSafeInteger(maxTokens) || maxTokens < 1)
      throw new UsageError(`--tokens must be a positive integer, got ${values.tokens}`);
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
    const model = values['skip-model'] || !status.build ? undefined : await runDemoModel(maxTokens);
    const parity = status.build ? await parityOnWasm() : [];
    const webgpu = await demoWebGpu({ force: values['webgpu-parity'] });
    if (webgpu.parity) parity.push(...webgpu.parity);
    if (values.json) {
      const gpu = { adapter: webgpu.adapter, ...(webgpu.reason ? { reason: webgpu.reason } : {}) };
      io.out(JSON.stringify({ wasm: status, size: n, formats: rows, model, parity, webgpu: gpu }, null, 2));
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
      if (model) io.out(`\n${formatDemoModel(model)}`);
      io.out(`\n${formatWebGpuLine(webgpu)}`);
      if (parity.length) io.out(`\n${formatParitySummary(parity)}`);
    }
    const modelOk =
      !model || (model.logits.pass && model.referenceTokens.every((t, i) => t === model.tokens[i]));
    const parityOk = parity.every((r) => r.pass);
    return rows.every((r) => r.wasmMatchesReference) && modelOk && parityOk ? 0 : 1;
  },
};

/** The parity matrix (plumbline parity) on the wasm backend. */
async function parityOnWasm(): Promise<ParityRow[]> {
  const engine = await createEngine({ backend: 'wasm' });
  try {
    return await parityMatrix(engine);
  } finally {
    await engine.dispose();
  }
}

/**
 * One line per op: per backend, cases passed and the worst bound ratio (≤ 1:
 * explained by the tier's precision); on webgpu also how many ran on the GPU.
 */
function formatParitySummary(rows: ParityRow[]): string {
  const ops = [...new Set(rows.map((r) => r.op))];
  const backends = [...new Set(rows.map((r) => r.backend))];
  const heads = ['op', 'tiers'];
  for (const b of backends) heads.push(`${b} passed`, ...(b === 'webgpu' ? ['on gpu'] : []), 'worst ratio');
  const table = formatTable(
    heads,
    ops.map((op) => {
      const line: (string | number)[] = [
        op,
        [...new Set(rows.filter((r) => r.op === op).map((r) => r.tier))].join(' '),
      ];
      for (const b of backends) {
        const mine = rows.filter((r) => r.op === op && r.backend === b);
        const ratios = mine.map((r) => r.worstRatio).filter((x): x is number => x !== null);
        line.push(`${mine.filter((r) => r.pass).length}/${mine.length}`);
        if (b === 'webgpu') line.push(mine.filter((r) => r.ranOn === 'webgpu').length);
        line.push(ratios.length ? Math.max(...ratios) : '-');
      }
      return line;
    }),
  );
  return `parity matrix on ${backends.join(' and ')} against the float64 reference (plumbline parity for every row):\n${table}`;
}

function formatDemoModel(m: DemoModelResult): string {
  const same = m.referenceTokens.every((t, i) => t === m.tokens[i]);
  return [
    `model: ${m.path}${m.written ? ' (written now)' : ' (cached)'}: llama, 2 layers, n_embd 256, Q4_K weights`,
    `prompt ${JSON.stringify(m.prompt)} → ${JSON.stringify(m.tokens)}`,
    `text: ${JSON.stringify(m.text)}`,
    `${m.backend}, ${m.threads} threads: prompt ${m.promptTokensPerS.toFixed(1)} tokens/s, generation ${m.genTokensPerS.toFixed(1)} tokens/s`,
    '',
    'one pass over the prompt, wasm against the float64 reference (exact numerics):',
    formatTable(
      ['stage', 'values', 'NMSE', 'max |err|', 'cosine'],
      m.stages.map((s) => [s.stage, s.count, s.nmse, s.maxAbs, s.cosine.toFixed(12)]),
    ),
    `logits: ${m.logits.pass ? 'PASS' : 'FAIL'} ${m.logits.reason}; top-10 overlap ${m.logits.top10Overlap.toFixed(3)}`,
    `greedy tokens (first ${m.referenceTokens.length}): ${same ? 'identical on both backends' : `DIFFER: reference ${JSON.stringify(m.referenceTokens)}`}`,
  ].join('\n');
}
