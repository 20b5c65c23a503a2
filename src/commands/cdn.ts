import { Option, type Command } from 'commander';
import type { Runtime } from './runtime.js';
import { parseDurationFlag, parseIntegerFlag } from '../lib/util/duration.js';
import { withPlanOptions } from './plan-options.js';

const WAIT_DEFAULT = '3m';

interface VerifyOpts {
  resolverIp?: string;
  ednsSubnet?: string;
  verifyResolvers?: string;
  verifyTimeout?: string;
}

/** DNS verification flags, as the pipeline takes them (unset = `cdn.verify`, then defaults). */
function verifyFlags(opts: VerifyOpts) {
  return {
    ...(opts.resolverIp !== undefined ? { resolverIp: opts.resolverIp } : {}),
    ...(opts.ednsSubnet !== undefined ? { ednsSubnet: opts.ednsSubnet } : {}),
    ...(opts.verifyResolvers !== undefined ? { resolvers: opts.verifyResolvers } : {}),
    ...(opts.verifyTimeout !== undefined ? { timeoutMs: parseDurationFlag('--verify-timeout', opts.verifyTimeout, null) } : {}),
  };
}

/** After INSYNC: check the DNS answers (Route 53 TestDNSAnswer, and resolvers asked directly). */
function withVerifyOptions(c: Command, ifNotSeen = 'exit 5 if not seen (the change stays applied)'): Command {
  return c
    .option('--resolver-ip <ip>', 'check Route 53\'s answer as given to this resolver (TestDNSAnswer ResolverIP; latency routing); config cdn.verify.resolverIp')
    .option('--edns-subnet <ip/mask>', 'check Route 53\'s answer for this EDNS client subnet, e.g. 192.0.2.0/24; config cdn.verify.ednsSubnet')
    .option('--verify-resolvers <list>', 'also ask these resolvers until each gives the new answer, e.g. 1.1.1.1,8.8.8.8 (ip:port allowed); config cdn.verify.resolvers')
    .option('--verify-timeout <duration>', `how long to wait for the new DNS answer; ${ifNotSeen}; config cdn.verify.timeout (default 120s)`);
}


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
    withVerifyOptions(withPlanOptions(c))
      .option('--force', 'go ahead even if the destination is unhealthy or its CloudFront distribution is not Enabled and Deployed')
      .option('--wait <duration>', 'wait up to this long for Route 53 to report INSYNC (0 = do not wait); exit 5 if it does not', WAIT_DEFAULT);

  const failover = changeOptions(
    cdn
      .command('failover [group]')
      .description('move the group\'s traffic to the other CDN (default: away from the one serving now) in one atomic, compare-and-set change')
      .addOption(new Option('--to <side>', 'where traffic should go').choices(['primary', 'secondary'])),
  )
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn failover storefront --dry-run\n  $ retailctl cdn failover storefront --to secondary --yes --json')
    .action((group: string | undefined, opts: { to?: 'primary' | 'secondary'; force?: boolean; wait: string } & VerifyOpts) =>
      runtime.execute(failover, async (ctx) =>
        (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'failover', to: opts.to, force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait), verify: verifyFlags(opts) }),
      ),
    );

  const failback = changeOptions(cdn.command('failback [group]').description('move the group\'s traffic back to the primary CDN (latency routing: back to both), same safety as failover'))
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn failback storefront --yes')
    .action((group: string | undefined, opts: { force?: boolean; wait: string } & VerifyOpts) =>
      runtime.execute(failback, async (ctx) =>
        (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'failback', force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait), verify: verifyFlags(opts) }),
      ),
    );

  const shift = changeOptions(
    cdn
      .command('shift [group]')
      .description('set weights for weighted records, for gradual moves (0-255 each, not all zero)')
      .requiredOption('--weights <list>', 'set-identifier=weight pairs, e.g. cloudfront=90,fastly=10'),
  )
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn shift storefront --weights cloudfront=90,fastly=10 --dry-run\n  $ retailctl cdn shift storefront --weights cloudfront=50,fastly=50 --yes')
    .action((group: string | undefined, opts: { weights: string; force?: boolean; wait: string } & VerifyOpts) =>
      runtime.execute(shift, async (ctx) => {
        const { parseWeights } = await import('../lib/cdn/plan.js');
        const weights = parseWeights(opts.weights);
        return (await import('../lib/cdn/pipeline.js')).cdnChange(ctx, group, { action: 'shift', weights, force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait), verify: verifyFlags(opts) });
      }),
    );

  const drill = withVerifyOptions(
    cdn
      .command('drill [group]')
      .description('rehearse a failover and time the recovery: move a little traffic to the secondary (weighted) or fail over (failover/latency routing), verify, hold, roll back exactly, verify again; one audit line with the times')
      .option('--weight <percent>', 'weighted routing: the secondary\'s share during the drill, 1-99 (the primary keeps the rest)', '10')
      .option('--hold <duration>', 'how long to hold before rolling back', '5m')
      .option('--force', 'go ahead even if the secondary is unhealthy or its CloudFront distribution is not Enabled and Deployed')
      .option('--wait <duration>', 'wait up to this long for each change to be INSYNC; a change not INSYNC in time is rolled back, exit 5', WAIT_DEFAULT),
    'not seen: rolled back at once, exit 5',
  )
    .addHelpText('after', '\nExamples:\n  $ retailctl cdn drill storefront --weight 10 --hold 5m --dry-run\n  $ retailctl cdn drill storefront --yes --json --verify-resolvers 1.1.1.1,8.8.8.8')
    .action((group: string | undefined, opts: { weight: string; hold: string; force?: boolean; wait: string } & VerifyOpts) =>
      runtime.execute(drill, async (ctx) => {
        const weight = parseIntegerFlag('--weight', opts.weight, { min: 1, max: 99 })!;
        const holdMs = parseDurationFlag('--hold', opts.hold, 'roll back at once');
        return (await import('../lib/cdn/drill.js')).cdnDrill(ctx, group, { weight, holdMs, force: Boolean(opts.force), waitMs: parseDurationFlag('--wait', opts.wait), verify: verifyFlags(opts) });
      }),
    );
}
