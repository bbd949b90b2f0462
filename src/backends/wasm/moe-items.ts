/**
 * Work items of the MoE expert phases (assembly/moe/experts.ts): the matmuls
 * of a phase (every active expert's, the shared expert's) cut into column
 * ranges and dealt to threads so each gets about the same work. A matmul's
 * cost is taken as columns × K × (M + 4): the M rows of products, plus the
 * weight decode each column pays once (about four rows' worth). Every column
 * of every matmul is in exactly one item, and the kernels give the same bits
 * for any column split, so the plan changes the speed, never the result.
 */
import type { Range } from '../../scheduler/partition.js';
import { ggmlType } from '../../types/ggml-types.js';

/** One matmul of a phase: y [M, N] = x · wᵀ over K; gated: yA = silu(x·wAᵀ) ⊙ x·wBᵀ. */
export interface MatmulJob {
  /** ggml numerics for a: x is activation rows of the weight's vec_dot type (else f32 rows). */
  ggml: boolean;
  M: number;
  N: number;
  K: number;
  a: { type: string; x: number; w: number; y: number };
  /**
   * The up matmul of a gated pair (its output is scratch; the product lands in a.y). Its own
   * numerics (default a's): gate and up may differ in type, e.g. an f32 up beside a q8_0 gate.
   */
  b?: { type: string; x: number; w: number; y: number; ggml?: boolean };
}

/** Items as the kernel reads them (16 i32 each) and the item range of each thread. */
export interface ItemPlan {
  table: Int32Array;
  ranges: Range[];
  /** The largest M among the items (sizes the exact kernels' scratch). */
  maxM: number;
}

/** Item fields (assembly/moe/experts.ts). */
const ITEM_INTS = 16;
const ITEM_GGML = 1;
const ITEM_GATED = 2;
const ITEM_GGML_B = 4;

/** Columns per cut: a multiple of every kernel's row grouping, small enough to balance decode. */
export const ITEM_GRANULE = 16;

/**
 * Deals the jobs' columns to `threads` threads in job order: thread p takes
 * columns until its cumulative cost reaches (p + 1)/threads of the total,
 * cutting a job on the ITEM_GRANULE grid. Jobs with M = 0 are skipped.
 */
export function planItems(jobs: readonly MatmulJob[], threads: number): ItemPlan {
  const live = jobs.filter((j) => j.M > 0 && j.N > 0);
  const colCost = (j: MatmulJob) => j.K * (j.M + 4) * (j.b ? 2 : 1);
  const total = live.reduce((s, j) => s + colCost(j) * j.N, 0);
  const pieces: [MatmulJob, number, number][] = [];
  const ranges: Range[] = [];
  let first = 0;
  let acc = 0;
  const close = () => {
    ranges.push({ start: first, end: pieces.length });
    first = pieces.length;
  };
  const bound = () => ((ranges.length + 1) * total) / threads;
  for (const j of live) {
    const cc = colCost(j);
    let n0 = 0;
    while (n0 < j.N) {
      const last = ranges.length === threads - 1;
      if (!last && acc >= bound()) {
        close();
        continue;
      }
      let n1 = j.N;
      if (!last) {
        const cols = Math.ceil((bound() - acc) / cc / ITEM_GRANULE) * ITEM_GRANULE;
        n1 = Math.min(j.N, n0 + Math.max(cols, ITEM_GRANULE));
      }
      pieces.push([j, n0, n1]);
      acc += (n1 - n0) * cc;
      n0 = n1;
    }
  }
  while (ranges.length < threads) close();
  const table = new Int32Array(Math.max(pieces.length, 1) * ITEM_INTS);
  let maxM = 0;
  pieces.forEach(([j, n0, n1], i) => {
    const o = i * ITEM_INTS;
    const bGgml = j.b && (j.b.ggml ?? j.ggml);
    table[o] = (j.ggml ? ITEM_GGML : 0) | (j.b ? ITEM_GATED : 0) | (bGgml ? ITEM_GGML_B : 0);
    table.set([j.M, j.N, j.K, n0, n1], o + 1);
    table.set([ggmlType(j.a.type).id, j.a.x, j.a.w, j.a.y], o + 6);
    if (j.b) table.set([ggmlType(j.b.type).id, j.b.x, j.b.w, j.b.y], o + 10);
    maxM = Math.max(maxM, j.M);
  });
  return { table, ranges, maxM };
}
