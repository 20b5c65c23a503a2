import type { Command } from 'commander';
import type { Runtime } from './runtime.js';

export function registerLoadtest(program: Command, runtime: Runtime): void {
  const command = program
    .command('loadtest')
    .description('validate a campaign\'s expected spike with k6 (external): ramp from baseline to baseline × multiplier, hold, check thresholds')
    .requiredOption('--campaign <name>', 'campaign from `campaigns:` in the config (its `loadtest:` section)')
    .option('--out <file>', 'write the k6 script to this file instead of running it (- for stdout)')
    .option('--summary-out <file>', 'write k6\'s end-of-test summary (its --summary-export JSON) to this file: the next run\'s --baseline')
    .option('--baseline <file>', 'a previous run\'s summary: exit 5 when p95, p99 or the error rate is worse by more than --max-regression')
    .option('--max-regression <percent>', 'how much worse than --baseline each of p95, p99 and the error rate may be (default 10%)')
    .addHelpText(
      'after',
      `
Only the campaign's configured URL is ever requested. Exit 5 when a threshold is breached or the
run regressed against --baseline; exit 1 when k6 is missing, fails, or cannot keep the arrival rate.

Examples:
  $ retailctl loadtest --campaign spring-sale-email --out spike.js
  $ retailctl loadtest --campaign spring-sale-email --dry-run
  $ retailctl loadtest --campaign spring-sale-email --summary-out summary.json --baseline previous-summary.json --max-regression 10%`,
    )
    .action((opts: { campaign: string; out?: string; summaryOut?: string; baseline?: string; maxRegression?: string }) =>
      runtime.execute(command, async (ctx) =>
        (await import('../lib/loadtest/pipeline.js')).loadtest(ctx, opts.campaign, { out: opts.out, summaryOut: opts.summaryOut, baseline: opts.baseline, maxRegression: opts.maxRegression }),
      ),
    );
}
