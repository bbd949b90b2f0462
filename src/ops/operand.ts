/**
 * What the nn ops' validators need to know of a tensor (an engine Tensor
 * satisfies it), and the checks they share: f32 rows, matching shapes, f32
 * attributes (ggml keeps float attributes as f32 in op_params, so every
 * backend sees the same rounded value).
 */
import { ShapeError, UnsupportedTypeError } from '../errors.js';
import type { GgmlTypeInfo } from '../types/ggml-types.js';

export interface OpOperand {
  readonly shape: readonly number[];
  readonly type: GgmlTypeInfo;
}

/** Largest element count of one operand: byte offsets must stay inside 32-bit wasm memory. */
export const MAX_ELEMENTS = 2 ** 30 - 1;

export interface RowShape {
  /** Product of all but the last dimension. */
  rows: number;
  /** The last (contiguous) dimension. */
  dim: number;
}

/** An f32 operand viewed as [rows, dim] (dim: the last dimension, ≥ 1). */
export function f32Rows(op: string, name: string, t: OpOperand): RowShape {
  if (t.type.name !== 'f32') throw new UnsupportedTypeError(t.type.name, `${op}: ${name} must be f32, got`);
  const { shape } = t;
  if (shape.length === 0) throw new ShapeError(`${op}: ${name} must have at least one dimension`);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new ShapeError(`${op}: ${name} has an invalid shape [${shape}]`);
  const dim = shape[shape.length - 1];
  if (dim < 1) throw new ShapeError(`${op}: ${name}'s last dimension must be at least 1, got [${shape}]`);
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows * dim > MAX_ELEMENTS)
    throw new ShapeError(`${op}: ${name} [${shape}] has more than ${MAX_ELEMENTS} elements`);
  return { rows, dim };
}

export function requireSameShape(op: string, a: OpOperand, aName: string, b: OpOperand, bName: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new ShapeError(`${op}: ${aName} is [${a.shape}] but ${bName} is [${b.shape}]; they must match`);
}

/** A float attribute as ggml stores it (f32), checked after rounding. */
export function f32Attribute(
  op: string,
  name: string,
  value: unknown,
  check: 'finite' | 'non-negative' | 'positive',
): number {
  if (typeof value !== 'number') throw new ShapeError(`${op}: ${name} must be a number, got ${typeof value}`);
  const v = Math.fround(value);
  const ok = Number.isFinite(v) && (check === 'finite' || (check === 'non-negative' ? v >= 0 : v > 0));
  if (!ok)
    throw new ShapeError(
      `${op}: ${name} must be ${check === 'finite' ? 'a finite' : `a ${check}`} f32, got ${value}`,
    );
  return v;
}
