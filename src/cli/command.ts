/** The shape every `plumbline` subcommand has; main.ts dispatches to them. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Writes text to stdout without a newline (streamed output); absent where output is collected by lines. */
  write?(text: string): void;
  /** Whether stdout is a terminal (progress bars and colour only then). */
  readonly isTty: boolean;
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly help: string;
  /** Returns the process exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Thrown for a bad command line; main prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/** Runs parseArgs (strict), turning its errors (unknown options and the like) into UsageErrors. */
export function parseCommandArgs<T extends Options>(
  argv: string[],
  options: T,
  allowPositionals = true,
): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true }) as Parsed<T>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `value` when `allowed` has it, else a UsageError: unknown <what> "value" (one of a, b, c). */
export function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`unknown ${what} ${JSON.stringify(value)} (one of ${allowed.join(', ')})`);
  return value as T;
}
