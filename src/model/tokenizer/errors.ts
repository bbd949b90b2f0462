import { PlumblineError } from '../../errors.js';

/**
 * Tokenizer metadata that is missing, of the wrong type or inconsistent, or
 * an input the tokenizer cannot handle. `key` names the GGUF key at fault.
 */
export class TokenizerError extends PlumblineError {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
  }
}
