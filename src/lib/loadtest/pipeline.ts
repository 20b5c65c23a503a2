import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findCampaign } from '../config/campaign.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { runK6 } from './run.js';
import { k6Script, loadProfile } from './script.js';

/** `retailctl loadtest --campaign <name> [--out file]`. */
export async function loadtest(ctx: CommandContext, name: string, options: { out?: string }): Promise<CommandResult> {
  const { config } = await ctx.config();
  const campaign = findCampaign(config, name);
  if (!campaign.loadtest) throw new RetailctlError('LOADTEST_MISSING', `campaign ${name} has no loadtest section`, { exitCode: ExitCode.Usage, hint: 'add campaigns.<name>.loadtest with url, baselineRps, multiplier (see examples/retailctl.yaml)' });
  const profile = loadProfile(campaign.loadtest);
  const script = k6Script(profile, name);
  const describe = `${profile.baselineRps} → ${profile.peakRps} req/s on ${profile.url} over ${formatDuration(profile.rampUpSeconds * 1000)}, held ${formatDuration(profile.holdSeconds * 1000)}`;
  if (options.out) {
    const file = path.resolve(ctx.cwd, options.out);
    await writeFile(file, script);
    return { data: { profile, script: file, ran: false }, text: `wrote ${options.out}: ${describe} (run it with \`k6 run ${options.out}\`)` };
  }
  if (ctx.options.dryRun) return { data: { profile, ran: false, dryRun: true }, text: `would run k6: ${describe}\n\n${script}` };
  ctx.out.info(`load test ${name}: ${describe}`);
  let last = 0;
  const result = await runK6(script, profile, {
    env: ctx.env,
    signal: ctx.signal,
    onLine: (line) => {
      // k6 prints a progress line every second: keep CI logs readable
      if (ctx.out.verbose > 0 || Date.now() - last > 10_000) {
        last = Date.now();
        ctx.out.info(`k6: ${line}`);
      }
    },
  });
  const lines = [
    `${result.requests} requests, ${result.rps} req/s; p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms; errors ${(result.errorRate * 100).toFixed(2)}%`,
    ...result.thresholds.map((t) => `${t.ok ? '✓' : '✗'} ${t.name}`),
    result.passed ? 'thresholds held' : 'THRESHOLDS BREACHED',
  ];
  return { exitCode: result.passed ? ExitCode.Ok : ExitCode.CheckFailed, data: { profile, ran: true, result }, text: lines.join('\n') };
}
