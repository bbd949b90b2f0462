/** The shape every `plumbline` subcommand has; main.ts dispatches to them. */
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
