/**
 * Step-by-step replay of a scan model's trace (src/model/scan-forward.ts):
 * every step of every scan stage is recomputed in float64 from the
 * candidate's *own* captured inputs of that step — for the recurrence, the
 * candidate's own previous state h_{t−1} and its own input projections — and
 * judged against the error a correct kernel may make at the tier:
 *
 * - scan_in, scan_out: each row a matmul (+ bias) of the candidate's row,
 *   at the tier's bound for K terms with magnitude Σ|x||w| (tiers.ts);
 * - GRU scan_gates, scan_state: one GRU step from h_{t−1}, within the
 *   step's derived bound (referenceGruStepBound, with the tier's unit
 *   roundoff); the quantized GRU: the state code must be one the bound
 *   allows (the rounding of some value within it; ties need the bound to
 *   reach a .5 boundary), the gates within their bound;
 * - linear scan_gates: the model's decay, exactly; scan_state: one step
 *   h = a·h_{t−1} + b within γ(2, u)·(|a||h_{t−1}| + |b|).
 *
 * A step that does not follow from its inputs is a fault. The next step of
 * a fault, if it does not follow from the candidate's recorded state but
 * does from the replayed one, is a consequence (the recorded state is not
 * what the kernel went on with). Drift that follows from the inputs — a state
 * far from the reference's because earlier states differed — is no fault.
 * The first fault in computation order (layer by layer: scan_in's rows,
 * then each step's gates and state, then scan_out's rows) is the step to fix.
 */
import { referenceGruStepBound } from '../backends/reference/gru.js';
import { referenceMatmul } from '../backends/reference/matmul.js';
import { type ScanModel, scanLayerNames } from '../model/scan-model.js';
import { type GruRecurrence, int8ProductRoundings, quantizeRecurrence } from '../ops/gru.js';
import { quantizeInt8 } from '../ops/int8-quantizer.js';
import { residualName, stageName } from '../trace/stages.js';
import { readTrace, type Trace } from '../trace/trace-file.js';
import { EXP_REL_ERROR } from './arithmetic.js';
import { ParityOptionError } from './errors.js';
// The same checks as rules of replay() (replay-rules.ts): registered wherever scan replay is loaded.
import './scan-replay-rules.js';
import { gamma, type TierName, tierBound, UNIT_ROUNDOFF } from './tiers.js';

export type ScanReplayTier = Exclude<TierName, 'exact' | 'q8'>;
export const SCAN_REPLAY_TIERS: readonly ScanReplayTier[] = ['f32', 'tf32', 'f16', 'bf16'];

export type ScanStage = 'scan_in' | 'scan_gates' | 'scan_state' | 'scan_out';
const SCAN_STAGES: readonly ScanStage[] = ['scan_in', 'scan_gates', 'scan_state', 'scan_out'];

export interface ScanReplayRow {
  name: string;
  layer: number;
  stage: ScanStage;
  /** Rows (steps) checked. */
  steps: number;
  verdict: 'ok' | 'fault' | 'skipped';
  /** Steps whose values do not follow from their own inputs. */
  faultSteps: number[];
  /** Steps after a fault that follow from the replayed (not the recorded) previous state. */
  consequenceSteps: number[];
  /** Worst |candidate − replay| / bound over the steps (≤ 1: explained by the tier), and where. */
  worstRatio: number;
  worstStep: number;
  reason?: string;
}

export interface ScanReplayResult {
  tier: ScanReplayTier;
  rows: ScanReplayRow[];
  firstFault: { name: string; layer: number; stage: ScanStage; step: number } | null;
}

type Vec = Float32Array | Float64Array;

/** The int8 code of a replayed value; NaN for NaN (replayed from a NaN the candidate recorded: no step follows). */
const codeOf = (v: number, sh: number) => (Number.isNaN(v) ? v : quantizeInt8(v, sh));

/** Whether ratio r replaces the worst so far: a NaN (a NaN value where the replay has a number) stays worst. */
const worse = (r: number, than: number) => !Number.isNaN(than) && !(r <= than);

/** Per step of a stage: the worst ratio, and whether the step is consistent (ratio ≤ 1 unless told). */
interface StepCheck {
  ratio: number;
  ok: boolean;
}

function rowResult(name: string, layer: number, stage: ScanStage, checks: StepCheck[]): ScanReplayRow {
  let worstRatio = 0;
  let worstStep = -1;
  const faultSteps: number[] = [];
  checks.forEach((c, t) => {
    if (worse(c.ratio, worstRatio)) [worstRatio, worstStep] = [c.ratio, t];
    if (!c.ok) faultSteps.push(t);
  });
  return {
    name,
    layer,
    stage,
    steps: checks.length,
    verdict: faultSteps.length ? 'fault' : 'ok',
    faultSteps,
    consequenceSteps: [],
    worstRatio,
    worstStep,
  };
}

