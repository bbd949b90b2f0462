// Embedding lookup (ggml get_rows): token ids → rows of a [n_vocab, n_embd]
// table in its ggml type, each row dequantized by that type's dequant kernel
// (assembly/dequant), so a row is bit-identical to dequantize() of it.
import { dequant_bf16, dequant_f16, dequant_f32 } from '../dequant/float';
import {
  dequant_iq4_xs,
  dequant_q2_K,
  dequant_q3_K,
  dequant_q4_K,
  dequant_q5_K,
  dequant_q6_K,
  dequant_q8_K,
} from '../dequant/kquants';
import {
  dequant_iq4_nl,
  dequant_q4_0,
  dequant_q4_1,
  dequant_q5_0,
  dequant_q5_1,
  dequant_q8_0,
  dequant_q8_1,
} from '../dequant/legacy';

/** Dequantizes `count` (elements for f32/f16/bf16, blocks otherwise) of ggml type id `type`. */
function dequant_row(type: i32, src: usize, dst: usize, count: i32): void {
  switch (type) {
    case 0: dequant_f32(src, dst, count); break;
    case 1: dequant_f16(src, dst, count); break;
    case 30: dequant_bf16(src, dst, count); break;
    case 2: dequant_q4_0(src, dst, count); break;
    case 3: dequant_q4_1(src, dst, count); break;
    case 6: dequant_q5_0(src, dst, count); break;
    case 7: dequant_q5_1(src, dst, count); break;
    case 8: dequant_q8_0(src, dst, count); break;
    case 9: dequant_q8_1(src, dst, count); break;
    case 10: dequant_q2_K(src, dst, count); break;
    case 11: dequant_q3_K(src, dst, count); break;
    case 12: dequant_q4_K(src, dst, count); break;
    case 13: dequant_q5_K(src, dst, count); break;
    case 14: dequant_q6_K(src, dst, count); break;
    case 15: dequant_q8_K(src, dst, count); break;
    case 20: dequant_iq4_nl(src, dst, count); break;
    case 23: dequant_iq4_xs(src, dst, count); break;
    default: unreachable();
  }
}

/**
 * y[r] = table[ids[r]] for r in [r0, r1): ids are i32, the table has nVocab
 * rows of rowBytes bytes, each `count` dequant units of nEmbd floats. An id
 * outside [0, nVocab) traps (the host validates ids first; this keeps a bad
 * id from reading outside the table).
 */
export function nn_embedding(
  type: i32,
  table: usize,
  rowBytes: usize,
  count: i32,
  ids: usize,
  y: usize,
  nEmbd: i32,
  nVocab: i32,
  r0: i32,
  r1: i32,
): void {
  const outBytes = (<usize>nEmbd) << 2;
  for (let r = r0; r < r1; r++) {
    const id = load<i32>(ids + ((<usize>r) << 2));
    if (<u32>id >= <u32>nVocab) unreachable();
    dequant_row(type, table + <usize>id * rowBytes, y + <usize>r * outBytes, count);
  }
}
