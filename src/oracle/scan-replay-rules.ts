/**
 * The scan stages in the replay registry (replay-rules.ts), so `replay()` and
 * `plumbline replay MODEL.gguf CAND` judge a scan model's trace (its model in
 * GGUF: src/model/scan-model.ts) with the transformer's driver: each stage
 * recomputed from the candidate's own captured inputs — scan_state and
 * scan_gates step by step from the candidate's own previous states — with
 * the same per-step bounds as scanReplay (scan-replay.ts). The driver judges
 * a stage as a whole; its first exceeding element is at step
 * ⌊index / row width⌋. scanReplay adds the per-step report (every faulty
 * step, consequences, the first fault in step order across gates and state).
 */
import { referenceMatmul } from '../backends/reference/matmul.js';
import {
  checkScanSpec,
  SCAN_GGUF_SPEC_KEY,
  ScanModel,
  scanLayerNames,
  scanModelShapes,
} from '../model/scan-model.js';
import { residualName, stageName } from '../trace/stages.js';
import { ParityOptionError } from './errors.js';
import type { ReplayModel } from './replay-model.js';
import { type ReplayContext, type ReplayOutput, registerReplayRule } from './replay-rules.js';
import { gruLayer, gruStep, int8StateSlack, linearStep, replayedState } from './scan-replay.js';
import { UNIT_ROUNDOFF } from './tiers.js';

const models = new WeakMap<ReplayModel, Promise<ScanModel>>();

/** The scan model behind a replay's GGUF (its spec key and tensors), read once. */
function scanModelOf(ctx: ReplayContext): Promise<ScanModel> {
  let m = models.get(ctx.model);
  if (!m) {
    m = (async () => {
      const text = ctx.model.metadata(SCAN_GGUF_SPEC_KEY);
      if (typeof text !== 'string')
        throw new ParityOptionError(
          `replay: ${ctx.model.name} is not a scan model (no ${SCAN_GGUF_SPEC_KEY})`,
        );
      const spec = checkScanSpec(JSON.parse(text));
      const tensors = new Map<string, Float32Array>();
      for (const name of scanModelShapes(spec).keys()) tensors.set(name, await ctx.model.tensor(name));
      return ScanModel.fromTensors(spec, tensors, ctx.model.name);
    })();
    models.set(ctx.model, m);
  }
  return m;
}

/** A captured input of tokens × width values; another size is the wrong model's trace or a broken one. */
function input(x: { get(n: string): ArrayLike<number> }, name: string, ctx: ReplayContext, width: number) {
  const v = x.get(name);
  const T = ctx.tokens.length;
  if (v.length !== T * width)
    throw new ParityOptionError(`${name} has ${v.length} values, not ${T} tokens × ${width}`);
  return v;
}
const zeros = (n: number) => new Float64Array(n);

/** The unit roundoff of an elementwise stage at the context's tier (f32 where the tier has none). */
function unitOf(ctx: ReplayContext): { tier: ReturnType<ReplayContext['tierFor']>; u: number } {
  const tier = ctx.tierFor('elementwise');
  return { tier, u: UNIT_ROUNDOFF[tier] || UNIT_ROUNDOFF.f32 };
}

function linearRows(
  ctx: ReplayContext,
  x: ArrayLike<number>,
  w: Float32Array,
  b: Float32Array | null,
  N: number,
  K: number,
): ReplayOutput {
  const M = x.length / K;
  const { y, magnitude } = referenceMatmul(x, w, M, N, K);
  if (b)
    for (let i = 0; i < y.length; i++) {
      y[i] += b[i % N];
      magnitude[i] += Math.abs(b[i % N]);
    }
  return { y, tier: ctx.tierFor('matmul', 'f32'), K: b ? K + 1 : K, magnitude };
}

registerReplayRule('scan_in', {
  inputs: (l) => [residualName(l as number)],
  async recompute(l, x, ctx) {
    const m = await scanModelOf(ctx);
    const layer = m.spec.layers[l as number];
    const n = scanLayerNames(l as number);
    const N = layer.kind === 'gru' ? 3 * layer.hidden : m.spec.dim;
    const b = layer.kind === 'gru' ? m.tensor(n.inBias) : null;
    const xs = input(x, residualName(l as number), ctx, m.spec.dim);
    return linearRows(ctx, xs, m.tensor(n.inWeight), b, N, m.spec.dim);
  },
});

