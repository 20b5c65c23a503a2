import { Option, type Command } from 'commander';
import { usageError } from '../lib/errors.js';
import { parseDurationFlag } from '../lib/util/duration.js';

/** The longest a plan file may stay valid: a reviewed plan is for a change soon, not one month later. */
const MAX_TTL_MS = 30 * 24 * 3_600_000; // MAX_PLAN_TTL_MS in lib/plan/document.ts (not imported: --help stays light)

function parseTtl(value: string): number {
  const ms = parseDurationFlag('--plan-ttl', value, null);
  if (ms > MAX_TTL_MS) throw usageError(`--plan-ttl: ${value} is longer than 30d, the longest a plan stays valid`, 'make the plan closer to when it is applied');
  return ms;
}

/** `--plan-out` / `--plan-ttl` on a writing command: the reviewed-plan workflow (`retailctl apply`). */
export function withPlanOptions(command: Command): Command {
  return command
    .option('--plan-out <file>', 'write the plan to FILE (JSON, signed) for review and `retailctl apply FILE`; writes nothing to AWS')
    .addOption(new Option('--plan-ttl <duration>', 'how long the plan file stays valid').default(24 * 3_600_000, '24h').argParser(parseTtl));
}
