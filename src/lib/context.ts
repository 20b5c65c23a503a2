import type { AwsContext } from './aws/context.js';
import type { LoadedConfig } from './config/load.js';
import type { ExitCodeValue } from './errors.js';
import type { RunSignals } from './interrupt.js';
import { confirmPlan, rerunWithYes } from './io/prompt.js';
import type { Output } from './io/output.js';

/** Options every command accepts (README "Global options"). */
export interface GlobalOptions {
  /** `--config`, else RETAILCTL_CONFIG, else `retailctl.yaml`. */
  config: string;
  /** True when the config path was given (flag or env) rather than defaulted. */
  configExplicit: boolean;
  /** `--region`, else AWS_REGION, else AWS_DEFAULT_REGION; else the profile's region. */
  region?: string;
  /** `--profile`, else AWS_PROFILE. */
  profile?: string;
  /** `--endpoint-url`: one endpoint for every AWS service (AWS_ENDPOINT_URL[_<SERVICE>] are read by the SDK). */
  endpointUrl?: string;
  /** `--json`: one JSON document on stdout. */
  json: boolean;
  /** `--yes`: apply without asking. */
  yes: boolean;
  /** `--dry-run`: print the plan, write nothing. */
  dryRun: boolean;
  /** `--plan-out FILE` (writing commands): write the plan file, write nothing to AWS. */
  planOut?: string;
  /** `--plan-ttl`: how long a plan file stays valid (default 24 h). */
  planTtlMs?: number;
  /** `-v` count. */
  verbose: number;
  /** `--no-color` turns it off. */
  color: boolean;
}

/** What a command hands back to the CLI: the exit code and the result, as data and as text. */
export interface CommandResult {
  /** Default 0. */
  exitCode?: ExitCodeValue;
  /** The `--json` document (the CLI adds `ok`). */
  data: Record<string, unknown>;
  /** Human-readable result for stdout in text mode. */
  text?: string;
}

export interface ContextInit {
  argv: readonly string[];
  options: GlobalOptions;
  out: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Ctrl-C/SIGTERM: `signals.stop` is the run's abort signal; writes in flight run on `signals.kill`. */
  signals: RunSignals;
  version: string;
  /** A person can answer a prompt: stdin and stderr are TTYs and CI is not set. */
  canPrompt: boolean;
  now: () => Date;
  stdin: NodeJS.ReadableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Everything a command needs, injected: options, output, environment, clock, cancellation,
 * and the lazily built AWS context and config. Nothing below a command reads globals.
 */
export class CommandContext {
  readonly argv: readonly string[];
  readonly options: GlobalOptions;
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Aborted by the first Ctrl-C/SIGTERM: reads stop, no new work starts. */
  readonly signal: AbortSignal;
  /** The run's signal handling, for code that must finish a write it has sent (RunSignals). */
  readonly signals: RunSignals;
  readonly version: string;
  readonly canPrompt: boolean;
  readonly now: () => Date;
  readonly #stdin: NodeJS.ReadableStream;
  readonly #stderr: NodeJS.WritableStream;
  #aws: Promise<AwsContext> | undefined;
  #config: Promise<LoadedConfig> | undefined;

  constructor(init: ContextInit) {
    this.argv = init.argv;
    this.options = init.options;
    this.out = init.out;
    this.env = init.env;
    this.cwd = init.cwd;
    this.signals = init.signals;
    this.signal = init.signals.stop;
    this.version = init.version;
    this.canPrompt = init.canPrompt;
    this.now = init.now;
    this.#stdin = init.stdin;
    this.#stderr = init.stderr;
  }

  /** The run's AWS context (SDK code is imported on first use only). */
  aws(): Promise<AwsContext> {
    this.#aws ??= import('./aws/context.js').then(({ AwsContext }) => {
      const o = this.options;
      const attempts = Number(this.env.AWS_MAX_ATTEMPTS);
      return new AwsContext(
        {
          region: o.region,
          profile: o.profile,
          endpointUrl: o.endpointUrl,
          maxAttempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 5,
          userAgent: `retailctl/${this.version}`,
          env: this.env,
          signals: this.signals,
          trace: o.verbose >= 2 ? (m) => this.out.debug(m, 2) : undefined,
          debug: o.verbose >= 3 ? (m) => this.out.debug(m, 3) : undefined,
        },
        // making a plan file is read-only, exactly as a dry run
        o.dryRun || o.planOut !== undefined,
      );
    });
    return this.#aws;
  }

  /** The validated config file (loaded once). */
  config(): Promise<LoadedConfig> {
    this.#config ??= import('./config/load.js').then(({ loadConfig }) => loadConfig(this.options.config, this.cwd));
    return this.#config;
  }

  /** Confirm a plan before writing: `--yes` skips; no TTY and no `--yes` exits 3 with the rerun command. */
  confirm(question: string): Promise<void> {
    return confirmPlan({
      yes: this.options.yes,
      canPrompt: this.canPrompt,
      question,
      rerunCommand: rerunWithYes(this.argv),
      input: this.#stdin,
      output: this.#stderr,
    });
  }

  /** Release AWS clients. */
  async close(): Promise<void> {
    if (this.#aws) await (await this.#aws).destroy();
  }
}