registerReplayRule('scan_out', {
  inputs: (l) => [stageName('scan_state', l as number)],
  async recompute(l, x, ctx) {
    const m = await scanModelOf(ctx);
    const layer = m.spec.layers[l as number];
    const H = layer.kind === 'gru' ? layer.hidden : m.spec.dim;
    const h = input(x, stageName('scan_state', l as number), ctx, H);
    return linearRows(ctx, h, m.tensor(scanLayerNames(l as number).outWeight), null, m.spec.dim, H);
  },
});

/**
 * Both recurrent stages of layer l, each step from the candidate's own
 * previous state — or, where that state does not follow from its own inputs,
 * from its replayed value (what a correct kernel went on with), so a single
 * faulty state is one faulty step, not a fault of every step after it.
 */
async function recurrent(
  l: number,
  x: { get(n: string): ArrayLike<number> },
  ctx: ReplayContext,
  gates: boolean,
): Promise<ReplayOutput> {
  const m = await scanModelOf(ctx);
  const layer = m.spec.layers[l];
  const { tier, u } = unitOf(ctx);
  const H = layer.kind === 'gru' ? layer.hidden : m.spec.dim;
  const xin = input(x, stageName('scan_in', l), ctx, layer.kind === 'gru' ? 3 * H : H);
  const state = input(x, stageName('scan_state', l), ctx, H);
  const row = (v: ArrayLike<number>, t: number, w: number) =>
    Array.prototype.slice.call(v, t * w, (t + 1) * w);
  const follows = (t: number, y: ArrayLike<number>, bound: ArrayLike<number>, w: number) => {
    for (let i = 0; i < w; i++) if (!(Math.abs(state[t * w + i] - y[i]) <= bound[i])) return false;
    return true;
  };
  if (layer.kind === 'linear') {
    const D = m.spec.dim;
    const a = m.tensor(scanLayerNames(l).decay);
    const T = xin.length / D;
    const y = new Float64Array(T * D);
    if (gates) {
      for (let i = 0; i < T * D; i++) y[i] = a[i % D]; // the decay itself: exact
      return { y, tier: 'exact', K: 1, magnitude: zeros(y.length) };
    }
    const bound = new Float64Array(T * D);
    let prev: ArrayLike<number> = zeros(D);
    for (let t = 0; t < T; t++) {
      const step = linearStep(a, xin, t * D, prev, u);
      y.set(step.y, t * D);
      bound.set(step.bound, t * D);
      prev = follows(t, step.y, step.bound, D) ? row(state, t, D) : step.y;
    }
    return { y, tier, K: 1, magnitude: zeros(y.length), kernelBound: bound };
  }
  const g = gruLayer(m, l);
  const T = xin.length / (3 * H);
  const width = gates ? 3 * H : H;
  const y = new Float64Array(T * width);
  const bound = new Float64Array(T * width);
  let prev: ArrayLike<number> = zeros(H);
  for (let t = 0; t < T; t++) {
    const step = gruStep(g, Float64Array.from(row(xin, t, 3 * H)), prev, u);
    const hy = replayedState(g, step);
    const hb = g.sh === undefined ? step.bound : int8StateSlack(g, step, u);
    y.set(gates ? step.gates : hy, t * width);
    bound.set(gates ? step.gateBound : hb, t * width);
    prev = follows(t, hy, hb, H) ? row(state, t, H) : hy;
  }
  return { y, tier, K: 1, magnitude: zeros(y.length), kernelBound: bound };
}

registerReplayRule('scan_gates', {
  inputs: (l) => [stageName('scan_in', l as number), stageName('scan_state', l as number)],
  recompute: (l, x, ctx) => recurrent(l as number, x, ctx, true),
});

registerReplayRule('scan_state', {
  inputs: (l) => [stageName('scan_in', l as number), stageName('scan_state', l as number)],
  recompute: (l, x, ctx) => recurrent(l as number, x, ctx, false),
});
