import { Option, type Command } from 'commander';
import type { Runtime } from './runtime.js';
import { parseDurationFlag } from '../lib/util/duration.js';

const WAIT_DEFAULT = '3m';


export function registerCdn(program: Command, runtime: Runtime): void {
  const cdn = program
    .command('cdn')
    .description('see and move storefront traffic between CloudFront and a secondary CDN (Route 53)')
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn status\n  $ retailctl cdn failover storefront --dry-run\n  $ retailctl cdn failback storefront --yes');

  const status = cdn
    .command('status [group]')
    .description('every record set of the group(s): target, weight/role/region, TTL, health, CloudFront state, and where traffic goes now (read-only)')
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn status\n  $ retailctl cdn status storefront --json | jq -r .groups[0].traffic')
    .action((group: string | undefined) =>
      runtime.execute(status, async (ctx) => (await import('../lib/cdn/pipeline.js')).cdnStatus(ctx, group)),
    );

  const changeOptions = (c: Command) =>
    c
      .option('--force', 'go ahead even if the destination is unhealthy or its CloudFront distribution is not Enabled and Deployed')
      .option('--wait <duration>', 'wait up to this long for Route 53 to report INSYNC (0 = do not wait); exit 5 if it does not', WAIT_DEFAULT);

  const failover = changeOptions(
    cdn
      .command('failover [group]')
      .description('move the group\'s traffic to the other CDN (default: away from the one serving now) in one atomic, compare-and-set change')
      .addOption(new Option('--to <side>', 'where traffic should go').choices(['primary', 'secondary'])),
  )
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn failover storefront --dry-run\n  $ retailctl cdn failover storefront --to secondary --yes --json')
    .action((group: string | undefined, opts: { to?: 'primary' | 'secondary'; force?: boolean; wait: string }) =>
      runtime.execute(failover, async (ctx) =>
        (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'failover', to: opts.to, force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait) }),
      ),
    );

  const failback = changeOptions(cdn.command('failback [group]').description('move the group\'s traffic back to the primary CDN (latency routing: back to both), same safety as failover'))
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn failback storefront --yes')
    .action((group: string | undefined, opts: { force?: boolean; wait: string }) =>
      runtime.execute(failback, async (ctx) =>
        (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'failback', force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait) }),
      ),
    );

  const shift = changeOptions(
    cdn
      .command('shift [group]')
      .description('set weights for weighted records, for gradual moves (0-255 each, not all zero)')
      .requiredOption('--weights <list>', 'set-identifier=weight pairs, e.g. cloudfront=90,fastly=10'),
  )
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn shift storefront --weights cloudfront=90,fastly=10 --dry-run\n  $ retailctl cdn shift storefront --weights cloudfront=50,fastly=50 --yes')
    .action((group: string | undefined, opts: { weights: string; force?: boolean; wait: string }) =>
      runtime.execute(shift, async (ctx) => {
        const { parseWeights } = await import('../lib/cdn/plan.js');
        const weights = parseWeights(opts.weights);
        return (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'shift', weights, force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait) });
      }),
    );
}
