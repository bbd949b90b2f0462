/** `plumbline diff REF CAND`: per-stage metrics of two traces, the first divergence, optionally JSON and an HTML report. */
import { type DiffResult, diff } from '../oracle/diff.js';
import { HEAT_METRICS, type HeatMetric, renderDiffHtml } from '../oracle/diff-html.js';
import { diffToJson, finiteJson, formatDiff } from '../oracle/diff-report.js';
import { TIER_NAMES } from '../oracle/tiers.js';
import { NAME_MAPS } from '../trace/name-maps.js';
import { type CliIo, type Command, oneOf, parseCommandArgs, UsageError } from './command.js';
import { withProgress, writeReport } from './report-output.js';

const TIERS = [...TIER_NAMES, 'ggml'];

const HELP = `usage: plumbline diff REFERENCE.safetensors CANDIDATE.safetensors
                      [--tier f32|tf32|f16|bf16|q8|exact|ggml] [--json] [--html REPORT.html]
                      [--map NAME] [--head-dim N] [--metric ratio|nmse|cosine|growth]

Compares two traces of the same forward pass stage by stage, in computation
order (embedding, each layer's attn_norm … layer_output, output_norm,
logits). Each stage is judged at the tier: its NMSE and cosine against limits
derived from the tier's precision and the stage's dot length K (ggml's fixed
test-backend-ops limit is shown beside it). Then the first divergence — the
earliest stage over the tier — with the error growth from its inputs: whether
that op introduced the error or only carried what its inputs brought.

A stage present in one trace only, or with shapes that do not hold the same
values, is listed, never skipped.

options:
  --tier T        precision that explains a difference (default f32):
                  ${TIERS.join(', ')}
  --json          print { tier, firstDivergence, stages } as JSON (inf and NaN as strings)
  --html FILE     also write a self-contained HTML report: heat map, per-layer
                  charts, the first divergence highlighted, the table
  --metric M      the heat map's initial metric (default ratio): ${Object.keys(HEAT_METRICS).join(', ')}
  --map NAME      read traces named by another producer: ${[...NAME_MAPS.keys()].join(', ')}
  --head-dim N    head size, for maps that reorder Q/K per head when the traces do not show it
  -h, --help      show this help

exit status: 0 no divergence, 1 a stage over the tier (or an error), 2 bad usage`;

interface DiffArgs {
  reference: string;
  candidate: string;
  tier: string;
  json: boolean;
  html?: string;
  map?: string;
  headDim?: number;
  metric: HeatMetric;
}

function parseDiffArgs(argv: string[]): DiffArgs {
  const { values: v, positionals } = parseCommandArgs(argv, {
    tier: { type: 'string' },
    json: { type: 'boolean' },
    html: { type: 'string' },
    map: { type: 'string' },
    'head-dim': { type: 'string' },
    metric: { type: 'string' },
  });
  if (positionals.length !== 2)
    throw new UsageError(`expected two trace files (reference, candidate), got ${positionals.length}`);
  const tier = oneOf('tier', v.tier ?? 'f32', TIERS);
  if (v.map !== undefined) oneOf('map', v.map, [...NAME_MAPS.keys()]);
  const metric = oneOf('metric', v.metric ?? 'ratio', Object.keys(HEAT_METRICS) as HeatMetric[]);
  let headDim: number | undefined;
  if (v['head-dim'] !== undefined) {
    headDim = Number(v['head-dim']);
    if (!(Number.isInteger(headDim) && headDim > 0))
      throw new UsageError(`--head-dim must be a positive integer`);
  }
  return {
    reference: positionals[0],
    candidate: positionals[1],
    tier,
    json: v.json ?? false,
    ...(v.html !== undefined ? { html: v.html } : {}),
    ...(v.map !== undefined ? { map: v.map } : {}),
    ...(headDim !== undefined ? { headDim } : {}),
    metric,
  };
}

export const diffCommand: Command = {
  name: 'diff',
  summary: 'compare two traces stage by stage; first divergence, JSON, HTML report',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const a = parseDiffArgs(argv);
    const result = await withProgress('diff', (onProgress) =>
      diff(a.reference, a.candidate, {
        tier: a.tier as DiffResult['tier'],
        ...(a.map ? { map: a.map } : {}),
        ...(a.headDim ? { headDim: a.headDim } : {}),
        onProgress,
      }),
    );
    await writeReport(io, 'diff', {
      json: a.json,
      html: a.html,
      warnings: result.warnings,
      toJson: () => JSON.stringify(diffToJson(result), finiteJson, 2),
      toText: () => formatDiff(result),
      toHtml: () => renderDiffHtml(result, { metric: a.metric }),
    });
    return result.firstDivergence ? 1 : 0;
  },
};
