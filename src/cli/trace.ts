/** `plumbline trace FILE.gguf ... --out T.safetensors`: one forward pass with every requested stage captured. */
import { architectureStages } from '../model/capture.js';
import { engineTraceExtra, sha256Of, writeModelTrace } from '../model/trace-output.js';
import { type Command, parseCommandArgs, UsageError } from './command.js';
import { intList, MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelArgs, openModel, progress } from './model-args.js';
import { formatBytes, formatTable } from './table.js';

const HELP = `usage: plumbline trace FILE.gguf (--prompt TEXT | --tokens IDS) --out FILE.safetensors [options]

Runs one forward pass over the input tokens and writes the requested stages
(design.md, "Trace stages") to a safetensors trace file: per-token stages as
[n_tokens, dim] with every token, attn_scores and attn_softmax as
[n_head, n_q, n_kv]. Metadata: format plumbline-trace/1, producer, backend,
model (sha256 of the GGUF), tokens (JSON), numerics, and matmul_precision f16
when --matmul-precision f16 ran on WebGPU.
--backend reference runs the whole model on the float64 reference: slow and
exact, the oracle side of a parity question.

options:
${MODEL_OPTIONS_HELP}
  --stages LIST|all      stages to capture, comma-separated (default all):
                         embedding, attn_norm, q_proj, k_proj, v_proj, q_norm, k_norm
                         (qwen3), q_post_rope, k_post_rope, attn_scores, attn_softmax,
                         attention, attn_out, attn_residual, ffn_norm, ffn_gate, ffn_up,
                         ffn_act, ffn_swiglu, ffn_out, layer_output, output_norm, logits
  --layers LIST          layers for the per-layer stages: 0,2,5-7 (default all)
  --out FILE             the trace file to write`;

export const traceCommand: Command = {
  name: 'trace',
  summary: 'capture per-stage tensors of a forward pass into a safetensors trace',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...MODEL_OPTIONS,
      stages: { type: 'string', default: 'all' },
      layers: { type: 'string' },
      out: { type: 'string' },
    });
    const a = modelArgs(positionals, values);
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('missing --out FILE.safetensors');
    const stagesArg = values.stages as string;
    const stages = stagesArg === 'all' ? 'all' : stagesArg.split(',').map((s) => s.trim());
    const layers = values.layers === undefined ? 'all' : intList('--layers', values.layers as string);

    const sha = await sha256Of(a.file);
    const { engine, model, tokens } = await openModel(a);
    try {
      const bar = progress('forward');
      const t0 = performance.now();
      const r = await model.forward(tokens, {
        trace: { stages, layers },
        onLayer: (done, total) => bar.update(done, total),
      });
      bar.end();
      const seconds = (performance.now() - t0) / 1000;
      const trace = r.trace ?? new Map();
      await writeModelTrace(out, trace, {
        producer: 'plumbline',
        backend: engine.backend,
        model: sha,
        tokens,
        numerics: model.numerics,
        extra: engineTraceExtra(engine),
      });
      const entries = [...trace].map(([name, t]) => ({ name, shape: t.shape, bytes: t.data.byteLength }));
      const bytes = entries.reduce((s, e) => s + e.bytes, 0);
      if (a.json) {
        io.out(
          JSON.stringify(
            {
              out,
              model: sha,
              backend: engine.backend,
              numerics: model.numerics,
              tokens,
              seconds,
              stages: entries.map(({ name, shape }) => ({ name, shape })),
            },
            null,
            2,
          ),
        );
      } else {
        const available = architectureStages(model.hparams.arch, model.hparams.moe !== null);
        io.out(
          `${out}: ${entries.length} tensors, ${formatBytes(bytes)}, ${tokens.length} tokens, ` +
            `${model.architecture} on ${engine.backend} (${model.numerics} numerics), forward ${seconds.toFixed(2)} s`,
        );
        const byStage = new Map<string, { count: number; shape: number[] }>();
        for (const [name, t] of trace) {
          const stage = name.replace(/^blk\.\d+\./, '');
          const s = byStage.get(stage) ?? { count: 0, shape: t.shape };
          s.count++;
          byStage.set(stage, s);
        }
        io.out(
          formatTable(
            ['stage', 'tensors', 'shape (first)'],
            available
              .filter((s) => byStage.has(s))
              .map((s) => {
                const e = byStage.get(s) as { count: number; shape: number[] };
                return [s, e.count, `[${e.shape.join(', ')}]`];
              }),
          ),
        );
      }
      return 0;
    } finally {
      model.dispose();
      await engine.dispose();
    }
  },
};
