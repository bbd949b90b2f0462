/**
 * What ggml's test-backend-ops would say (ggml-facts.md, "How ggml tests a
 * backend"): shown beside every precision-derived verdict so users see where
 * a fixed limit and the tier disagree. Reproduced as ggml does it:
 * - any NaN on either side fails (even NaN against NaN);
 * - ±inf — and ±FLT_MAX, which ggml accepts as infinity — must be matched by
 *   the same on the other side, with the same sign;
 * - NMSE = Σ(a − b)² / Σa², a = the backend under test (our candidate),
 *   b = the CPU result (our reference, rounded to f32 as ggml's CPU output
 *   is); differences and squares in float, sums in double; it fails when
 *   NMSE > limit. A 0/0 NMSE is NaN, which ggml's
 *   `err > max_err` lets pass.
 */
export type GgmlOpKind =
  | 'default'
  | 'mul_mat'
  | 'mul_mat_id'
  | 'out_prod'
  | 'conv'
  | 'flash_attn_ext'
  | 'soft_max'
  | 'model'
  | 'argmax'
  | 'top_k'
  | 'copy';

/** test-backend-ops' max_nmse_err per op kind. */
export const GGML_NMSE_LIMITS: Readonly<Record<GgmlOpKind, number>> = {
  default: 1e-7,
  mul_mat: 5e-4,
  mul_mat_id: 5e-4,
  out_prod: 5e-4,
  conv: 5e-4,
  flash_attn_ext: 5e-4,
  soft_max: 1e-6,
  model: 2e-3,
  argmax: 0,
  top_k: 0,
  copy: 0,
};

export const GGML_OP_KINDS = Object.keys(GGML_NMSE_LIMITS) as GgmlOpKind[];

export function isGgmlOpKind(s: string): s is GgmlOpKind {
  return Object.hasOwn(GGML_NMSE_LIMITS, s);
}

export interface GgmlVerdict {
  op: GgmlOpKind;
  limit: number;
  /** ggml's NMSE Σ(a−b)²/Σa² (NaN when 0/0 or when the check stopped at a non-finite value). */
  nmse: number;
  pass: boolean;
  reason: string;
}

const FLT_MAX = 3.4028234663852886e38;

function infOrMax(x: number): boolean {
  return !Number.isFinite(x) || x === FLT_MAX || x === -FLT_MAX;
}

export function ggmlVerdict(
  candidate: ArrayLike<number>,
  reference: ArrayLike<number>,
  op: GgmlOpKind,
): GgmlVerdict {
  const limit = GGML_NMSE_LIMITS[op];
  const n = Math.min(candidate.length, reference.length);
  for (let i = 0; i < n; i++) {
    const a = Math.fround(candidate[i]);
    const b = Math.fround(reference[i]);
    if (Number.isNaN(a) || Number.isNaN(b))
      return { op, limit, nmse: Number.NaN, pass: false, reason: `NaN at index ${i} (${a} vs ${b})` };
    if (infOrMax(a) || infOrMax(b)) {
      if (!(infOrMax(a) && infOrMax(b)))
        return {
          op,
          limit,
          nmse: Number.NaN,
          pass: false,
          reason: `inf mismatch at index ${i} (${a} vs ${b})`,
        };
      if (Math.sign(a) !== Math.sign(b))
        return {
          op,
          limit,
          nmse: Number.NaN,
          pass: false,
          reason: `inf sign mismatch at index ${i} (${a} vs ${b})`,
        };
    }
  }
  let ab = 0;
  let a0 = 0;
  for (let i = 0; i < n; i++) {
    // ggml squares in float and sums in double.
    const a = Math.fround(candidate[i]);
    const d = Math.fround(a - Math.fround(reference[i]));
    ab += Math.fround(d * d);
    a0 += Math.fround(a * a);
  }
  const nmse = ab / a0;
  const pass = !(nmse > limit);
  return {
    op,
    limit,
    nmse,
    pass,
    reason: `NMSE ${fmt(nmse)} ${pass ? '≤' : '>'} ${limit} (test-backend-ops ${op})`,
  };
}

function fmt(x: number): string {
  return Number.isNaN(x) ? 'NaN (0/0)' : x.toExponential(3);
}
