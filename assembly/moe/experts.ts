// MoE expert work items: one call runs a thread's share of every expert's
// matmuls in a phase of the MoE FFN (src/backends/wasm/moe-pool.ts plans them),
// so a phase is one dispatch over the pool however many experts are active.
//
// An item is 16 i32 at items + i·64:
//   0 flags   bit 0: ggml numerics (x is quantized activation rows, matmul_ggml_*),
//             else exact (f32 x, matmul_exact_*, or exact_float for f32/f16/bf16
//             weights); bit 1: gated — a second matmul B
//             over the same columns, then A[m, n] = silu(A[m, n])·B[m, n] for n in [n0, n1);
//             bit 2: B in ggml numerics (bit 0 is A's alone: llama.cpp lets gate and up
//             differ in type, so an f32 up takes f32 rows beside a quantized gate's)
//   1 M  2 N  3 K  4 n0  5 n1
//   6 typeA (ggml type id)  7 xA  8 wA  9 yA
//   10 typeB                11 xB 12 wB 13 yB
// Each item writes only columns [n0, n1) of its outputs' M rows, and every
// kernel called gives the same bits for any M and any column split, so the
// result is the same whichever thread runs which items.
import { load1, load4 } from '../matmul/f32';
import {
  madd,
  matmul_exact_iq4_nl,
  matmul_exact_iq4_xs,
  matmul_exact_q2_K,
  matmul_exact_q3_K,
  matmul_exact_q4_0,
  matmul_exact_q4_1,
  matmul_exact_q4_K,
  matmul_exact_q5_0,
  matmul_exact_q5_1,
  matmul_exact_q5_K,
  matmul_exact_q6_K,
  matmul_exact_q8_0,
  matmul_exact_q8_1,
  matmul_exact_q8_K,
} from '../matmul/quant-exact';
import {
  matmul_ggml_bf16,
  matmul_ggml_f16,
  matmul_ggml_iq4_nl,
  matmul_ggml_iq4_xs,
  matmul_ggml_q2_K,
  matmul_ggml_q3_K,
  matmul_ggml_q4_0,
  matmul_ggml_q4_1,
  matmul_ggml_q4_K,
  matmul_ggml_q5_0,
  matmul_ggml_q5_1,
  matmul_ggml_q5_K,
  matmul_ggml_q6_K,
  matmul_ggml_q8_0,
} from '../matmul/quant-ggml';
import { nn_swiglu } from '../nn/elementwise';

const ITEM_BYTES: usize = 64;
const GGML: i32 = 1;
const GATED: i32 = 2;
const GGML_B: i32 = 4;

/**
 * Exact numerics for f32/f16/bf16 expert weights (widened exactly): lane l
 * sums x[k]·w[k] for k ≡ l (mod 4) in increasing k, one madd per step as the
 * quantized exact kernels; y = (l0 + l1) + (l2 + l3), then the K mod 4 tail in
 * order. A function of K only, so any M and any column split give the same bits.
 */
function exact_float(type: i32, x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const size: usize = type === 0 ? 4 : 2;
  const K4 = K & ~3;
  for (let n = n0; n < n1; n++) {
    const wr = w + <usize>n * <usize>K * size;
    for (let m = 0; m < M; m++) {
      const xr = x + ((<usize>m * <usize>K) << 2);
      let acc = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const xv = v128.load(xr + (<usize>k << 2));
        acc = madd(xv, load4(wr + <usize>k * size, type), acc);
      }
      let t = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
      for (let k = K4; k < K; k++) t += load<f32>(xr + (<usize>k << 2)) * load1(wr + <usize>k * size, type);
      store<f32>(y + ((<usize>m * <usize>N + <usize>n) << 2), t);
    }
  }
}

