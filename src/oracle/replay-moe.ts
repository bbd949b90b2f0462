/**
 * Replay rules of the mixture-of-experts FFN stages (src/model/moe-ffn.ts):
 *
 *   moe_router_logits  ffn_norm·ffn_gate_inpᵀ (the transformer's matmul rule)
 *   moe_weights        the routing of the candidate's own moe_router_logits
 *   moe_experts        each slot's expert FFN of ffn_norm, the experts the
 *                      candidate's own logits select
 *   moe_out            Σ_j w_j·slot_j (+ the shared expert of ffn_norm), from
 *                      the candidate's own moe_weights and moe_experts
 *                      (without moe_experts: the experts' FFN of ffn_norm)
 *
 * so a wrong routing is a fault of moe_weights or moe_experts, never of
 * moe_out. The trace holds no expert ids, so the selection is the
 * reference's from the candidate's logits: the softmax schemes (Mixtral,
 * Qwen) select on the logits themselves and a correct kernel picks exactly
 * those experts; a sigmoid scheme may pick another expert whose selection
 * value is within the kernel's selection error of a tie (moeSelectionProblems
 * accepts the swap), and the slot's bound widens to that expert's value.
 * Bounds: moeWeightBound (weights), moeFfnBound (each slot an FFN of weight 1;
 * ggml numerics with the activation quantization of the expert weights'
 * vec_dot type), the WGSL variants besides on 'webgpu' traces.
 */
import { referenceMoeRoute, referenceSelectionValues, referenceWeights } from '../backends/reference/moe.js';
import {
  type ReferenceFfnWeights,
  type ReferenceSharedExpert,
  referenceFfn,
  referenceSharedGate,
} from '../backends/reference/moe-dispatch.js';
import { layerTensorNames } from '../model/tensors.js';
import type { MoeRouteOptions, MoeRoutePlan, MoeRouteResult } from '../ops/moe-route.js';
import { stageName } from '../trace/stages.js';
import { GGML_TYPES, type GgmlTypeName } from '../types/ggml-types.js';
import { CPU_F32, WGSL_F32 } from './arithmetic.js';
import { ParityOptionError } from './errors.js';
import {
  CPU_MOE_SELECTION,
  GPU_MOE_SELECTION,
  gpuMoeFfnBound,
  gpuMoeWeightBound,
  moeFfnBound,
  moeSelectionProblems,
  moeWeightBound,
} from './moe-bound.js';
import {
  kernelBoundFor,
  type ReplayContext,
  type ReplayInputs,
  type ReplayOutput,
  type ReplayRule,
  registerReplayRule,
} from './replay-rules.js';
import { matmulRule } from './replay-transformer.js';
import { gamma } from './tiers.js';

type Vec = ArrayLike<number>;

function moeParams(ctx: ReplayContext) {
  const moe = ctx.model.hparams.moe;
  if (!moe) throw new ParityOptionError(`replay: the model ${ctx.model.name} has no experts`);
  return moe;
}

type Kernels = ReplayContext['kernels'];

/** The reference routing of logits [n, E], and per token the selections a correct kernel may make (the reference's first). */
function routeOf(logits: Vec, E: number, opts: MoeRouteOptions, kernels: Kernels) {
  if (logits.length % E !== 0)
    throw new ParityOptionError(`replay: moe_router_logits has ${logits.length} values, not rows of ${E}`);
  const n = logits.length / E;
  const route = referenceMoeRoute(logits, n, E, opts);
  const { plan } = route;
  const k = plan.k;
  const rows = Array.from({ length: n }, (_, t) => Array.from({ length: E }, (_, i) => logits[t * E + i]));
  const selections = rows.map((row, t) => {
    const sel = Array.from(route.experts.subarray(t * k, (t + 1) * k));
    return [sel, ...alternatives(row, plan, sel, kernels)];
  });
  return { route, plan, rows, selections, n, k };
}

/**
 * Selections that differ from the reference's by one expert swapped for a
 * near-tied one (or two slots' order) which the kernel's selection error
 * explains. Softmax schemes: none (δ = 0, the selection is exact).
 */
