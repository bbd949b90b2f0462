/**
 * `plumbline scan-replay MODEL.safetensors CAND.safetensors [--tier T]`:
 * every step of a scan-model trace recomputed from the candidate's own
 * previous state and inputs (src/oracle/scan-replay.ts); names the first step
 * that does not follow. Exit 1 when there is one.
 */
import { readFile } from 'node:fs/promises';
import { ScanModel } from '../model/scan-model.js';
import { SCAN_REPLAY_TIERS, scanReplay } from '../oracle/scan-replay.js';
import { type Command, oneOf, parseCommandArgs, UsageError } from './command.js';
import { formatTable } from './table.js';

const HELP = `usage: plumbline scan-replay MODEL.safetensors CANDIDATE.safetensors [--tier T] [--json]

Replays a scan-model trace (from \`plumbline scan-trace\`, or any producer that
writes the same stage names) step by step: each GRU step's gates and state
are recomputed in float64 from the candidate's own previous state h_{t-1} and
its own scan_in row, each linear-scan step from its own previous state, each
scan_in / scan_out row from the candidate's own input, and judged against the
error a correct kernel may make at the tier. A step that does not follow from
its inputs is a fault; the step after it that follows from the replayed state
instead of the recorded one is its consequence. Drift that follows from the
inputs is no fault. Exit code 1 when a fault is found.

options:
  --tier T               ${SCAN_REPLAY_TIERS.join(', ')} (default f32)
  --json                 the full result as JSON`;

export const scanReplayCommand: Command = {
  name: 'scan-replay',
  summary: "replay a scan model's trace step by step; the first step that does not follow",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      tier: { type: 'string', default: 'f32' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 2) throw new UsageError('give MODEL.safetensors and CANDIDATE.safetensors');
    const tier = oneOf('tier', values.tier, SCAN_REPLAY_TIERS);
    const model = await ScanModel.read(new Uint8Array(await readFile(positionals[0])));
    const r = await scanReplay(model, positionals[1], { tier });
    if (values.json) io.out(JSON.stringify(r, (_, v) => (v === Number.POSITIVE_INFINITY ? 'inf' : v), 2));
    else {
      const steps = (s: number[]) => (s.length ? s.slice(0, 6).join(',') + (s.length > 6 ? ',…' : '') : '-');
      io.out(
        formatTable(
          ['stage', 'steps', 'verdict', 'fault steps', 'consequences', 'worst ratio', 'at step'],
          r.rows.map((row) => [
            row.name,
            row.steps,
            row.verdict === 'skipped' ? `skipped (${row.reason})` : row.verdict,
            steps(row.faultSteps),
            steps(row.consequenceSteps),
            row.worstRatio.toPrecision(3),
            row.worstStep,
          ]),
        ),
      );
      io.out(
        r.firstFault
          ? `first fault: ${r.firstFault.name} at step ${r.firstFault.step} (does not follow from its own inputs at the ${tier} tier)`
          : `every step follows from its own inputs at the ${tier} tier`,
      );
    }
    return r.firstFault ? 1 : 0;
  },
};