/** Each row's ratio for y = x·Wᵀ (+ b) at the tier. */
function matmulChecks(
  x: Vec,
  w: Float32Array,
  b: Float32Array | null,
  N: number,
  K: number,
  cand: Vec,
  tier: TierName,
) {
  const M = x.length / K;
  const { y, magnitude } = referenceMatmul(x, w, M, N, K);
  const checks: StepCheck[] = [];
  for (let m = 0; m < M; m++) {
    let ratio = 0;
    for (let n = 0; n < N; n++) {
      const i = m * N + n;
      const ref = y[i] + (b ? b[n] : 0);
      const mag = magnitude[i] + (b ? Math.abs(b[n]) : 0);
      const r = Math.abs(cand[i] - ref) / tierBound(tier, b ? K + 1 : K, mag, ref);
      if (worse(r, ratio)) ratio = r;
    }
    checks.push({ ratio, ok: ratio <= 1 });
  }
  return checks;
}

function worst(
  values: ArrayLike<number>,
  ref: ArrayLike<number>,
  bound: ArrayLike<number>,
  off: number,
): number {
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    const v = Math.abs(values[off + i] - ref[i]) / bound[i];
    if (worse(v, r)) r = v;
  }
  return r;
}

export interface GruLayer {
  rec: GruRecurrence;
  bh: Float32Array;
  /** The quantized GRU: the state step and the int8 product's roundings. */
  sh?: number;
}

/** Layer l's GRU as the replay computes it (the quantized GRU: U dequantized from its int8 codes). */
export function gruLayer(model: ScanModel, l: number): GruLayer {
  const q = model.stateQuantizer(l);
  const rec = model.recurrence(l);
  return {
    rec: q ? quantizeRecurrence(rec).rec : rec,
    bh: model.tensor(scanLayerNames(l).bh),
    sh: q?.scales()[0],
  };
}

/**
 * How far a quantized state may lie from the replayed code's value f32(q·s_h):
 * to the farthest code that rounds some value within the bound (the f32
 * division h'/s_h adds u relative), plus the f32 rounding of q·s_h.
 */
export function int8StateSlack(g: GruLayer, step: ReturnType<typeof gruStep>, u: number): Float64Array {
  const sh = g.sh as number;
  return step.h.map((v, i) => {
    const w = step.bound[i] + u * (Math.abs(v) + step.bound[i]);
    const q = codeOf(v, sh);
    const far = Math.max(q - codeOf(v - w, sh), codeOf(v + w, sh) - q);
    return far * sh + 2 ** -24 * Math.abs(q * sh);
  });
}

/** One GRU step from `prev` with its bounds at unit roundoff u. */
export function gruStep(g: GruLayer, gx: Vec, prev: ArrayLike<number>, u: number) {
  const H = g.rec.H;
  return referenceGruStepBound(g.rec, gx, g.bh, prev, {
    u,
    expRelError: Math.max(EXP_REL_ERROR, 2 * u),
    ...(g.sh !== undefined
      ? { productRoundings: int8ProductRoundings(g.rec.kind, H), stateRelError: u }
      : {}),
  });
}

/**
 * The state check of one GRU step: f32, the ratio to the bound; quantized,
 * whether the code is the rounding of some value within the bound (the f32
 * division h'/s_h adds u relative), the ratio |code − x| / (½ + w) in steps.
 */
function stateCheck(
  g: GruLayer,
  step: ReturnType<typeof gruStep>,
  h: Vec,
  off: number,
  u: number,
): StepCheck {
  if (g.sh === undefined) {
    const ratio = worst(h, step.h, step.bound, off);
    return { ratio, ok: ratio <= 1 };
  }
  const sh = g.sh;
  let ratio = 0;
  let ok = true;
  for (let i = 0; i < step.h.length; i++) {
    const x = step.h[i] / sh;
    const w = step.bound[i] / sh + u * (Math.abs(x) + step.bound[i] / sh);
    // A state on the grid is f32(code·s_h) (or the exact product, in float64 traces).
    const code = Math.round(h[off + i] / sh);
    const onGrid = h[off + i] === Math.fround(code * sh) || h[off + i] === code * sh;
    const [lo, hi] = [codeOf(step.h[i] - w * sh, sh), codeOf(step.h[i] + w * sh, sh)];
    if (!(onGrid && code >= lo && code <= hi)) ok = false;
    const r = Math.abs(code - x) / (0.5 + w);
    if (worse(r, ratio)) ratio = r;
  }
  return { ratio, ok };
}

/**
 * One linear-scan step h = a·h_{t−1} + b from `prev` (b: the row of `xin` at
 * `off`), and its bound γ(2, u)·(|a·h_{t−1}| + |b|) plus two subnormal roundings.
 */
