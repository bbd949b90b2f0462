/** Runs `plumbline` in-process (main()) with its output collected, for the CLI tests. */
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  /** Each io.out call, joined by newlines: what stdout shows. */
  out: string;
  err: string;
  /** What io.write streamed (with `streaming` only). */
  written: string;
}

/** `streaming` gives the io a write() (commands then stream text there instead of printing it at the end). */
export async function runCli(argv: string[], { streaming = false } = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const written: string[] = [];
  const io: CliIo = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    isTty: false,
    ...(streaming ? { write: (t: string) => written.push(t) } : {}),
  };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n'), written: written.join('') };
}