/** matmul_exact_<type> by ggml type id (src/types/ggml-types.ts); false for a type without one. */
function exact(type: i32, x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, s: usize): bool {
  switch (type) {
    case 0:
    case 1:
    case 30: exact_float(type, x, w, y, M, N, K, n0, n1); break;
    case 2: matmul_exact_q4_0(x, w, y, M, N, K, n0, n1, s); break;
    case 3: matmul_exact_q4_1(x, w, y, M, N, K, n0, n1, s); break;
    case 6: matmul_exact_q5_0(x, w, y, M, N, K, n0, n1, s); break;
    case 7: matmul_exact_q5_1(x, w, y, M, N, K, n0, n1, s); break;
    case 8: matmul_exact_q8_0(x, w, y, M, N, K, n0, n1, s); break;
    case 9: matmul_exact_q8_1(x, w, y, M, N, K, n0, n1, s); break;
    case 10: matmul_exact_q2_K(x, w, y, M, N, K, n0, n1, s); break;
    case 11: matmul_exact_q3_K(x, w, y, M, N, K, n0, n1, s); break;
    case 12: matmul_exact_q4_K(x, w, y, M, N, K, n0, n1, s); break;
    case 13: matmul_exact_q5_K(x, w, y, M, N, K, n0, n1, s); break;
    case 14: matmul_exact_q6_K(x, w, y, M, N, K, n0, n1, s); break;
    case 15: matmul_exact_q8_K(x, w, y, M, N, K, n0, n1, s); break;
    case 20: matmul_exact_iq4_nl(x, w, y, M, N, K, n0, n1, s); break;
    case 23: matmul_exact_iq4_xs(x, w, y, M, N, K, n0, n1, s); break;
    default: return false;
  }
  return true;
}

/** matmul_ggml_<type> by ggml type id; false for a type without one. */
function ggml(type: i32, x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): bool {
  switch (type) {
    case 1: matmul_ggml_f16(x, w, y, M, N, K, n0, n1); break;
    case 30: matmul_ggml_bf16(x, w, y, M, N, K, n0, n1); break;
    case 2: matmul_ggml_q4_0(x, w, y, M, N, K, n0, n1); break;
    case 3: matmul_ggml_q4_1(x, w, y, M, N, K, n0, n1); break;
    case 6: matmul_ggml_q5_0(x, w, y, M, N, K, n0, n1); break;
    case 7: matmul_ggml_q5_1(x, w, y, M, N, K, n0, n1); break;
    case 8: matmul_ggml_q8_0(x, w, y, M, N, K, n0, n1); break;
    case 10: matmul_ggml_q2_K(x, w, y, M, N, K, n0, n1); break;
    case 11: matmul_ggml_q3_K(x, w, y, M, N, K, n0, n1); break;
    case 12: matmul_ggml_q4_K(x, w, y, M, N, K, n0, n1); break;
    case 13: matmul_ggml_q5_K(x, w, y, M, N, K, n0, n1); break;
    case 14: matmul_ggml_q6_K(x, w, y, M, N, K, n0, n1); break;
    case 20: matmul_ggml_iq4_nl(x, w, y, M, N, K, n0, n1); break;
    case 23: matmul_ggml_iq4_xs(x, w, y, M, N, K, n0, n1); break;
    default: return false;
  }
  return true;
}

@inline
function run_matmul(flags: i32, type: i32, x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, s: usize): void {
  const ok = flags & GGML ? ggml(type, x, w, y, M, N, K, n0, n1) : exact(type, x, w, y, M, N, K, n0, n1, s);
  if (!ok) unreachable(); // the planner checks types first; a trap, never a silent zero
}

/**
 * Items [i0, i1) of the table at `items`; scratch: matmul_exact_scratch_bytes
 * of the largest M among them (exact numerics), owned by this thread.
 */
export function moe_expert_items(items: usize, i0: i32, i1: i32, scratch: usize): void {
  for (let i = i0; i < i1; i++) {
    const p = items + <usize>i * ITEM_BYTES;
    const flags = load<i32>(p);
    const M = load<i32>(p, 4);
    const N = load<i32>(p, 8);
    const K = load<i32>(p, 12);
    const n0 = load<i32>(p, 16);
    const n1 = load<i32>(p, 20);
    const yA = <usize>load<u32>(p, 36);
    run_matmul(flags, load<i32>(p, 24), <usize>load<u32>(p, 28), <usize>load<u32>(p, 32), yA, M, N, K, n0, n1, scratch);
    if (!(flags & GATED)) continue;
    const yB = <usize>load<u32>(p, 52);
    run_matmul(flags & GGML_B ? GGML : 0, load<i32>(p, 40), <usize>load<u32>(p, 44), <usize>load<u32>(p, 48), yB, M, N, K, n0, n1, scratch);
    const rowBytes = <usize>N << 2;
    for (let m = 0; m < M; m++) {
      const a = yA + <usize>m * rowBytes;
      nn_swiglu(a, yB + <usize>m * rowBytes, a, n0, n1);
    }
  }
}