function alternatives(row: number[], plan: MoeRoutePlan, sel: number[], kernels: Kernels): number[][] {
  // Group near-ties are not widened: a grouped sigmoid routing is judged on the reference's groups.
  if (plan.gating !== 'sigmoid' || plan.nGroup > 1) return [];
  const selection = kernels === 'webgpu' ? GPU_MOE_SELECTION : CPU_MOE_SELECTION;
  const s = referenceSelectionValues(row, plan);
  const d = selection.delta(row, plan);
  const out: number[][] = [];
  for (let j = 0; j < sel.length; j++)
    for (let a = 0; a < plan.experts; a++) {
      const e = sel[j];
      if (a === e || Math.abs(s[a] - s[e]) > d[a] + d[e]) continue;
      const alt = [...sel];
      const p = alt.indexOf(a);
      if (p >= 0) alt[p] = e;
      alt[j] = a;
      if (moeSelectionProblems(row, plan, alt, null, sel, selection).length === 0) out.push(alt);
    }
  return out;
}

/** ggml numerics: the activation block of a weight type's vec_dot conversion for moeFfnBound (0: f32 activations). */
function quantBlockOf(type: GgmlTypeName): number {
  // moeFfnBound's magnitude is not a bound for dots with a separate min term (moe-bound.ts).
  if (['q4_1', 'q5_1', 'q2_K', 'q4_K', 'q5_K'].includes(type))
    throw new ParityOptionError(`replay: no MoE FFN bound for ${type} experts in ggml numerics`);
  const vdt = GGML_TYPES[type].vecDotType;
  if (!vdt || vdt === 'f32') return 0;
  // Half activations: one rounding per element, below the q8 step of a block of one.
  if (vdt === 'f16' || vdt === 'bf16') return 1;
  return GGML_TYPES[vdt].blockSize;
}

interface Experts {
  ffn: ReferenceFfnWeights;
  shared: ReferenceSharedExpert | null;
  quantBlock: number;
}

async function expertsOf(l: number, ctx: ReplayContext): Promise<Experts> {
  const names = layerTensorNames(l);
  const moe = moeParams(ctx);
  const matrices = [names.gateExps, names.upExps, names.downExps];
  const ffn: ReferenceFfnWeights = {
    gate: await ctx.model.tensor(names.gateExps),
    up: await ctx.model.tensor(names.upExps),
    down: await ctx.model.tensor(names.downExps),
    hidden: ctx.model.shape(names.gateExps)[1],
  };
  let shared: ReferenceSharedExpert | null = null;
  if (ctx.model.has(names.sharedGate)) {
    matrices.push(names.sharedGate, names.sharedUp, names.sharedDown);
    shared = {
      gate: await ctx.model.tensor(names.sharedGate),
      up: await ctx.model.tensor(names.sharedUp),
      down: await ctx.model.tensor(names.sharedDown),
      hidden: moe.nFfShexp || ctx.model.shape(names.sharedGate)[0],
      gateInp: (await ctx.model.optional(names.sharedGateInp)) ?? null,
    };
  }
  const quantBlock =
    ctx.numerics === 'ggml' ? Math.max(...matrices.map((m) => quantBlockOf(ctx.model.type(m)))) : 0;
  return { ffn, shared, quantBlock };
}

/** The FFN bounds of the kernels that may have computed the trace (per element, the larger). */
function ffnBound(ctx: ReplayContext, ...args: Parameters<typeof moeFfnBound>): Float64Array {
  return kernelBoundFor(ctx.kernels, moeFfnBound(...args), () => gpuMoeFfnBound(...args));
}

function normedRows(f: Vec, n: number, D: number): void {
  if (f.length !== n * D)
    throw new ParityOptionError(`replay: ffn_norm has ${f.length} values, not ${n} rows of ${D}`);
}

const logitsOf = (l: number) => stageName('moe_router_logits', l);

const routeOptions = (ctx: ReplayContext): MoeRouteOptions => {
  const moe = moeParams(ctx);
  return { scheme: moe.scheme, k: moe.nExpertUsed };
};

/**
 * The routing weights [n, k] of logits [n, E] (float64) and the per-weight
 * bound of a correct kernel: moeWeightBound (and the WGSL one on 'webgpu'),
 * widened where a near-tied selection is admissible to that selection's
 * weights within their own bound.
 */
export function moeWeightsReplay(logits: Vec, E: number, opts: MoeRouteOptions, kernels: Kernels) {
  const { route, plan, rows, selections, n, k } = routeOf(logits, E, opts, kernels);
  const y = route.exact;
  const kernelBound = new Float64Array(n * k);
  for (let t = 0; t < n; t++) {
    const w = y.subarray(t * k, (t + 1) * k);
    for (const sel of selections[t]) {
      const ws = referenceWeights(rows[t], plan, sel);
      const b = kernelBoundFor(kernels, moeWeightBound(rows[t], plan, sel, ws), () =>
        gpuMoeWeightBound(rows[t], plan, sel, ws),
      );
      for (let j = 0; j < k; j++) {
        const e = Math.abs(ws[j] - w[j]) + b[j];
        kernelBound[t * k + j] = Math.max(kernelBound[t * k + j], e);
      }
    }
  }
  return { y, kernelBound, selections };
}

