import type { Command } from 'commander';
import type { Runtime } from './runtime.js';

export function registerLoadtest(program: Command, runtime: Runtime): void {
  const command = program
    .command('loadtest')
    .description('validate a campaign\'s expected spike with k6 (external): ramp from baseline to baseline × multiplier, hold, check thresholds')
    .requiredOption('--campaign <name>', 'campaign from `campaigns:` in the config (its `loadtest:` section)')
    .option('--out <file>', 'write the k6 script to this file instead of running it (- for stdout)')
    .addHelpText(
      'after',
      `
Only the campaign's configured URL is ever requested. Exit 5 when a threshold is breached.

Examples:
  $ retailctl loadtest --campaign spring-sale-email --out spike.js
  $ retailctl loadtest --campaign spring-sale-email --json`,
    )
    .action((opts: { campaign: string; out?: string }) =>
      runtime.execute(command, async (ctx) => (await import('../lib/loadtest/pipeline.js')).loadtest(ctx, opts.campaign, { out: opts.out })),
    );
}
