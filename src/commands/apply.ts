import type { Command } from 'commander';
import { parseDurationFlag } from '../lib/util/duration.js';
import type { Runtime } from './runtime.js';

export function registerApply(program: Command, runtime: Runtime): void {
  const apply = program
    .command('apply <plan-file>')
    .description('apply a plan file made with --plan-out, exactly: verified (digest or RETAILCTL_PLAN_KEY HMAC, account, region, expiry), every precondition re-read, then the planned writes and nothing else')
    .option('--wait <duration>', 'for plans that wait (cdn: INSYNC, prescale raise: ready): wait up to this long (0 = do not wait)', '3m')
    .addHelpText('after', '\nExit codes: 2 the file is not an intact plan (edited, truncated, unknown kind, newer format) or is for another account/region;\n1 expired, the world changed since it was made (the differences are listed, nothing is written), or a plan that is applied once (inventory publish) was applied already.\n\nExamples:\n  $ retailctl cdn failover storefront --plan-out failover.json\n  $ retailctl plan show failover.json\n  $ retailctl apply failover.json --yes')
    .action((file: string, opts: { wait: string }) =>
      runtime.execute(apply, async (ctx) => (await import('../lib/plan/apply.js')).applyPlan(ctx, file, { waitMs: parseDurationFlag('--wait', opts.wait) })),
    );

  const plan = program.command('plan').description('plan files made with --plan-out');
  const show = plan
    .command('show <plan-file>')
    .description('render a plan file for people, or as Markdown for a pull-request comment (reads no AWS)')
    .option('--markdown', 'GitHub-flavoured Markdown')
    .addHelpText('after', '\nExamples:\n  $ retailctl plan show failover.json\n  $ retailctl plan show failover.json --markdown > comment.md')
    .action((file: string, opts: { markdown?: boolean }) =>
      runtime.execute(show, async (ctx) => (await import('../lib/plan/apply.js')).showPlan(ctx, file, { markdown: Boolean(opts.markdown) })),
    );
}
