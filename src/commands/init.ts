import type { Command } from 'commander';
import { withPlanOptions } from './plan-options.js';
import type { Runtime } from './runtime.js';

export function registerInit(program: Command, runtime: Runtime): void {
  const command = withPlanOptions(
    program.command('init').description('write a starter retailctl.yaml (to --config, default ./retailctl.yaml) with every section documented'),
  )
    .addHelpText(
      'after',
      `
Replacing an existing, different file asks first (or needs --yes) and keeps it as <file>.bak.
--plan-out, like every plan, binds the plan to the account and region of the credentials (it needs them).

Examples:
  $ retailctl init
  $ retailctl init --config ci/retailctl.yaml --dry-run
  $ retailctl init --config ci/retailctl.yaml --plan-out init.json && retailctl apply init.json --yes`,
    )
    .action(() => runtime.execute(command, async (ctx) => (await import('../lib/init/kind.js')).initRun(ctx)));
}
