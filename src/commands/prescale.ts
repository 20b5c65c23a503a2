import type { Command } from 'commander';
import type { Runtime } from './runtime.js';
import { usageError } from '../lib/errors.js';
import { parseDurationFlag } from '../lib/util/duration.js';
import { withPlanOptions } from './plan-options.js';


/** `--campaign` is defined once, on `prescale`, and read by its subcommands too. */
function campaignOf(opts: { campaign?: string }): string {
  if (!opts.campaign) throw usageError('--campaign <name> is required', 'e.g. retailctl prescale --campaign spring-sale-email --dry-run');
  return opts.campaign;
}

export function registerPrescale(program: Command, runtime: Runtime): void {
  const prescale = withPlanOptions(program.command('prescale'))
    .description('raise Lambda provisioned concurrency, ECS and DynamoDB capacity for a campaign window, prove it is ready, and always scale back')
    .option('--campaign <name>', 'campaign from `campaigns:` in the config (required; also for status and restore)')
    .option('--schedule', 'create scheduled actions (up at sendAt − leadTime, down at sendAt + duration) instead of raising now')
    .option('--wait <duration>', 'raising now: wait up to this long until every target is ready (0 = do not wait); exit 5 if one is not', '15m')
    .addHelpText(
      'after',
      `
Raising now also schedules the way down (at sendAt + duration, to the min/max recorded before the
change), so capacity comes back down even if nobody runs anything else. Scheduled actions are written
in UTC (the plan shows local times too). Campaigns whose windows overlap on a target are planned
together: the larger minimum while both are live, one way down after the last window.

Examples:
  $ retailctl prescale --campaign spring-sale-email --dry-run
  $ retailctl prescale --campaign spring-sale-email --yes --wait 20m
  $ retailctl prescale --campaign spring-sale-email --schedule --yes
  $ retailctl prescale status --campaign spring-sale-email --json
  $ retailctl prescale restore --campaign spring-sale-email --yes
  $ retailctl prescale --campaign spring-sale-email --schedule --plan-out prescale.json
  $ retailctl apply prescale.json --yes`,
    )
    .action((opts: { campaign?: string; schedule?: boolean; wait: string }) =>
      runtime.execute(prescale, async (ctx) => (await import('../lib/prescale/pipeline.js')).prescaleRun(ctx, campaignOf(opts), { schedule: Boolean(opts.schedule), waitMs: parseDurationFlag('--wait', opts.wait) })),
    );

  const status = prescale
    .command('status')
    .description('per target: baseline, planned, current capacity and readiness, scheduled actions in local time and UTC (read-only)')
    .option('--check', 'after the window: exit 5 if a target is still above its baseline or its scheduled down/drain actions are missing (warm throughput is reported, never checked)')
    .addHelpText('after', '\nExamples:\n  $ retailctl prescale status --campaign spring-sale-email\n  $ retailctl prescale status --campaign spring-sale-email --check --json')
    .action(() =>
      runtime.execute(status, async (ctx) => {
        if (ctx.options.planOut !== undefined) throw usageError('--plan-out: prescale status only reads; make a plan with `prescale --plan-out` or `prescale restore --plan-out`');
        const opts = status.optsWithGlobals() as { campaign?: string; check?: boolean };
        return (await import('../lib/prescale/pipeline.js')).prescaleStatus(ctx, campaignOf(opts), { check: Boolean(opts.check) });
      }),
    );

  const restore = prescale
    .command('restore')
    .description('put every target back to its recorded baseline now (or to what another live campaign on it needs) and remove the campaign\'s scheduled actions (works from any machine: the baseline lives in AWS)')
    .addHelpText('after', '\nExamples:\n  $ retailctl prescale restore --campaign spring-sale-email --dry-run\n  $ retailctl prescale restore --campaign spring-sale-email --yes')
    .action(() =>
      runtime.execute(restore, async (ctx) => {
        const opts = restore.optsWithGlobals() as { campaign?: string; wait: string };
        return (await import('../lib/prescale/pipeline.js')).prescaleRestore(ctx, campaignOf(opts), { waitMs: parseDurationFlag('--wait', opts.wait) });
      }),
    );
}
