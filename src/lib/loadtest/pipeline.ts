import path from 'node:path';
import { findCampaign } from '../config/campaign.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile, STDOUT } from '../io/paths.js';
import { writeFileAtomic } from '../io/rows.js';
import { formatDuration } from '../util/duration.js';
import { shown } from '../util/sanitize.js';
import { runK6 } from './run.js';
import { k6Script, loadProfile, vuSizing, type LoadProfile } from './script.js';
import { compare, comparisonTable, type GateMetrics, gateMetrics, type LoadResult, parseMaxRegression, readBaseline } from './summary.js';

export interface LoadtestOptions {
  out?: string;
  /** `--summary-out`: where k6's summary export is written after the run. */
  summaryOut?: string;
  /** `--baseline`: a previous run's summary to compare p95, p99 and the error rate with. */
  baseline?: string;
  /** `--max-regression`, e.g. `10%` (default 10% with --baseline). */
  maxRegression?: string;
}

/** An output file flag, resolved and checked before anything runs (not a directory, device or FIFO, in a writable directory). */
async function checkedOutput(ctx: CommandContext, flag: string, given: string): Promise<string> {
  const file = path.resolve(ctx.cwd, given);
  await checkOutputFile(file, flag, { stdout: false }).catch((err: unknown) => {
    if (err instanceof RetailctlError) throw new RetailctlError(err.code, err.message.replace(`${flag} ${file}:`, `${flag} ${shown(given)}:`), { exitCode: err.exitCode, hint: err.hint });
    throw err;
  });
  return file;
}

const usage = (message: string, hint: string) => new RetailctlError('USAGE', message, { exitCode: ExitCode.Usage, hint });

/** The flags checked together and every output checked before anything runs (not a directory, device or FIFO; a writable directory). */
async function resolveOutputs(ctx: CommandContext, options: LoadtestOptions): Promise<{ maxRegression: number | undefined; out: string | undefined; summaryOut: string | undefined }> {
  const runOnly = (['summaryOut', 'baseline', 'maxRegression'] as const).filter((k) => options[k] !== undefined);
  const flagOf = { summaryOut: '--summary-out', baseline: '--baseline', maxRegression: '--max-regression' } as const;
  if (options.out !== undefined && runOnly.length) throw usage(`--out writes the script without running it: ${runOnly.map((k) => flagOf[k]).join(', ')} need a run`, 'drop --out to run k6, or drop the run flags to write the script');
  if (options.maxRegression !== undefined && options.baseline === undefined) throw usage('--max-regression needs --baseline (the summary to compare with)', 'add --baseline previous-summary.json');
  if (options.summaryOut === STDOUT) throw usage('--summary-out -: stdout carries the result; give a file', 'e.g. --summary-out summary.json (--json puts the numbers on stdout)');
  const maxRegression = options.baseline === undefined ? undefined : parseMaxRegression(options.maxRegression ?? '10%');
  // the destination is checked before anything else runs: not a directory, device or FIFO, in a writable directory
  const out = options.out === undefined || options.out === STDOUT ? options.out : path.resolve(ctx.cwd, options.out);
  if (out !== undefined && out !== STDOUT) {
    await checkOutputFile(out, '--out').catch((err: unknown) => {
      if (err instanceof RetailctlError) throw new RetailctlError(err.code, err.message.replace(`--out ${out}:`, `--out ${shown(options.out)}:`), { exitCode: err.exitCode, hint: err.hint });
      throw err;
    });
  }
  const summaryOut = options.summaryOut === undefined ? undefined : await checkedOutput(ctx, '--summary-out', options.summaryOut);
  return { maxRegression, out, summaryOut };
}

/** The run's exit code, its verdict lines appended to `lines`. */
function verdict(result: LoadResult, profile: LoadProfile, comparison: ReturnType<typeof compare> | undefined, lines: string[]): CommandResult['exitCode'] {
  // the load generator ran out of VUs: the site never saw the planned spike, so no verdict on it
  const starved = result.thresholds.some((t) => !t.ok && t.name.startsWith('dropped_iterations '));
  let exitCode: CommandResult['exitCode'];
  // a site threshold crossed is a verdict on the site even when k6 also ran out of VUs (a slow site exhausts them)
  const siteBreached = result.thresholds.some((t) => !t.ok && !t.name.startsWith('dropped_iterations '));
  if (starved && siteBreached) {
    exitCode = ExitCode.CheckFailed;
    lines.push('THRESHOLDS BREACHED', `  and k6 ran out of VUs (${result.droppedIterations} iterations dropped): responses slower than ${Math.floor((profile.maxVUs / profile.peakRps) * 1000)} ms exhaust its ${profile.maxVUs} VUs at ${profile.peakRps} req/s, so the run was aborted early`);
  } else if (starved) {
    exitCode = ExitCode.Failure;
    lines.push(`ABORTED: k6 dropped ${result.droppedIterations} iterations (more than ${profile.maxDroppedIterations}): its ${profile.maxVUs} VUs could not keep ${profile.peakRps} req/s, so the spike was not sent as planned; no verdict on the site`);
    lines.push(`  responses slower than ${Math.floor((profile.maxVUs / profile.peakRps) * 1000)} ms exhaust the VUs: set loadtest.expectedP95Ms to the latency to expect, or run k6 from a larger machine`);
  } else {
    const failures = [...(result.passed ? [] : ['THRESHOLDS BREACHED']), ...(comparison && !comparison.passed ? [`REGRESSION over ${round(comparison.maxRegression * 100)}%: ${comparison.rows.filter((r) => !r.ok).map((r) => r.metric).join(', ')}`] : [])];
    exitCode = failures.length ? ExitCode.CheckFailed : ExitCode.Ok;
    lines.push(...(failures.length ? failures : [comparison ? 'thresholds held; no regression' : 'thresholds held']));
  }
  return exitCode;
}

