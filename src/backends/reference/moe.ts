/**
 * MoE routing (semantics: src/ops/moe-route.ts) in float64, straight from the
 * published order of operations, one token at a time. Selection values are
 * the logits (softmax schemes: softmax is strictly increasing) or
 * sigmoid(logit) + bias (deepseek-v3); ranking is by value, then lower index.
 */
import {
  applyCapacity,
  MOE_NORM_MIN,
  type MoeRouteOptions,
  type MoeRoutePlan,
  type MoeRouteResult,
  moeRoutePlan,
} from '../../ops/moe-route.js';

type Vec = ArrayLike<number>;

export interface ReferenceMoeRoute extends MoeRouteResult {
  /** The weights before rounding to f32. */
  exact: Float64Array;
  plan: MoeRoutePlan;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Indices of the n largest values (ties: lower index first), by decreasing value. */
export function topIndices(values: Vec, eligible: (i: number) => boolean, n: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (eligible(i)) idx.push(i);
  idx.sort((a, b) => (values[b] > values[a] ? 1 : values[b] < values[a] ? -1 : a - b));
  return idx.slice(0, n);
}

/** Selection values of one token's logits row (float64). */
export function referenceSelectionValues(row: Vec, plan: MoeRoutePlan): Float64Array {
  const s = Float64Array.from(row);
  if (plan.gating === 'sigmoid')
    for (let i = 0; i < s.length; i++) s[i] = sigmoid(row[i]) + (plan.bias?.[i] ?? 0);
  return s;
}

/** Group scores (sum of each group's top-2 selection values; a 1-expert group: its value). */
export function referenceGroupScores(s: Vec, plan: MoeRoutePlan): Float64Array {
  const size = plan.experts / plan.nGroup;
  const g = new Float64Array(plan.nGroup);
  for (let j = 0; j < plan.nGroup; j++) {
    const vals = Array.from({ length: size }, (_, i) => s[j * size + i]);
    const top = topIndices(vals, () => true, 2);
    g[j] = top.reduce((acc, i) => acc + vals[i], 0);
  }
  return g;
}

/** The experts one token routes to. */
export function referenceSelect(row: Vec, plan: MoeRoutePlan): number[] {
  const s = referenceSelectionValues(row, plan);
  const size = plan.experts / plan.nGroup;
  let kept: Set<number> | null = null;
  if (plan.nGroup > 1) kept = new Set(topIndices(referenceGroupScores(s, plan), () => true, plan.topkGroup));
  return topIndices(s, (i) => !kept || kept.has(Math.floor(i / size)), plan.k);
}

/** The float64 weights of the given experts of one token. */
export function referenceWeights(row: Vec, plan: MoeRoutePlan, experts: ArrayLike<number>): Float64Array {
  const k = experts.length;
  const w = new Float64Array(k);
  if (plan.gating === 'softmax') {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
    let sum = 0;
    for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - m);
    for (let j = 0; j < k; j++) w[j] = Math.exp(row[experts[j]] - m) / sum;
  } else if (plan.gating === 'sigmoid') {
    for (let j = 0; j < k; j++) w[j] = sigmoid(row[experts[j]]);
  } else {
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) m = Math.max(m, row[experts[j]]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(row[experts[j]] - m);
    for (let j = 0; j < k; j++) w[j] = Math.exp(row[experts[j]] - m) / sum;
  }
  if (plan.normalize) {
    const sum = w.reduce((a, b) => a + b, 0);
    const d = Math.max(sum, MOE_NORM_MIN);
    for (let j = 0; j < k; j++) w[j] /= d;
  }
  for (let j = 0; j < k; j++) w[j] *= plan.scale;
  return w;
}

/** Routes every token of logits [T, E]. */
export function referenceMoeRoute(
  logits: Vec,
  tokens: number,
  experts: number,
  opts: MoeRouteOptions,
): ReferenceMoeRoute {
  const plan = moeRoutePlan(tokens, experts, opts);
  const { k } = plan;
  const ids = new Int32Array(tokens * k);
  const exact = new Float64Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    const row = Array.from({ length: experts }, (_, i) => logits[t * experts + i]);
    const sel = referenceSelect(row, plan);
    ids.set(sel, t * k);
    exact.set(referenceWeights(row, plan, sel), t * k);
  }
  const r = applyCapacity(
    { weights: Float32Array.from(exact), experts: ids, dropped: null, droppedCount: 0 },
    plan,
  );
  if (r.dropped) for (let t = 0; t < tokens; t++) if (r.dropped[t]) exact[t] = 0;
  return { ...r, exact, plan };
}
