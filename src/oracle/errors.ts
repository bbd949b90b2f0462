/**
 * Errors of the parity oracle. Two tensors (or two statistics) with different
 * element counts are never compared through a ratio: that is an error.
 */
import { PlumblineError, ShapeError } from '../errors.js';

/** Candidate and reference (or two statistics, or a tensor and its magnitudes) count different elements. */
export class CountMismatchError extends ShapeError {
  constructor(
    readonly what: string,
    readonly candidateCount: number,
    readonly referenceCount: number,
  ) {
    super(`${what}: ${candidateCount} vs ${referenceCount} elements; different counts are not comparable`);
  }
}

/** Options that do not fit together (a magnitude without its dot length K, an unknown tier). */
export class ParityOptionError extends PlumblineError {}