export function linearStep(
  a: ArrayLike<number>,
  xin: ArrayLike<number>,
  off: number,
  prev: ArrayLike<number>,
  u: number,
) {
  const D = prev.length;
  const y = new Float64Array(D);
  const bound = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const [p, b] = [a[d] * prev[d], xin[off + d]];
    y[d] = p + b;
    bound[d] = gamma(2, u) * (Math.abs(p) + Math.abs(b)) + 2 * 2 ** -149;
  }
  return { y, bound };
}

/** The replayed state of a step: the float64 value, fake-quantized for the quantized GRU. */
export function replayedState(g: GruLayer, step: ReturnType<typeof gruStep>): Float64Array {
  const sh = g.sh;
  return sh === undefined ? step.h : step.h.map((v) => codeOf(v, sh) * sh);
}

/** Replays the scan stages of a candidate trace of `model`, step by step. */
export async function scanReplay(
  model: ScanModel,
  candidate: string | Uint8Array | Trace,
  opts: { tier?: ScanReplayTier } = {},
): Promise<ScanReplayResult> {
  const tier = opts.tier ?? 'f32';
  if (!SCAN_REPLAY_TIERS.includes(tier))
    throw new ParityOptionError(
      `scan replay: tier must be one of ${SCAN_REPLAY_TIERS.join(', ')} (a recurrence in float64 has no exact bits to match), got ${JSON.stringify(tier)}`,
    );
  const u = UNIT_ROUNDOFF[tier];
  const trace =
    typeof candidate === 'string' || candidate instanceof Uint8Array ? await readTrace(candidate) : candidate;
  const owned = trace !== candidate;
  try {
    const { dim: D } = model.spec;
    const rows: ScanReplayRow[] = [];
    const read = async (name: string) => (trace.get(name) ? trace.read(name) : undefined);
    // Steps: the tokens, else the embedding's rows; a stage of another shape is not judged (its rows
    // past T would go unchecked, its missing ones read as undefined).
    const T = trace.metadata.tokens?.length ?? trace.get('embedding')?.shape[0];
    for (let l = 0; l < model.spec.layers.length; l++) {
      const layer = model.spec.layers[l];
      const n = scanLayerNames(l);
      const names = Object.fromEntries(SCAN_STAGES.map((s) => [s, stageName(s, l)])) as Record<
        ScanStage,
        string
      >;
      const badShape = new Map<ScanStage, string>();
      const skip = (stage: ScanStage, reason: string) =>
        rows.push({
          ...rowResult(names[stage], l, stage, []),
          verdict: 'skipped',
          reason: badShape.get(stage) ?? reason,
        });
      const width = layer.kind === 'gru' ? layer.hidden : D;
      const inWidth = layer.kind === 'gru' ? 3 * width : D;
      const widths = {
        scan_in: inWidth,
        scan_gates: layer.kind === 'gru' ? inWidth : D,
        scan_state: width,
        scan_out: D,
      };
      const shaped = (name: string, cols: number, v: Vec | undefined): string | undefined => {
        const shape = trace.get(name)?.shape;
        if (!v || !shape || T === undefined || (shape.length === 2 && shape[0] === T && shape[1] === cols))
          return;
        return `${name} has shape [${shape}], not [${T}, ${cols}] (steps × width)`;
      };
      const residualStage = residualName(l);
      let residual = await read(residualStage);
      const residualShape = shaped(residualStage, D, residual);
      if (residualShape) {
        badShape.set('scan_in', `its input: ${residualShape}`);
        residual = undefined;
      }
      const [xin, gates, state, out] = await Promise.all(
        SCAN_STAGES.map(async (s) => {
          const v = await read(names[s]);
          const bad = shaped(names[s], widths[s], v);
          if (bad) badShape.set(s, bad);
          return bad ? undefined : v;
        }),
      );

      // scan_in: rows of x·W_iᵀ + b_i from the candidate's residual stream.
      if (!xin) skip('scan_in', 'not captured');
      else if (!residual) skip('scan_in', 'its input (the residual stream) was not captured');
      else {
        const bias = layer.kind === 'gru' ? model.tensor(n.inBias) : null;
        rows.push(
          rowResult(
            names.scan_in,
            l,
            'scan_in',
            matmulChecks(residual, model.tensor(n.inWeight), bias, inWidth, D, xin, tier),
          ),
        );
      }

      // scan_gates and scan_state, step by step from the candidate's own previous state.
      if (!state || !xin) {
        if (!gates) skip('scan_gates', 'not captured');
        else if (!xin || !state) skip('scan_gates', 'scan_in or scan_state was not captured');
        skip('scan_state', !state ? 'not captured' : 'scan_in was not captured');
      } else if (layer.kind === 'gru') {
        const g = gruLayer(model, l);
        const H = width;
        const T = state.length / H;
        const gateChecks: StepCheck[] = [];
        const stateChecks: StepCheck[] = [];
        const gateConsequences: number[] = [];
        const consequences: number[] = [];
        const gateCheck = (step: ReturnType<typeof gruStep>, t: number): StepCheck => {
          const ratio = gates ? worst(gates, step.gates, step.gateBound, t * 3 * H) : 0;
          return { ratio, ok: ratio <= 1 };
        };
        let replayedPrev: Float64Array | null = null;
        for (let t = 0; t < T; t++) {
          const gx = xin.subarray(t * 3 * H, (t + 1) * 3 * H);
          const prev = t ? state.subarray((t - 1) * H, t * H) : new Float64Array(H);
          const step = gruStep(g, gx, prev, u);
          const gc = gateCheck(step, t);
          const sc = stateCheck(g, step, state, t * H, u);
          if (replayedPrev && (!gc.ok || !sc.ok)) {
            // The recorded h_{t−1} was a fault: does this step follow from the replayed one?
            const alt = gruStep(g, gx, replayedPrev, u);
            if (!gc.ok && gateCheck(alt, t).ok) {
              gc.ok = true;
              gateConsequences.push(t);
            }
            if (!sc.ok && stateCheck(g, alt, state, t * H, u).ok) {
              sc.ok = true;
              consequences.push(t);
            }
          }
          gateChecks.push(gc);
          stateChecks.push(sc);
          replayedPrev = sc.ok ? null : replayedState(g, step);
        }
        if (gates)
          rows.push({
            ...rowResult(names.scan_gates, l, 'scan_gates', gateChecks),
            consequenceSteps: gateConsequences,
          });
        else skip('scan_gates', 'not captured');
        rows.push({
          ...rowResult(names.scan_state, l, 'scan_state', stateChecks),
          consequenceSteps: consequences,
        });
      } else {
        const decay = model.tensor(n.decay);
        const T = state.length / D;
        if (gates) {
          const checks: StepCheck[] = [];
          for (let t = 0; t < T; t++) {
            let same = true;
            for (let d = 0; d < D; d++) same &&= gates[t * D + d] === decay[d];
            checks.push({ ratio: same ? 0 : Number.POSITIVE_INFINITY, ok: same });
          }
          rows.push(rowResult(names.scan_gates, l, 'scan_gates', checks));
        } else skip('scan_gates', 'not captured');
        const checks: StepCheck[] = [];
        const consequences: number[] = [];
        let replayedPrev: Float64Array | null = null;
        const step = (prev: ArrayLike<number>, t: number) => {
          const { y, bound } = linearStep(decay, xin, t * D, prev, u);
          return { y, ratio: worst(state, y, bound, t * D) };
        };
        for (let t = 0; t < T; t++) {
          const s = step(t ? state.subarray((t - 1) * D, t * D) : new Float64Array(D), t);
          let ok = s.ratio <= 1;
          if (!ok && replayedPrev && step(replayedPrev, t).ratio <= 1) {
            consequences.push(t);
            ok = true;
            replayedPrev = null;
          } else replayedPrev = ok ? null : s.y;
          checks.push({ ratio: s.ratio, ok });
        }
        rows.push({
          ...rowResult(names.scan_state, l, 'scan_state', checks),
          consequenceSteps: consequences,
        });
      }

      // scan_out: rows of h·W_oᵀ from the candidate's states.
      if (!out) skip('scan_out', 'not captured');
      else if (!state) skip('scan_out', 'scan_state was not captured');
      else
        rows.push(
          rowResult(
            names.scan_out,
            l,
            'scan_out',
            matmulChecks(state, model.tensor(n.outWeight), null, D, width, out, tier),
          ),
        );
    }
    return { tier, rows, firstFault: firstFault(rows) };
  } finally {
    if (owned) await trace.close();
  }
}

/**
 * The first fault in computation order: by layer; within a layer scan_in's
 * rows, then step by step the gates and the state, then scan_out's rows.
 */
function firstFault(rows: ScanReplayRow[]): ScanReplayResult['firstFault'] {
  const key = (r: ScanReplayRow, t: number) => [
    r.layer,
    r.stage === 'scan_in' ? 0 : r.stage === 'scan_out' ? 2 : 1,
    t,
    r.stage === 'scan_state' ? 1 : 0,
  ];
  const before = (a: number[], b: number[]) => {
    const i = a.findIndex((v, j) => v !== b[j]);
    return i >= 0 && a[i] < b[i];
  };
  let best: { row: ScanReplayRow; key: number[] } | null = null;
  for (const row of rows) {
    if (!row.faultSteps.length) continue;
    const k = key(row, row.faultSteps[0]);
    if (!best || before(k, best.key)) best = { row, key: k };
  }
  if (!best) return null;
  const { name, layer, stage, faultSteps } = best.row;
  return { name, layer, stage, step: faultSteps[0] };
}
