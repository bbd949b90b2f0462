/** What the report commands (diff, replay, parity) share: a progress line while they run, then text or JSON and an optional HTML file. */
import { writeFile } from 'node:fs/promises';
import type { CliIo } from './command.js';

/**
 * A one-line progress indicator labelled `label`, redrawn in place; shown only
 * on a terminal and only once a command runs long.
 */
export function progressLine(
  stream: { isTTY?: boolean; write(s: string): unknown },
  delayMs = 400,
  label = 'diff',
): { update(done: number, total: number, name: string): void; clear(): void } {
  const start = Date.now();
  let shown = false;
  return {
    update(done, total, name) {
      if (!stream.isTTY || Date.now() - start < delayMs) return;
      shown = true;
      stream.write(`\r\x1b[K${label}: ${done}/${total} ${name}`);
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

/** Runs `work` with a progress line on stderr labelled `label`, cleared however it ends. */
export async function withProgress<T>(
  label: string,
  work: (onProgress: (done: number, total: number, name: string) => void) => Promise<T>,
): Promise<T> {
  const progress = progressLine(process.stderr, 400, label);
  try {
    return await work(progress.update);
  } finally {
    progress.clear();
  }
}

export interface ReportOutput {
  /** Print `toJson()` instead of `toText()`; warnings then go to stderr, prefixed by the command's name. */
  json: boolean;
  /** Also write `toHtml()` to this file (named on stdout unless printing JSON). */
  html?: string | undefined;
  warnings?: readonly string[];
  /** The JSON text. */
  toJson(): string;
  toText(): string;
  toHtml(): string;
}

/** Prints a command's report as text or JSON and writes its HTML report when asked. */
export async function writeReport(io: CliIo, command: string, r: ReportOutput): Promise<void> {
  if (r.json) {
    for (const w of r.warnings ?? []) io.err(`plumbline ${command}: warning: ${w}`);
    io.out(r.toJson());
  } else io.out(r.toText());
  if (r.html) {
    await writeFile(r.html, r.toHtml());
    if (!r.json) io.out(`HTML report: ${r.html}`);
  }
}
