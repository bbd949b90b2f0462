#!/usr/bin/env node
/** `plumbline`: one binary, subcommands each with --help and --json (design.md, CLI). */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CliIo, type Command, UsageError } from './command.js';
import { commands } from './commands.js';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: plumbline <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'plumbline <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`plumbline: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`plumbline ${cmd.name}: ${e.message}\n\n${cmd.help}`);
      return 2;
    }
    if (e instanceof Error && e.name !== 'Error') {
      io.err(`plumbline ${cmd.name}: ${e.name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  write: (t) => process.stdout.write(t),
  isTty: Boolean(process.stdout.isTTY),
};

/** Run as a program (also through npm's bin symlink), not when imported by tests. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), processIo).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
