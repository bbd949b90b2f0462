/**
 * The f32 arithmetic an error bound assumes: the wasm kernels' (IEEE
 * round-to-nearest, subnormals kept, plumbline's own exp) or WGSL's (no
 * rounding mode fixed, exp/division/inverseSqrt within stated ULPs,
 * subnormals may flush). Each bound in src/oracle follows its kernel's
 * operation order once and takes one of these, so the CPU and WebGPU bounds
 * of a kernel differ only where the arithmetic or the kernel's order does.
 */
import { WGSL_DIV_ERROR, WGSL_FLUSH, WGSL_ULP, wgslExpError } from '../backends/webgpu/wgsl/numerics.js';
import { UNIT_ROUNDOFF } from './tiers.js';

export interface F32Arithmetic {
  /** Relative error of one rounded + − ×. */
  readonly u: number;
  /** Relative error of exp at argument 0 and its growth per unit |x| (expError(x) = exp0 + expGrowth·|x|). */
  readonly exp0: number;
  readonly expGrowth: number;
  /** Relative error of exp at x (results ≥ 2^-126). */
  expError(x: number): number;
  /** Relative error of one division. */
  readonly div: number;
  /** Relative error of 1/√V as the kernels compute it, less one (CPU: a sqrt and a division; WGSL: inverseSqrt). */
  readonly rsqrt: number;
  /** Absolute error of one operation touching the subnormal range (CPU: half a subnormal ULP; WGSL: flushed or not). */
  readonly tiny: number;
  /** Absolute loss of a value flushed to zero (0 where subnormals are kept). */
  readonly flush: number;
  /** Absolute error of one rounded operation with result v (wasm: always counted; WGSL: where v may flush). */
  roundingAbs(v: number): number;
  /** Absolute error of an operation exact in f32 with result v (wasm: none; WGSL: v may flush). */
  exactAbs(v: number): number;
  /** Absolute error of an exp result below 2^-126. */
  readonly expUnderflow: number;
}

const U = UNIT_ROUNDOFF.f32;
const CPU_TINY = 2 ** -150;
const WGSL_TINY = 2 ** -125;
/** WGSL: a nonzero result below 2^-126 may flush (or round there): 2^-125 absolute. */
const wgslTinyAbs = (v: number) => (v !== 0 && Math.abs(v) < 2 ** -126 ? WGSL_TINY : 0);

/**
 * Relative error of assembly/nn/exp.ts for results ≥ 2^-126: 1.7201 u at worst
 * over every f32 input (test/assembly/exp.test.ts checks a dense sample each
 * run and every input with PLUMBLINE_EXHAUSTIVE=1).
 */
export const EXP_REL_ERROR = 1.75 * U;

/** The wasm kernels: round-to-nearest f32 (u = 2^-24), correctly rounded √ and ÷, subnormals kept. */
export const CPU_F32: F32Arithmetic = {
  u: U,
  exp0: EXP_REL_ERROR,
  expGrowth: 0,
  expError: () => EXP_REL_ERROR,
  div: U,
  rsqrt: (1 + U) / (1 - U) - 1,
  tiny: CPU_TINY,
  flush: 0,
  roundingAbs: () => CPU_TINY,
  exactAbs: () => 0,
  // ε_e·2^-126 + 2^-150 (the subnormal rounding) < 2^-148.
  expUnderflow: 2 ** -148,
};

/** WGSL (§"Floating Point Accuracy"): 1 ULP per + − × (either way), exp (3 + 2|x|) ULP, ÷ 2.5 ULP, inverseSqrt 2 ULP. */
export const WGSL_F32: F32Arithmetic = {
  u: WGSL_ULP,
  exp0: 3 * WGSL_ULP,
  expGrowth: 2 * WGSL_ULP,
  expError: wgslExpError,
  div: WGSL_DIV_ERROR,
  rsqrt: 2 * WGSL_ULP,
  tiny: WGSL_TINY,
  flush: WGSL_FLUSH,
  roundingAbs: wgslTinyAbs,
  exactAbs: wgslTinyAbs,
  expUnderflow: 2 ** -125,
};
