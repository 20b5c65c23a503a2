import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { registerApply } from './commands/apply.js';
import { registerCdn } from './commands/cdn.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerInit } from './commands/init.js';
import { registerImages } from './commands/images.js';
import { registerInventory } from './commands/inventory.js';
import { registerLoadtest } from './commands/loadtest.js';
import { registerPrescale } from './commands/prescale.js';
import type { Runtime } from './commands/runtime.js';
import { CommandContext, type GlobalOptions } from './lib/context.js';
import { ExitCode, interruptedError, RetailctlError, type ExitCodeValue } from './lib/errors.js';
import { commandPath, githubActions, type GithubActions } from './lib/github/actions.js';
import { DEFAULT_INTERRUPT_GRACE_MS, RunSignals } from './lib/interrupt.js';
import { parseDuration } from './lib/util/duration.js';
import { envFlag, Output, type TextSink } from './lib/io/output.js';
import { packageRoot } from './lib/util/package-root.js';
import { sanitizeText, shown } from './lib/util/sanitize.js';

/** Streams and environment a run uses; tests pass their own. */
export interface RunDeps {
  stdout: TextSink;
  stderr: TextSink & NodeJS.WritableStream & { columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => Date;
  /** Install process handlers for SIGINT/SIGTERM and a closed stdout pipe (the real binary does; in-process tests don't). */
  processHandlers: boolean;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Run retailctl with `argv` (without node and script) and return the exit code.
 * This is the only place where errors become exit codes and where results are printed.
 */
export async function run(argv: readonly string[], partialDeps: Partial<RunDeps> = {}): Promise<number> {
  const deps: RunDeps = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    processHandlers: true,
    ...partialDeps,
  };
  // Node 20 is supported; the SDK's multi-line deprecation notice would clutter every CI log.
  // `retailctl doctor` reports it once instead.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  const version = readVersion();
  const ci = envFlag(deps.env.CI);
  // A pseudo-terminal that reports no width (some CI runners, `script` without a size) would send
  // ora into an endless redraw: treat it as not interactive.
  const interactive = Boolean(deps.stderr.isTTY) && !ci && (deps.stderr.columns ?? 0) > 0;
  // Before parsing, so that a usage error can already be reported in the requested format.
  const early = {
    json: argv.includes('--json'),
    verbose: argv.filter((a) => a === '--verbose' || /^-v+$/.test(a)).reduce((n, a) => n + (a === '--verbose' ? 1 : a.length - 1), 0),
    color: !argv.includes('--no-color') && !('NO_COLOR' in deps.env) && interactive,
  };
  // dist/ is minified: map stack traces back to src/ when someone asks for them
  if (early.verbose > 0) process.setSourceMapsEnabled(true);
  // inside a GitHub Actions job (GITHUB_ACTIONS=true): annotations, a step summary, -v in a log group
  const github = githubActions(deps.env, deps.cwd);
  /** The command commander ran (`cdn failover`), once it is known. */
  let command = '';
  let out = new Output({ stdout: deps.stdout, stderr: deps.stderr, json: early.json, verbose: early.verbose, interactive, color: early.color, github: Boolean(github), now: deps.now });
  let exitCode: ExitCodeValue = ExitCode.Ok;

  const grace = deps.env.RETAILCTL_INTERRUPT_GRACE ? parseDuration(deps.env.RETAILCTL_INTERRUPT_GRACE) : undefined;
  if (deps.env.RETAILCTL_INTERRUPT_GRACE && grace === undefined) out.warn(`RETAILCTL_INTERRUPT_GRACE: "${deps.env.RETAILCTL_INTERRUPT_GRACE}" is not a duration like 10s or 1m: using ${DEFAULT_INTERRUPT_GRACE_MS / 1000}s`);
  const signals = new RunSignals(grace ?? DEFAULT_INTERRUPT_GRACE_MS);
  const onSignal = (signal: NodeJS.Signals) => {
    const writes = signals.inFlight();
    if (signals.stop.aborted) {
      signals.abandon(`second signal (${signal})`);
      const check = signals.checkCommand ? `run \`${signals.checkCommand}\`` : 'check the state in AWS';
      const unknown = writes.length ? `: ${writes.join(', ')} had been sent and not answered, so its outcome is unknown; ${check} before doing anything else` : '';
      const applied = signals.applied.length ? ` Already applied: ${signals.applied.join('; ')}.` : '';
      const message = `second signal (${signal}): stopping now${unknown}.${applied}`;
      deps.stderr.write(`\n${sanitizeText(message)}\n`);
      if (early.json) deps.stdout.write(`${JSON.stringify({ ok: false, applied: signals.applied, inFlight: writes, error: { code: writes.length ? 'OUTCOME_UNKNOWN' : 'INTERRUPTED', message, hint: writes.length ? check : null } })}\n`);
      process.exit(ExitCode.Interrupted);
    }
    out.warn(
      writes.length
        ? `${signal}: waiting for ${writes.join(', ')} to answer (up to ${Math.round(signals.graceMs / 1000)} s) so its result can be recorded, then stopping; press Ctrl-C again to abandon it (its outcome is then unknown)`
        : `${signal}: stopping; completed work is kept and a rerun finishes the job (press Ctrl-C again to stop at once)`,
    );
    signals.interrupt(signal);
  };
  // `retailctl ... | head`: the reader went away, which is not an error worth a stack trace
  // Exit 141 as a process ended by SIGPIPE does, never 0: `retailctl … --out - | head` must not pass an
  // oversell gate it never finished. A write already sent to AWS is let finish first, as on Ctrl-C.
  let stdoutClosed = false;
  const onPipeError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (stdoutClosed) return;
    stdoutClosed = true;
    if (!signals.inFlight().length) process.exit(ExitCode.StdoutClosed);
    out.warn('stdout was closed by its reader: stopping once the writes already sent have answered');
    signals.interrupt('SIGPIPE');
  };
  if (deps.processHandlers) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.stdout.on('error', onPipeError);
  }

  const runtime: Runtime = {
    async execute(commanderCommand, handler) {
      command = commandPath(commanderCommand);
      const options = globalOptions(commanderCommand.optsWithGlobals(), deps.env);
      out = new Output({ stdout: deps.stdout, stderr: deps.stderr, json: options.json, verbose: options.verbose, interactive, color: options.color && early.color, github: Boolean(github), now: deps.now });
      const ctx = new CommandContext({
        argv,
        options,
        out,
        env: deps.env,
        cwd: deps.cwd,
        signals,
        version,
        canPrompt: interactive && Boolean(deps.stdin.isTTY),
        now: deps.now,
        stdin: deps.stdin,
        stderr: deps.stderr,
      });
      try {
        if (options.planOut !== undefined) await (await import('./lib/plan/file.js')).checkPlanOut(options, deps.cwd);
        const result = await handler(ctx);
        // A command may finish its in-flight work after Ctrl-C; the run still counts as interrupted.
        if (signals.stop.aborted) throw signals.stop.reason;
        exitCode = result.exitCode ?? ExitCode.Ok;
        const document = { ok: exitCode === ExitCode.Ok, ...result.data };
        out.result(document);
        if (result.text) out.print(result.text);
        github?.succeeded(out, { command, document, exitCode });
      } finally {
        await ctx.close();
      }
    },
  };

  const program = buildProgram(version, runtime, deps);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (err) {
    exitCode = report(err, out, signals.stop.aborted, github && { actions: github, command });
  } finally {
    out.endGroup();
    if (deps.processHandlers) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  return stdoutClosed ? ExitCode.StdoutClosed : exitCode;
}

