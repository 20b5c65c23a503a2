import path from 'node:path';
import { findCampaign } from '../config/campaign.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile, STDOUT } from '../io/paths.js';
import { writeFileAtomic } from '../io/rows.js';
import { formatDuration } from '../util/duration.js';
import { shown } from '../util/sanitize.js';
import { runK6 } from './run.js';
import { k6Script, loadProfile } from './script.js';

/** `retailctl loadtest --campaign <name> [--out file]`. */
export async function loadtest(ctx: CommandContext, name: string, options: { out?: string }): Promise<CommandResult> {
  // the destination is checked before anything else runs: not a directory, device or FIFO, in a writable directory
  const out = options.out === undefined || options.out === STDOUT ? options.out : path.resolve(ctx.cwd, options.out);
  if (out !== undefined && out !== STDOUT) {
    await checkOutputFile(out, '--out').catch((err: unknown) => {
      if (err instanceof RetailctlError) throw new RetailctlError(err.code, err.message.replace(`--out ${out}:`, `--out ${shown(options.out)}:`), { exitCode: err.exitCode, hint: err.hint });
      throw err;
    });
  }
  const { config } = await ctx.config();
  const campaign = findCampaign(config, name);
  if (!campaign.loadtest) throw new RetailctlError('LOADTEST_MISSING', `campaign ${name} has no loadtest section`, { exitCode: ExitCode.Usage, hint: 'add campaigns.<name>.loadtest with url, baselineRps, multiplier (see examples/retailctl.yaml)' });
  const profile = loadProfile(campaign.loadtest);
  const script = k6Script(profile, name);
  const describe = `${profile.baselineRps} → ${profile.peakRps} req/s on ${profile.url} over ${formatDuration(profile.rampUpSeconds * 1000)}, held ${formatDuration(profile.holdSeconds * 1000)}`;
  if (out === STDOUT) {
    ctx.out.info(`k6 script on stdout: ${describe}`);
    return { data: { profile, script: STDOUT, content: script, ran: false }, text: script.replace(/\n$/, '') };
  }
  if (out !== undefined) {
    // atomic, through a symlink to its target; a device or FIFO put there since the check is refused
    await writeFileAtomic(out, [script]).catch((err: NodeJS.ErrnoException) => {
      if (err instanceof RetailctlError || !err.code) throw err;
      throw new RetailctlError('OUTPUT_UNUSABLE', `--out ${shown(options.out)}: cannot be written (${shown(err.message)})`, { exitCode: ExitCode.Usage, hint: 'point --out at a file in a writable directory', cause: err });
    });
    return { data: { profile, script: out, ran: false }, text: `wrote ${shown(options.out)}: ${describe} (run it with \`k6 run ${shown(options.out)}\`)` };
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
