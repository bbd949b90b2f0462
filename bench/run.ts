/**
 * `npm run bench [-- SUITE...] [--json]`: runs the benchmark suites (all by
 * default) and prints one table per suite, or JSON.
 */
import { attentionBench } from './attention.bench.js';
import { browserBench } from './browser.bench.js';
import { dequantBench } from './dequant.bench.js';
import { engineBench } from './engine.bench.js';
import { type SuiteResult, table } from './lib.js';
import { matmulF32Bench } from './matmul-f32.bench.js';
import { matmulGgmlBench } from './matmul-ggml.bench.js';
import { matmulPeersBench } from './matmul-peers.bench.js';
import { matmulQuantBench } from './matmul-quant.bench.js';
import { modelBench } from './model.bench.js';
import { moeBench } from './moe.bench.js';
import { nnBench } from './nn.bench.js';
import { scanBench } from './scan.bench.js';
import { schedulerBench } from './scheduler.bench.js';
import { tokenizerBench } from './tokenizer.bench.js';
import { webgpuBench } from './webgpu.bench.js';

const suites: Record<string, () => Promise<SuiteResult>> = {
  attention: () => attentionBench(),
  browser: () => browserBench(),
  dequant: () => dequantBench(),
  engine: () => engineBench(),
  'matmul-peers': () => matmulPeersBench(),
  scan: () => scanBench(),
  scheduler: () => schedulerBench(),
  'matmul-ggml': () => matmulGgmlBench(),
  'matmul-f32': () => matmulF32Bench(),
  'matmul-quant': () => matmulQuantBench(),
  moe: () => moeBench(),
  model: () => modelBench(),
  nn: () => nnBench(),
  tokenizer: () => tokenizerBench(),
  webgpu: () => webgpuBench(),
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !suites[n]);
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
const results: SuiteResult[] = [];
for (const name of names.length ? names : Object.keys(suites)) {
  if (!json) console.error(`running ${name} ...`);
  const r = await suites[name]();
  results.push(r);
  if (!json) console.log(`\n== ${r.suite} ==\n${r.notes.join('\n')}\n\n${table(r.header, r.rows)}\n`);
}
if (json) console.log(JSON.stringify(results, null, 2));
