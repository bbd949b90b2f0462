/** The list of `plumbline` subcommands, in the order `--help` shows them. */
import type { Command } from './command.js';

export const commands: Command[] = [];
