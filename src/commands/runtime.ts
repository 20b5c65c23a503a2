import type { Command } from 'commander';
import type { CommandContext, CommandResult } from '../lib/context.js';

/** A command's work, run with a fully built context once commander has parsed the arguments. */
export type CommandHandler = (ctx: CommandContext) => Promise<CommandResult>;

/** What command modules register their actions through (src/cli.ts provides it). */
export interface Runtime {
  execute(command: Command, handler: CommandHandler): Promise<void>;
}
