/**
 * What compare() accepts: a flat array of numbers (typed arrays included) or
 * {data, shape}. Shapes, when both sides have one, must match; counts always.
 */
import { ShapeError } from '../errors.js';
import { CountMismatchError } from './errors.js';

export type TensorLike = ArrayLike<number> | { data: ArrayLike<number>; shape: readonly number[] };

export interface FlatTensor {
  data: ArrayLike<number>;
  shape?: readonly number[];
}

export function flatten(x: TensorLike, what: string): FlatTensor {
  if ('data' in x && 'shape' in x && !ArrayBuffer.isView(x)) {
    const n = x.shape.reduce((p, d) => p * d, 1);
    if (n !== x.data.length)
      throw new ShapeError(
        `${what}: shape [${x.shape.join(', ')}] needs ${n} values, data has ${x.data.length}`,
      );
    return { data: x.data, shape: x.shape };
  }
  return { data: x as ArrayLike<number> };
}

/** Checks count (always) and shape (when both sides have one); returns the shape to report. */
export function checkPair(candidate: FlatTensor, reference: FlatTensor): readonly number[] | undefined {
  if (candidate.data.length !== reference.data.length)
    throw new CountMismatchError('compare', candidate.data.length, reference.data.length);
  if (candidate.shape && reference.shape) {
    const a = candidate.shape.join(', ');
    const b = reference.shape.join(', ');
    if (a !== b) throw new ShapeError(`compare: candidate shape [${a}] vs reference shape [${b}]`);
  }
  return reference.shape ?? candidate.shape;
}
