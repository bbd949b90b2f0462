/**
 * Typed errors. Every error plumbline throws on bad input is a PlumblineError
 * subclass whose message names what is wrong (file, tensor, offset, argument).
 */

export class PlumblineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor type that plumbline does not know or that an operation does not support. */
export class UnsupportedTypeError extends PlumblineError {
  constructor(
    readonly type: string,
    detail = 'unknown ggml type',
  ) {
    super(`${detail}: ${JSON.stringify(type)}`);
  }
}

/** A byte length or element count that does not fit the type or shape. */
export class SizeError extends PlumblineError {}

/** A shape that is invalid or that does not match another operand. */
export class ShapeError extends PlumblineError {}

/** A malformed or hostile file. `offset` is the byte offset where the problem was found, if known. */
export class FormatError extends PlumblineError {
  constructor(
    readonly format: string,
    message: string,
    readonly offset?: number,
    readonly file?: string,
  ) {
    super(
      `${format}${file ? ` ${file}` : ''}: ${message}${offset !== undefined ? ` (at byte offset ${offset})` : ''}`,
    );
  }
}

export class GgufError extends FormatError {
  constructor(message: string, offset?: number, file?: string) {
    super('GGUF', message, offset, file);
  }
}

export class SafetensorsError extends FormatError {
  constructor(message: string, offset?: number, file?: string) {
    super('safetensors', message, offset, file);
  }
}

/** A sequence that does not fit its context: writing a KV cache position ≥ n_ctx. */
export class ContextOverflowError extends PlumblineError {
  constructor(
    readonly position: number,
    readonly nCtx: number,
    what = 'KV cache',
  ) {
    super(`${what}: position ${position} is beyond the context of ${nCtx} positions`);
  }
}

/** The WebAssembly runtime cannot provide what is needed (no SIMD, memory limit reached). */
export class WasmRuntimeError extends PlumblineError {}

/** One thread's failure in a pool op (thread 0 is the calling thread). */
export interface WorkerFailure {
  thread: number;
  /** 'threw': the kernel trapped or threw; 'died': the worker exited or was terminated. */
  kind: 'threw' | 'died';
  message: string;
}

/**
 * A worker-pool op failed on at least one thread. The op's outputs are
 * undefined; the pool has already replaced what failed and stays usable.
 */
export class WorkerError extends PlumblineError {
  constructor(
    readonly kernel: string,
    readonly failures: readonly WorkerFailure[],
  ) {
    super(
      `${kernel}: ${failures.map((f) => `thread ${f.thread} ${f.kind === 'died' ? 'died' : 'failed'} (${f.message})`).join('; ')}`,
    );
  }
}
