/**
 * What a diff needs to know about the model behind two traces, read from
 * their shapes alone: tokens, hidden size, FFN size, head size, heads, KV
 * length. From it each stage gets the dot-product length K its tier
 * thresholds are derived for (tiers.ts) and the ggml op kind whose fixed
 * limit is shown beside the verdict.
 */

import { type Stage, type StageKind, stageKind } from '../trace/stages.js';
import type { TraceEntry } from '../trace/trace-file.js';
import type { GgmlOpKind } from './ggml-limits.js';

export interface Geometry {
  tokens?: number;
  dim?: number;
  nFf?: number;
  /** n_head · head_dim: the width of Q and of the attention output. */
  qWidth?: number;
  headDim?: number;
  nHead?: number;
  /** Keys each query attends over (the last axis of attn_scores). */
  nKv?: number;
  /** A scan layer's state width H (scan_state). */
  scanWidth?: number;
}

function count(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** The shape without leading size-1 axes (a batch of one). */
function unbatched(shape: readonly number[]): readonly number[] {
  let i = 0;
  while (i < shape.length - 1 && shape[i] === 1) i++;
  return shape.slice(i);
}

/** Values per token: count / tokens when the tokens are known, else the last axis. */
export function rowWidth(shape: readonly number[], tokens: number | undefined): number {
  const n = count(shape);
  if (tokens && n % tokens === 0) return n / tokens;
  return shape.length > 0 ? shape[shape.length - 1] : 1;
}

/**
 * Infers the geometry from the entries of both traces (the first trace
 * given wins where they disagree). `headDim`, when given, overrides.
 */
export function inferGeometry(
  traces: readonly { stages: readonly TraceEntry[]; tokens?: readonly number[] }[],
  headDim?: number,
): Geometry {
  const g: Geometry = {};
  for (const t of traces) if (g.tokens === undefined && t.tokens?.length) g.tokens = t.tokens.length;
  const entries = traces.flatMap((t) => t.stages);
  const first = (stages: readonly Stage[]) =>
    entries.find((e) => e.stage !== null && stages.includes(e.stage));
  if (g.tokens === undefined) {
    const e = first(['embedding']);
    const s = e && unbatched(e.shape);
    if (s && s.length === 2) g.tokens = s[0];
  }
  const width = (stages: readonly Stage[]) => {
    const e = first(stages);
    return e ? rowWidth(e.shape, g.tokens) : undefined;
  };
  g.dim = width(['embedding', 'attn_norm', 'attn_residual', 'ffn_norm', 'layer_output', 'output_norm']);
  g.nFf = width(['ffn_swiglu', 'ffn_up', 'ffn_gate', 'ffn_act']);
  g.qWidth = width(['attention', 'q_proj', 'q_post_rope', 'q_norm']);
  g.scanWidth = width(['scan_state']);
  const scores = first(['attn_scores', 'attn_softmax']);
  if (scores) {
    const s = unbatched(scores.shape);
    g.nKv = s[s.length - 1];
    if (s.length >= 3) g.nHead = s[s.length - 3];
  }
  const perHead = entries.find(
    (e) =>
      (e.stage === 'q_norm' ||
        e.stage === 'k_norm' ||
        e.stage === 'q_post_rope' ||
        e.stage === 'k_post_rope') &&
      unbatched(e.shape).length >= 3,
  );
  g.headDim =
    headDim ??
    (perHead
      ? perHead.shape[perHead.shape.length - 1]
      : g.qWidth && g.nHead && g.qWidth % g.nHead === 0
        ? g.qWidth / g.nHead
        : undefined);
  if (g.nHead === undefined && g.headDim && g.qWidth && g.qWidth % g.headDim === 0)
    g.nHead = g.qWidth / g.headDim;
  for (const k of Object.keys(g) as (keyof Geometry)[]) if (g[k] === undefined) delete g[k];
  return g;
}

/**
 * The dot-product length K of a stage's elements: the length of the sums
 * each output element is made of (a norm's sum of squares, a matmul's dot,
 * a softmax's denominator). Undefined when the geometry does not tell.
 * MoE experts are judged by their first projection (K = hidden size).
 */
export function stageDepth(stage: Stage, shape: readonly number[], g: Geometry): number | undefined {
  switch (stageKind(stage)) {
    case 'lookup':
    case 'add':
    case 'activation':
    case 'gated':
      return 1;
    case 'rope':
      return 2;
    case 'norm':
      return rowWidth(shape, g.tokens);
    case 'head-norm':
      return g.headDim;
    case 'scores':
      return g.headDim;
    case 'softmax':
      return shape.length > 0 ? shape[shape.length - 1] : undefined;
    case 'attention':
      return g.nKv;
    case 'combine':
      return undefined;
    case 'experts':
      return g.dim;
    case 'recurrence':
      // One step's recurrent product (H terms); the state carries earlier steps' error, judged by replay per step.
      return g.scanWidth;
    case 'matmul':
      if (stage === 'scan_out') return g.scanWidth;
      if (stage === 'attn_out') return g.qWidth;
      if (stage === 'ffn_out') return g.nFf;
      return g.dim;
  }
}

const GGML_OP: Readonly<Record<StageKind, GgmlOpKind>> = {
  lookup: 'default',
  norm: 'default',
  'head-norm': 'default',
  matmul: 'mul_mat',
  rope: 'default',
  scores: 'mul_mat',
  softmax: 'soft_max',
  attention: 'flash_attn_ext',
  add: 'default',
  activation: 'default',
  gated: 'default',
  experts: 'mul_mat_id',
  combine: 'default',
  recurrence: 'default',
};

/** The test-backend-ops limit that applies to the op computing a stage. */
export function stageGgmlOp(stage: Stage): GgmlOpKind {
  return GGML_OP[stageKind(stage)];
}

/**
 * Whether two shapes hold the same values in the same order: equal once
 * size-1 axes are dropped, or — for per-token stages — the same number of
 * tokens (first axis) with the rest split or merged ([T, H, D] and [T, H·D]
 * are one row-major layout). Attention scores must match exactly: their
 * first axis is the head.
 */
export function sameLayout(a: readonly number[], b: readonly number[], stage: Stage | null): boolean {
  if (count(a) !== count(b)) return false;
  const sa = a.filter((d) => d !== 1);
  const sb = b.filter((d) => d !== 1);
  if (sa.join(',') === sb.join(',')) return true;
  if (stage === 'attn_scores' || stage === 'attn_softmax' || stage === null) return false;
  const ta = unbatched(a);
  const tb = unbatched(b);
  return ta.length > 0 && tb.length > 0 && ta[0] === tb[0];
}