/** Print an error the way the user asked (text on stderr, or the JSON document on stdout) and pick the exit code. */
function report(err: unknown, out: Output, aborted: boolean, github?: { actions: GithubActions; command: string }): ExitCodeValue {
  let error: RetailctlError;
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.Ok;
    if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') {
      error = new RetailctlError('USAGE', 'no command given', { exitCode: ExitCode.Usage, hint: 'run `retailctl --help` to see the commands' });
    } else {
      error = new RetailctlError('USAGE', err.message.replace(/^error: /, ''), { exitCode: ExitCode.Usage, hint: 'run the command with --help to see its options' });
    }
  } else if (aborted) {
    // whatever the command was doing when Ctrl-C arrived, the run was interrupted; an error that
    // says what was applied (or that an outcome is unknown) is kept as it is
    error = err instanceof RetailctlError && (err.exitCode === ExitCode.Interrupted || err.data?.applied !== undefined) ? err : interruptedError();
  } else if (err instanceof RetailctlError) {
    error = err;
  } else {
    error = new RetailctlError('INTERNAL', `unexpected error: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      hint: out.verbose > 0 ? 'this is a bug in retailctl: please report it with the output above' : 'rerun with --verbose for the stack trace, and please report it',
    });
  }
  const body: Record<string, unknown> = { code: error.code, message: error.message, hint: error.hint ?? null };
  if (error.details.length) body.details = error.details;
  if (error.aws) body.aws = error.aws;
  const document = { ...error.data, ok: false, error: body };
  out.result(document);
  out.error(error.message, error.details);
  if (error.hint) out.info(`${out.style('cyan', 'hint:')} ${error.hint}`);
  github?.actions.failed(out, { command: github.command, document, exitCode: error.exitCode }, error);
  if (out.verbose > 0) {
    const stack = (error.cause instanceof Error ? error.cause.stack : undefined) ?? error.stack;
    if (stack) out.info(stack);
  }
  return error.exitCode;
}

function globalOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): GlobalOptions {
  const configFlag = raw.config as string | undefined;
  const config = configFlag ?? env.RETAILCTL_CONFIG;
  return {
    config: config ?? 'retailctl.yaml',
    configExplicit: config !== undefined,
    region: (raw.region as string | undefined) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined),
    profile: (raw.profile as string | undefined) ?? (env.AWS_PROFILE || undefined),
    endpointUrl: raw.endpointUrl as string | undefined,
    json: Boolean(raw.json),
    yes: Boolean(raw.yes),
    dryRun: Boolean(raw.dryRun),
    ...(typeof raw.planOut === 'string' ? { planOut: raw.planOut } : {}),
    ...(typeof raw.planTtl === 'number' ? { planTtlMs: raw.planTtl } : {}),
    verbose: Number(raw.verbose ?? 0),
    color: raw.color !== false,
  };
}

function parseEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CommanderError(ExitCode.Usage, 'retailctl.invalidEndpoint', `--endpoint-url: "${shown(value, 100)}" is not a URL (expected e.g. http://127.0.0.1:5000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CommanderError(ExitCode.Usage, 'retailctl.invalidEndpoint', `--endpoint-url: expected an http:// or https:// URL, got "${shown(value, 100)}"`);
  }
  return value.replace(/\/$/, '');
}

/** `--region`: an AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`); an empty one would silently mean the default. */
function parseRegion(value: string): string {
  if (!/^[a-z]{2,}(-[a-z]+)+-\d{1,2}$/.test(value)) {
    throw new CommanderError(ExitCode.Usage, 'retailctl.invalidRegion', value === '' ? '--region: empty (give a region like us-east-1, or leave the flag out to use AWS_REGION or the profile\'s)' : `--region: "${shown(value, 60)}" is not an AWS region name (expected e.g. us-east-1 or eu-west-1, lower case)`);
  }
  return value;
}

/** `--profile`: a profile name from ~/.aws/config; an empty one would silently mean the default chain. */
function parseProfile(value: string): string {
  if (value.trim() === '') throw new CommanderError(ExitCode.Usage, 'retailctl.invalidProfile', '--profile: empty (give a profile name from ~/.aws/config, or leave the flag out)');
  return value;
}

function buildProgram(version: string, runtime: Runtime, deps: RunDeps): Command {
  const program = new Command('retailctl')
    .description('Operate an AWS storefront from a terminal or a CI job: prescale for campaigns, migrate product images, fail over the CDN, reconcile inventory.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addOption(new Option('--config <file>', 'config file (YAML or JSON); env RETAILCTL_CONFIG; default ./retailctl.yaml'))
    .addOption(new Option('--region <region>', 'AWS region; env AWS_REGION / AWS_DEFAULT_REGION, else the profile\'s region').argParser(parseRegion))
    .addOption(new Option('--profile <name>', 'AWS profile from ~/.aws/config (SSO and assume-role work); env AWS_PROFILE').argParser(parseProfile))
    .addOption(new Option('--endpoint-url <url>', 'send every AWS call to this endpoint (e.g. a local emulator); the SDK also reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>').argParser(parseEndpoint))
    .option('--json', 'print exactly one JSON document on stdout (also on failure)')
    .option('-y, --yes', 'apply without asking for confirmation (needed without a TTY)')
    .option('--dry-run', 'show the plan and make no write call')
    .option('-v, --verbose', 'more detail; repeat for more (-vvv logs every AWS request)', (_value: string, previous: number) => previous + 1, 0)
    .option('--no-color', 'no colours (also NO_COLOR)')
    .showHelpAfterError(false)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
      // usage errors are reported by run() in the requested format (text or JSON)
      outputError: () => {},
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 runtime/AWS failure, 2 usage/config/input error, 3 confirmation required,
4 partial failure, 5 a check failed, 130 interrupted.

Examples:
  $ retailctl doctor                      check Node, config, AWS credentials and endpoint
  $ retailctl init                        write a starter retailctl.yaml
  $ retailctl config validate             check the config file (exit 2 on problems)
  $ retailctl cdn status                  where storefront traffic goes now
  $ retailctl prescale --campaign NAME    warm capacity for a campaign (and scale it back)
  $ retailctl loadtest --campaign NAME    prove it under the expected spike with k6
  $ retailctl images migrate ./media      product images into S3 under catalogue-shaped keys
  $ retailctl inventory reconcile         find stock drift before it oversells
  $ retailctl <command> --help            options and examples for one command`,
  );

  registerDoctor(program, runtime);
  registerInit(program, runtime);
  registerConfig(program, runtime);
  registerCdn(program, runtime);
  registerPrescale(program, runtime);
  registerLoadtest(program, runtime);
  registerImages(program, runtime);
  registerInventory(program, runtime);
  registerApply(program, runtime);
  return program;
}
