import type { Command } from 'commander';
import type { Runtime } from './runtime.js';

export function registerConfig(program: Command, runtime: Runtime): void {
  const config = program
    .command('config')
    .description('work with the retailctl config file')
    .addHelpText('after', '\nExamples:\n  $ retailctl config validate --config ci/retailctl.yaml');
  const validate = config
    .command('validate')
    .description('validate the config file (--config): exit 0 when valid, 2 with one line per problem otherwise')
    .addHelpText(
      'after',
      `
Examples:
  $ retailctl config validate
  $ retailctl config validate --config ci/retailctl.yaml --json`,
    )
    .action(() =>
      runtime.execute(validate, async (ctx) => {
        const { summarizeConfig } = await import('../lib/config/summary.js');
        const { file, config: loaded } = await ctx.config();
        const sections = summarizeConfig(loaded);
        return { data: { file, sections }, text: `${file} is valid${sections.length ? `: ${sections.join(', ')}` : ' (no sections yet)'}` };
      }),
    );
}
