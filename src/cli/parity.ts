/** `plumbline parity`: the parity matrix (oracle/parity-matrix.ts) on each backend, as a table or JSON. */
import { BackendUnavailableError, createEngine } from '../engine/engine.js';
import { PARITY_ROW_HEADS, parityRowCells } from '../oracle/parity-columns.js';
import { renderParityHtml } from '../oracle/parity-html.js';
import { PARITY_OPS, type ParityOp, type ParityRow, parityMatrix } from '../oracle/parity-matrix.js';
import { type CliIo, type Command, parseCommandArgs, UsageError } from './command.js';
import { formatGpu, type GpuInfo } from './gpu-info.js';
import { writeReport } from './report-output.js';
import { formatTable } from './table.js';

const BACKENDS = ['reference', 'wasm', 'webgpu', 'webgpu-f16'] as const;
type ParityBackend = (typeof BACKENDS)[number];
/** The default list: webgpu-f16 (the WebGPU engine again, its matmuls with f16 operands) on request. */
const DEFAULT_BACKENDS: readonly ParityBackend[] = ['reference', 'wasm', 'webgpu'];

const HELP = `usage: plumbline parity [--backends reference,wasm,webgpu,webgpu-f16] [--ops matmul,rms_norm,...] [--json]
                       [--html REPORT.html]

Runs every op × dtype × a few shapes (ragged included) on each backend and
compares the output with the float64 reference under the tier its precision
explains: per-element bounds (matmul: γ(K)·Σ|x||w|, the q8/f16/bf16 tiers for
ggml numerics; nn ops, attention over f32 and f16 K/V, the linear scan and MoE
routing weights: their derived bounds; MoE expert ids exact), exact for add and
embedding. Prints pass/fail, the worst |a − r|/bound ratio and the op's time.
Exit code 1 when any row fails.

options:
  --backends LIST  comma-separated, from ${BACKENDS.join(', ')} (default:
                   ${DEFAULT_BACKENDS.join(',')}; a backend unavailable here, such as webgpu
                   without an adapter, is reported and skipped; webgpu rows count calls
                   that fell back to wasm; webgpu-f16: matmulPrecision 'f16', its matmuls
                   held to the f16-operand bound)
  --ops LIST       comma-separated, from ${PARITY_OPS.join(', ')} (default: all)
  --json           print the rows as JSON
  --html FILE      also write a self-contained HTML report: an op × dtype by
                   backend grid coloured by the worst ratio, a bar chart of the
                   ratios, every row (webgpu rows: where each case ran)
  -h, --help       show this help`;

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
  defaults: readonly T[] = allowed,
): T[] {
  if (value === undefined) return [...defaults];
  const items = value.split(',').filter((s) => s.length > 0);
  for (const s of items) {
    if (!(allowed as readonly string[]).includes(s))
      throw new UsageError(`${flag}: unknown ${JSON.stringify(s)} (expected ${allowed.join(', ')})`);
  }
  if (items.length === 0) throw new UsageError(`${flag}: empty list`);
  return items as T[];
}

interface ParityArgs {
  backends: ParityBackend[];
  ops: ParityOp[];
  json: boolean;
  html?: string;
}

function parse(argv: string[]): ParityArgs {
  const { values } = parseCommandArgs(
    argv,
    {
      backends: { type: 'string' },
      ops: { type: 'string' },
      json: { type: 'boolean' },
      html: { type: 'string' },
    },
    false,
  );
  return {
    backends: list(values.backends, BACKENDS, '--backends', DEFAULT_BACKENDS),
    ops: list(values.ops, PARITY_OPS, '--ops'),
    json: values.json ?? false,
    ...(values.html !== undefined ? { html: values.html } : {}),
  };
}

function toText(rows: ParityRow[]): string {
  const failed = rows.filter((r) => !r.pass).length;
  const table = formatTable(
    [...PARITY_ROW_HEADS, 'worst ratio', 'ms'],
    rows.map((r) => [
      ...parityRowCells(r),
      r.worstRatio === null ? '—' : r.worstRatio.toPrecision(3),
      r.ms.toFixed(2),
    ]),
  );
  const reasons = rows
    .filter((r) => !r.pass)
    .map((r) => `${r.backend} ${r.op} ${r.dtype} ${r.shape}: ${r.reason}`);
  return [table, '', `${rows.length - failed} passed, ${failed} failed`, ...reasons].join('\n');
}

/** The WebGPU engine's adapter in words (other engines have no device: undefined). */
function deviceOf(engine: object): string | undefined {
  const d = (engine as { device?: GpuInfo }).device;
  return d ? formatGpu(d) : undefined;
}

export const parityCommand: Command = {
  name: 'parity',
  summary: 'parity matrix: every op × dtype × shape on each backend against the reference',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { backends, ops, json, html } = parse(argv);
    const rows: ParityRow[] = [];
    const skipped: { backend: string; reason: string }[] = [];
    const devices: Record<string, string> = {};
    for (const backend of backends) {
      let engine: Awaited<ReturnType<typeof createEngine>>;
      try {
        engine =
          backend === 'webgpu-f16'
            ? await createEngine({ backend: 'webgpu', matmulPrecision: 'f16' })
            : await createEngine({ backend });
      } catch (e) {
        if (!(e instanceof BackendUnavailableError)) throw e;
        skipped.push({ backend, reason: e.message });
        continue;
      }
      const device = deviceOf(engine);
      if (device) devices[backend === 'webgpu-f16' ? backend : engine.backend] = device;
      try {
        rows.push(...(await parityMatrix(engine, { ops })));
      } finally {
        await engine.dispose();
      }
    }
    await writeReport(io, 'parity', {
      json,
      html,
      toJson: () => JSON.stringify({ rows, skipped }, null, 2),
      toText: () => [toText(rows), ...skipped.map((s) => `${s.backend}: skipped (${s.reason})`)].join('\n'),
      toHtml: () => renderParityHtml(rows, { skipped, devices }),
    });
    return rows.every((r) => r.pass) ? 0 : 1;
  },
};
