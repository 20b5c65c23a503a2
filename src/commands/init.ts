import path from 'node:path';
import type { Command } from 'commander';
import type { Runtime } from './runtime.js';

export function registerInit(program: Command, runtime: Runtime): void {
  const command = program
    .command('init')
    .description('write a starter retailctl.yaml (to --config, default ./retailctl.yaml) with every section documented')
    .addHelpText(
      'after',
      `
Replacing an existing, different file asks first (or needs --yes) and keeps it as <file>.bak.

Examples:
  $ retailctl init
  $ retailctl init --config ci/retailctl.yaml --dry-run`,
    )
    .action(() =>
      runtime.execute(command, async (ctx) => {
        const { planInit, initNeedsConfirmation, renderInitPlan } = await import('../lib/init/plan.js');
        const { readTemplate, readExisting, executeInit, checkInitTarget } = await import('../lib/init/execute.js');
        await checkInitTarget(ctx.options.config, ctx.cwd, `${ctx.options.config}.bak`);
        const template = await readTemplate();
        const plan = planInit({ file: ctx.options.config, existing: await readExisting(path.resolve(ctx.cwd, ctx.options.config)), template });
        ctx.out.info(renderInitPlan(plan));
        if (ctx.options.dryRun || plan.action === 'unchanged') return { data: { plan, applied: false } };
        if (initNeedsConfirmation(plan)) await ctx.confirm(`Overwrite ${plan.file}?`);
        await executeInit(plan, ctx.cwd, template);
        return { data: { plan, applied: true }, text: `wrote ${plan.file}` };
      }),
    );
}
