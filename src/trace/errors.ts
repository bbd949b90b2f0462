/** Errors of trace files and name maps: each names the file, tensor or map at fault. */
import { FormatError, PlumblineError } from '../errors.js';

/** A safetensors file whose trace metadata is malformed (bad `tokens`, unsupported format version). */
export class TraceFormatError extends FormatError {
  constructor(message: string, file?: string) {
    super('plumbline trace', message, undefined, file);
  }
}

/** A safetensors file that does not say it is a plumbline trace (and no name map was given to read it as one). */
export class NotATraceError extends TraceFormatError {}

/** Names a trace writer refuses (not canonical, duplicated) or a capture does not know. */
export class TraceNameError extends PlumblineError {
  constructor(
    message: string,
    readonly names: readonly string[],
  ) {
    super(message);
  }
}

/** An unknown name map, two tensors mapped to one stage, or a transform that lacks what it needs. */
export class TraceMapError extends PlumblineError {}
