/** The list of `plumbline` subcommands, in the order `--help` shows them. */
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { diffCommand } from './diff.js';
import { inspectCommand } from './inspect.js';
import { parityCommand } from './parity.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { scanReplayCommand } from './scan-replay.js';
import { scanTraceCommand } from './scan-trace.js';
import { traceCommand } from './trace.js';

export const commands: Command[] = [
  demoCommand,
  inspectCommand,
  runCommand,
  traceCommand,
  diffCommand,
  replayCommand,
  scanTraceCommand,
  scanReplayCommand,
  parityCommand,
];
