import type { Command } from 'commander';
import type { Runtime } from './runtime.js';
import { ExitCode } from '../lib/errors.js';

export function registerDoctor(program: Command, runtime: Runtime): void {
  const command = program
    .command('doctor')
    .description('check that retailctl can run here: Node.js, config, AWS region, endpoint, credentials (and whose), k6')
    .addHelpText(
      'after',
      `
Exit code 0 when every required check passes, 1 otherwise (k6 is optional).

Examples:
  $ retailctl doctor
  $ retailctl doctor --profile shop-prod --region eu-west-1
  $ retailctl doctor --json --config ci/retailctl.yaml | jq '.checks[] | select(.ok | not)'`,
    )
    .action(() =>
      runtime.execute(command, async (ctx) => {
        const [{ runDoctor }, { renderDoctor }] = await Promise.all([import('../lib/doctor/checks.js'), import('../lib/doctor/render.js')]);
        const report = await runDoctor(ctx);
        return { exitCode: report.ok ? ExitCode.Ok : ExitCode.Failure, data: { ...report }, text: renderDoctor(report, ctx.out) };
      }),
    );
}
