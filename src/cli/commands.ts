/** The list of `plumbline` subcommands, in the order `--help` shows them. */
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { inspectCommand } from './inspect.js';

export const commands: Command[] = [demoCommand, inspectCommand];
