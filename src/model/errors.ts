/**
 * Typed errors of model loading and running. Each names what is at fault: the
 * GGUF key (`key`), the tensor (`tensor`), or the sizes that do not fit.
 */
import { PlumblineError } from '../errors.js';

/** Something about a model file or a model call that plumbline cannot run. */
export class ModelError extends PlumblineError {}

/** `general.architecture` names an architecture this version does not implement. */
export class UnsupportedArchitectureError extends ModelError {
  readonly key = 'general.architecture';
  constructor(
    readonly architecture: string | undefined,
    readonly supported: readonly string[],
  ) {
    super(
      architecture === undefined
        ? `general.architecture is missing; supported: ${supported.join(', ')}`
        : `general.architecture = ${JSON.stringify(architecture)} is not supported; supported: ${supported.join(', ')}`,
    );
  }
}

/** A hyperparameter that is missing, of the wrong type, or inconsistent with the others. */
export class HyperparameterError extends ModelError {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`${key}: ${detail}`);
  }
}

/** A tensor that is missing, unexpected, of an unusable type, or of the wrong shape for the hyperparameters. */
export class ModelTensorError extends ModelError {
  constructor(
    readonly tensor: string,
    detail: string,
  ) {
    super(`tensor ${JSON.stringify(tensor)}: ${detail}`);
  }
}

/** The model (weights, KV cache, work buffers) needs more memory than the backend can address. */
export class ModelTooLargeError extends ModelError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
    detail: string,
  ) {
    super(
      `the model needs about ${(bytes / 2 ** 30).toFixed(2)} GiB (${detail}) but ${(limit / 2 ** 30).toFixed(2)} GiB is addressable`,
    );
  }
}