const moeWeights: ReplayRule = {
  inputs: (l) => [logitsOf(l as number)],
  async recompute(l, x, ctx) {
    const E = moeParams(ctx).nExpert;
    const { y, kernelBound } = moeWeightsReplay(
      x.get(logitsOf(l as number)),
      E,
      routeOptions(ctx),
      ctx.kernels,
    );
    const magnitude = Float64Array.from(y, Math.abs);
    return { y, tier: ctx.tierFor('elementwise'), K: 1, magnitude, kernelBound };
  },
};

const moeExperts: ReplayRule = {
  inputs: (l) => [stageName('ffn_norm', l), logitsOf(l as number)],
  async recompute(l, x, ctx) {
    const f = x.get(stageName('ffn_norm', l));
    const E = moeParams(ctx).nExpert;
    const { n, k, selections } = routeOf(x.get(logitsOf(l as number)), E, routeOptions(ctx), ctx.kernels);
    const D = ctx.model.hparams.nEmbd;
    normedRows(f, n, D);
    const { ffn, quantBlock } = await expertsOf(l as number, ctx);
    /** Expert e's output for token t, and its bound as a slot of weight 1. */
    const memo = new Map<string, { y: Float64Array; b: Float64Array }>();
    const slot = (t: number, e: number) => {
      const key = `${t}:${e}`;
      let r = memo.get(key);
      if (!r) {
        const route: MoeRouteResult = {
          weights: Float32Array.of(1),
          experts: Int32Array.of(e),
          dropped: null,
          droppedCount: 0,
        };
        const row = f.subarray(t * D, (t + 1) * D);
        r = {
          y: referenceFfn(row, 0, D, ffn, e),
          b: ffnBound(ctx, row, 1, D, route, 1, ffn, null, quantBlock),
        };
        memo.set(key, r);
      }
      return r;
    };
    const y = new Float64Array(n * k * D);
    const kernelBound = new Float64Array(n * k * D);
    for (let t = 0; t < n; t++) {
      const [sel, ...alts] = selections[t];
      for (let j = 0; j < k; j++) {
        const o = (t * k + j) * D;
        const own = slot(t, sel[j]);
        y.set(own.y, o);
        kernelBound.set(own.b, o);
        for (const alt of alts) {
          if (alt[j] === sel[j]) continue;
          const other = slot(t, alt[j]);
          for (let d = 0; d < D; d++)
            kernelBound[o + d] = Math.max(kernelBound[o + d], Math.abs(other.y[d] - own.y[d]) + other.b[d]);
        }
      }
    }
    const magnitude = Float64Array.from(y, Math.abs);
    return { y, tier: ctx.tierFor('elementwise'), K: 1, magnitude, kernelBound };
  },
};

/**
 * moe_out of a trace without moe_experts (it is captured only when asked
 * for): the FFN of the candidate's ffn_norm through the experts its own
 * logits select, weighted by its own moe_weights, within moeFfnBound — the
 * trace holds no expert ids, so here a wrong selection shows in moe_out too
 * (after the routing stage's own fault).
 */
