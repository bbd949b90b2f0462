/**
 * `plumbline scan-trace MODEL.safetensors --tokens IDS --out T.safetensors`:
 * one pass of a scan model (src/model/scan-model.ts) with every stage
 * captured into a plumbline trace that `plumbline diff` and
 * `plumbline scan-replay` read. --synthetic writes a model first.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { type BackendChoice, createEngine } from '../engine/engine.js';
import { scanTraceBytes } from '../model/scan-forward.js';
import { ScanModel, type ScanModelSpec, syntheticScanModel } from '../model/scan-model.js';
import { type Command, oneOf, parseCommandArgs, UsageError } from './command.js';
import { intList, positiveInt } from './model-args.js';
import { formatBytes } from './table.js';

/** The model --synthetic writes without --spec: one layer of each GRU structure (one quantized) and a linear scan. */
export const DEFAULT_SCAN_SPEC: ScanModelSpec = {
  vocab: 64,
  dim: 32,
  layers: [
    { kind: 'gru', structure: 'dense', hidden: 32 },
    { kind: 'gru', structure: 'monarch', hidden: 16, stateScale: 1 / 127 },
    { kind: 'linear' },
    { kind: 'gru', structure: 'butterfly', hidden: 32 },
    { kind: 'gru', structure: 'diagonal', hidden: 32 },
  ],
};

const HELP = `usage: plumbline scan-trace MODEL.safetensors|MODEL.gguf --tokens IDS --out TRACE.safetensors [options]

Runs a scan model (token embedding, a stack of GRU and linear-scan layers,
RMS norm, logits; src/model/scan-model.ts) over the tokens and writes every
stage to a plumbline trace: embedding; per layer blk.L.scan_in (the
recurrence's input projections), scan_gates (GRU: r, z, n per step; linear:
the decay), scan_state (every h_t), scan_out, layer_output; output_norm;
logits. Compare two traces with \`plumbline diff\`; replay one step by step
with \`plumbline scan-replay\`.

options:
  --tokens IDS           token ids, comma-separated (ranges a-b allowed)
  --out FILE             the trace file to write
  --backend B            wasm (default) or reference (float64)
  --threads N            wasm threads (default: available parallelism)
  --synthetic            first write a synthetic model to MODEL (deterministic weights;
                         GGUF when MODEL ends in .gguf, the form \`plumbline replay\` reads)
  --spec JSON            its spec (default: ${JSON.stringify(DEFAULT_SCAN_SPEC)})
  --seed N               its weights' seed (default 1)
  --json                 print a JSON summary`;

export const scanTraceCommand: Command = {
  name: 'scan-trace',
  summary: 'capture every stage of a scan model (GRU / linear-scan layers) into a trace',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      tokens: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      threads: { type: 'string' },
      synthetic: { type: 'boolean' },
      spec: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('give one MODEL.safetensors');
    const [file] = positionals;
    const { out } = values;
    if (!out) throw new UsageError('missing --out TRACE.safetensors');
    if (values.tokens === undefined) throw new UsageError('missing --tokens IDS');
    const tokens = intList('--tokens', values.tokens);
    const backend: BackendChoice = oneOf('backend', values.backend, ['wasm', 'reference']);
    if (values.synthetic) {
      let spec = DEFAULT_SCAN_SPEC;
      if (values.spec !== undefined)
        try {
          spec = JSON.parse(values.spec);
        } catch {
          throw new UsageError('--spec must be JSON');
        }
      const seed = positiveInt('--seed', values.seed) ?? 1;
      await writeFile(file, syntheticScanModel(spec, seed, file.endsWith('.gguf') ? 'gguf' : 'safetensors'));
    } else if (!existsSync(file)) throw new UsageError(`${file} does not exist (--synthetic writes one)`);
    const bytes = new Uint8Array(await readFile(file));
    const model = await ScanModel.read(bytes);
    const engine = await createEngine({ backend, threads: positiveInt('--threads', values.threads) });
    try {
      const t0 = performance.now();
      const trace = await scanTraceBytes(engine, model, bytes, tokens);
      const seconds = (performance.now() - t0) / 1000;
      await writeFile(out, trace);
      const summary = {
        out,
        model: file,
        backend: engine.backend,
        tokens: tokens.length,
        bytes: trace.length,
        seconds,
      };
      if (values.json) io.out(JSON.stringify(summary, null, 2));
      else
        io.out(
          `${out}: ${formatBytes(trace.length)}, ${tokens.length} tokens, ${model.spec.layers.length} scan layers on ${engine.backend}, ${seconds.toFixed(2)} s`,
        );
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
