/** `plumbline replay MODEL CAND`: recompute each stage from the candidate's own inputs; the first fault. */
import { finiteJson } from '../oracle/diff-report.js';
import { type ReplayOptions, type ReplayTier, replay } from '../oracle/replay.js';
import { formatReplay, renderReplayHtml, replayToJson } from '../oracle/replay-report.js';
import { TIER_NAMES } from '../oracle/tiers.js';
import { NAME_MAPS } from '../trace/name-maps.js';
import { type CliIo, type Command, oneOf, parseCommandArgs, UsageError } from './command.js';
import { intList } from './model-args.js';
import { withProgress, writeReport } from './report-output.js';

const TIERS: ReplayTier[] = ['auto', ...TIER_NAMES];

const HELP = `usage: plumbline replay MODEL.gguf CANDIDATE.safetensors
                        [--reference-trace REFERENCE.safetensors | --no-reference]
                        [--tier auto|f32|tf32|f16|bf16|q8|exact] [--numerics exact|ggml]
                        [--matmul-precision f32|f16]
                        [--map NAME] [--tokens IDS] [--json] [--html REPORT.html]

Finds the kernel that is wrong, not the first stage that drifted. For every
stage of the candidate trace, recomputes that stage in float64 from the
candidate's OWN captured inputs (blk.L.q_proj from its blk.L.attn_norm and the
model's weights, attention from its q_post_rope, k_post_rope and v_proj, …)
and checks the candidate's output against the error a correct kernel may
make at the tier (matmuls: the bound scaled by Σ|x|·|w|). Each stage is:
  fault        its output does not follow from its inputs: this kernel is wrong
  consequence  it follows from the replayed value of a faulty input, not from
               the recorded one (the trace recorded something else than it consumed)
  carried      follows from its inputs but differs from the reference: upstream drift
  ok           follows from its inputs and agrees with the reference
  skipped      no replay rule for the stage, or an input was not captured
The candidate's tokens come from its metadata; the pass must start at position 0.

options:
  --tier T             auto (default): matmuls at their weight type's tier in the
                       numerics (ggml: q8 for quantized weights), the embedding
                       exact, the rest f32; or one tier for every stage: ${TIER_NAMES.join(', ')}
  --numerics N         the candidate's numerics (default: its metadata's): ggml
                       keeps K and V in an f16 cache, which the replay rounds alike
  --matmul-precision P the candidate's matmul operands (default: its metadata's
                       matmul_precision, else f32): f16 (rounded to f16, f32 sums, as
                       trace --backend webgpu --matmul-precision f16 or an fp16 GPU
                       kernel computes) puts --tier auto's non-q8 matmuls at f16
  --reference-trace R  tell carried from ok against this trace (default: the model
                       run on the reference backend, exact numerics, same tokens)
  --no-reference       do not compare with a reference (no carried verdicts)
  --map NAME           read traces named by another producer: ${[...NAME_MAPS.keys()].join(', ')}
  --tokens IDS         the pass's token ids (comma-separated, ranges a-b allowed),
                       for a trace whose metadata has none
  --json               print { tier, numerics, reference, firstFault, stages, warnings }
                       as JSON (inf and NaN as strings)
  --html FILE          also write a self-contained HTML report
  -h, --help           show this help

exit status: 0 no fault, 1 a fault (or an error), 2 bad usage`;

interface ReplayArgs {
  model: string;
  candidate: string;
  opts: ReplayOptions;
  json: boolean;
  html?: string;
}

function parseReplayArgs(argv: string[]): ReplayArgs {
  const { values: v, positionals } = parseCommandArgs(argv, {
    tier: { type: 'string' },
    numerics: { type: 'string' },
    'reference-trace': { type: 'string' },
    'no-reference': { type: 'boolean' },
    json: { type: 'boolean' },
    html: { type: 'string' },
    map: { type: 'string' },
    tokens: { type: 'string' },
    'matmul-precision': { type: 'string' },
  });
  if (positionals.length !== 2)
    throw new UsageError(`expected a model and a candidate trace, got ${positionals.length} arguments`);
  const tier = oneOf('tier', v.tier ?? 'auto', TIERS);
  if (v['no-reference'] && v['reference-trace'] !== undefined)
    throw new UsageError('give either --reference-trace or --no-reference');
  const opts: ReplayOptions = { tier };
  if (v.map !== undefined) opts.map = oneOf('map', v.map, [...NAME_MAPS.keys()]);
  if (v.tokens !== undefined) opts.tokens = intList('--tokens', v.tokens);
  if (v.numerics !== undefined) opts.numerics = oneOf('numerics', v.numerics, ['exact', 'ggml'] as const);
  if (v['matmul-precision'] !== undefined)
    opts.matmulPrecision = oneOf('matmul-precision', v['matmul-precision'], ['f32', 'f16'] as const);
  if (v['no-reference']) opts.reference = 'none';
  else if (v['reference-trace'] !== undefined) opts.reference = v['reference-trace'];
  return {
    model: positionals[0],
    candidate: positionals[1],
    opts,
    json: v.json ?? false,
    ...(v.html !== undefined ? { html: v.html } : {}),
  };
}

export const replayCommand: Command = {
  name: 'replay',
  summary: "recompute each stage from the candidate's own inputs; name the faulty kernel",
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const a = parseReplayArgs(argv);
    const result = await withProgress('replay', (onProgress) =>
      replay(a.model, a.candidate, { ...a.opts, onProgress }),
    );
    await writeReport(io, 'replay', {
      json: a.json,
      html: a.html,
      warnings: result.warnings,
      toJson: () => JSON.stringify(replayToJson(result), finiteJson, 2),
      toText: () => formatReplay(result),
      toHtml: () => renderReplayHtml(result),
    });
    return result.firstFault ? 1 : 0;
  },
};