async function moeOutFromExperts(l: number, x: ReplayInputs, ctx: ReplayContext): Promise<ReplayOutput> {
  const f = x.get(stageName('ffn_norm', l));
  const w = x.get(stageName('moe_weights', l));
  const D = ctx.model.hparams.nEmbd;
  const E = moeParams(ctx).nExpert;
  const { n, k, selections } = routeOf(x.get(logitsOf(l)), E, routeOptions(ctx), ctx.kernels);
  normedRows(f, n, D);
  if (w.length !== n * k)
    throw new ParityOptionError(`replay: moe_weights has ${w.length} values, not ${n} tokens of ${k}`);
  const { ffn, shared, quantBlock } = await expertsOf(l, ctx);
  const y = new Float64Array(n * D);
  const magnitude = new Float64Array(n * D);
  const kernelBound = new Float64Array(n * D);
  for (let t = 0; t < n; t++) {
    const row = f.subarray(t * D, (t + 1) * D);
    const weights = w.subarray(t * k, (t + 1) * k);
    const g = shared ? referenceSharedGate(row, 0, D, shared) : 0;
    const s = shared ? referenceFfn(row, 0, D, shared, 0) : null;
    const outs = selections[t].map((sel) => {
      const out = new Float64Array(D);
      const mag = new Float64Array(D);
      for (let j = 0; j < k; j++) {
        const ye = referenceFfn(row, 0, D, ffn, sel[j]);
        for (let d = 0; d < D; d++) {
          out[d] += weights[j] * ye[d];
          mag[d] += Math.abs(weights[j] * ye[d]);
        }
      }
      if (s)
        for (let d = 0; d < D; d++) {
          out[d] += g * s[d];
          mag[d] += Math.abs(g * s[d]);
        }
      const route: MoeRouteResult = {
        weights: Float32Array.from(weights),
        experts: Int32Array.from(sel),
        dropped: null,
        droppedCount: 0,
      };
      return { out, mag, bound: ffnBound(ctx, row, 1, D, route, k, ffn, shared, quantBlock) };
    });
    const ref = outs[0];
    y.set(ref.out, t * D);
    magnitude.set(ref.mag, t * D);
    // Another admissible selection's output, within its own bound.
    for (const o of outs)
      for (let d = 0; d < D; d++)
        kernelBound[t * D + d] = Math.max(
          kernelBound[t * D + d],
          Math.abs(o.out[d] - ref.out[d]) + o.bound[d],
        );
  }
  return { y, tier: ctx.tierFor('elementwise'), K: k + 2, magnitude, kernelBound };
}

const combineInputs = (l: number) =>
  (['ffn_norm', 'moe_weights', 'moe_experts'] as const).map((s) => stageName(s, l));
const ffnInputs = (l: number) => [stageName('ffn_norm', l), stageName('moe_weights', l), logitsOf(l)];

const moeOut: ReplayRule = {
  inputs: (l, ctx) =>
    ctx.captured(stageName('moe_experts', l)) ? combineInputs(l as number) : ffnInputs(l as number),
  async recompute(l, x, ctx): Promise<ReplayOutput> {
    if (!ctx.captured(stageName('moe_experts', l))) return moeOutFromExperts(l as number, x, ctx);
    const f = x.get(stageName('ffn_norm', l));
    const w = x.get(stageName('moe_weights', l));
    const slots = x.get(stageName('moe_experts', l));
    const D = ctx.model.hparams.nEmbd;
    const k = moeParams(ctx).nExpertUsed;
    const n = f.length / D;
    normedRows(f, n, D);
    if (w.length !== n * k || slots.length !== n * k * D)
      throw new ParityOptionError(
        `replay: moe_weights (${w.length}) and moe_experts (${slots.length}) are not ${n} tokens of ${k} slots`,
      );
    const { shared, quantBlock } = await expertsOf(l as number, ctx);
    const y = new Float64Array(n * D);
    const magnitude = new Float64Array(n * D);
    for (let t = 0; t < n; t++)
      for (let j = 0; j < k; j++)
        for (let d = 0; d < D; d++) {
          const p = w[t * k + j] * slots[(t * k + j) * D + d];
          y[t * D + d] += p;
          magnitude[t * D + d] += Math.abs(p);
        }
    // The shared expert's own error (moeFfnBound with no routed slots), then the combine's k + 2 roundings.
    let sharedBound: Float64Array = new Float64Array(n * D);
    if (shared) {
      const none: MoeRouteResult = {
        weights: new Float32Array(0),
        experts: new Int32Array(0),
        dropped: null,
        droppedCount: 0,
      };
      sharedBound = ffnBound(ctx, f, n, D, none, 0, shared, shared, quantBlock);
      for (let t = 0; t < n; t++) {
        const g = referenceSharedGate(f, t, D, shared);
        const s = referenceFfn(f, t, D, shared, 0);
        for (let d = 0; d < D; d++) {
          y[t * D + d] += g * s[d];
          magnitude[t * D + d] += Math.abs(g * s[d]);
        }
      }
    }
    const u = ctx.kernels === 'webgpu' ? Math.max(CPU_F32.u, WGSL_F32.u) : CPU_F32.u;
    const kernelBound = Float64Array.from(magnitude, (m, i) => sharedBound[i] + gamma(k + 2, u) * m);
    return { y, tier: ctx.tierFor('elementwise'), K: k + 2, magnitude, kernelBound };
  },
};

const MOE_RULES: Record<string, ReplayRule> = {
  moe_router_logits: matmulRule((l) => stageName('ffn_norm', l), 'router'),
  moe_weights: moeWeights,
  moe_experts: moeExperts,
  moe_out: moeOut,
};

for (const [stage, rule] of Object.entries(MOE_RULES)) registerReplayRule(stage, rule);