/** `retailctl loadtest --campaign <name> [--out file] [--summary-out file] [--baseline file [--max-regression N%]]`. */
export async function loadtest(ctx: CommandContext, name: string, options: LoadtestOptions): Promise<CommandResult> {
  const { maxRegression, out, summaryOut } = await resolveOutputs(ctx, options);
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
  // a baseline that cannot be compared with is refused before a test that may last many minutes
  const baseline: GateMetrics | undefined = options.baseline === undefined ? undefined : await readBaseline(path.resolve(ctx.cwd, options.baseline), options.baseline);
  const sizing = vuSizing(profile);
  const gate =
    baseline && maxRegression !== undefined
      ? [`then compared with ${shown(options.baseline)}: p95, p99 and the error rate may each be ${round(maxRegression * 100)}% worse (p95 ≤ ${round(baseline.p95Ms * (1 + maxRegression))} ms, p99 ≤ ${round(baseline.p99Ms * (1 + maxRegression))} ms)`]
      : [];
  if (ctx.options.dryRun) {
    return { data: { profile, ran: false, dryRun: true, ...(baseline ? { baseline: { file: options.baseline, maxRegression, metrics: baseline } } : {}) }, text: [`would run k6: ${describe}`, ...sizing, ...gate, '', script.replace(/\n$/, '')].join('\n') };
  }
  ctx.out.info(`load test ${name}: ${describe}`);
  for (const line of [...sizing, ...gate]) ctx.out.info(line);
  let last = 0;
  const run = await runK6(script, profile, {
    env: ctx.env,
    signal: ctx.signal,
    onLine: (line) => {
      // k6 prints a progress line a second, a banner and its own summary: keep CI logs readable
      // (every line with -v; else its warnings and errors, and progress every 10 s)
      const progress = line.startsWith('running (');
      if (ctx.out.verbose > 0 || / level=(warning|error) /.test(line) || (progress && Date.now() - last >= 10_000)) {
        if (progress) last = Date.now();
        ctx.out.info(`k6: ${line}`);
      }
    },
  });
  const { result } = run;
  if (summaryOut !== undefined) {
    // k6's summary as k6 wrote it: the next run's --baseline
    await writeFileAtomic(summaryOut, [run.summaryText]).catch((err: NodeJS.ErrnoException) => {
      if (err instanceof RetailctlError || !err.code) throw err;
      throw new RetailctlError('OUTPUT_UNUSABLE', `--summary-out ${shown(options.summaryOut)}: cannot be written (${shown(err.message)})`, { exitCode: ExitCode.Usage, hint: 'point --summary-out at a file in a writable directory', cause: err });
    });
  }
  const lines = [
    `${result.requests} requests, ${result.rps} req/s; p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms; errors ${(result.errorRate * 100).toFixed(2)}%`,
    ...result.thresholds.map((t) => `${t.ok ? '✓' : '✗'} ${t.name}`),
  ];
  // the load generator ran out of VUs: the site never saw the planned spike, so no verdict on it
  const starved = result.thresholds.some((t) => !t.ok && t.name.startsWith('dropped_iterations '));
  let comparison: ReturnType<typeof compare> | undefined;
  if (baseline && maxRegression !== undefined && !starved) {
    const now = gateMetrics(JSON.parse(run.summaryText) as unknown);
    if (!now.metrics) throw new RetailctlError('K6_FAILED', `k6's summary of this run lacks ${now.missing.join(', ')}: nothing to compare with ${shown(options.baseline)}`, { exitCode: ExitCode.Failure, hint: 'check that the run sent requests (rerun with -v)' });
    comparison = compare(baseline, now.metrics, maxRegression, options.baseline!);
    lines.push('', `compared with ${shown(options.baseline)}:`, ...comparisonTable(comparison), '');
  }
  if (summaryOut !== undefined) lines.push(`summary written to ${shown(options.summaryOut)}`);
  const exitCode = verdict(result, profile, comparison, lines);
  return {
    exitCode,
    data: { profile, ran: true, result, k6ExitCode: run.exitCode, ...(summaryOut !== undefined ? { summaryOut } : {}), ...(comparison ? { comparison } : {}) },
    text: lines.join('\n'),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
