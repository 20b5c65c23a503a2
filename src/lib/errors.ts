/**
 * Exit codes are a contract with users' scripts and CI jobs (README "Exit codes").
 * Only src/cli.ts turns errors and results into one of these.
 */
export const ExitCode = {
  /** Everything asked for was done (or there was nothing to do). */
  Ok: 0,
  /** Runtime or AWS failure: nothing more specific applies. */
  Failure: 1,
  /** Usage, config or input error: fix the command line, config or input file. */
  Usage: 2,
  /** A write needed confirmation that was not given (no TTY and no --yes), or the user said no. */
  ConfirmationRequired: 3,
  /** Some items failed; the report lists which. */
  PartialFailure: 4,
  /** A check failed: drift over threshold, health check failing, not ready in time, load thresholds breached. */
  CheckFailed: 5,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM. */
  Interrupted: 130,
  /** stdout was closed by its reader (`retailctl … | head`), as for a process ended by SIGPIPE: never 0. */
  StdoutClosed: 141,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What an AWS error carried, kept so a user can quote it to AWS support or find it in CloudTrail. */
export interface AwsErrorInfo {
  /** The AWS error code, e.g. `AccessDenied`, `ThrottlingException`. */
  name: string;
  /** Service the call went to, e.g. `S3`. */
  service?: string;
  /** Operation, e.g. `PutObject`. */
  operation?: string;
  requestId?: string;
  httpStatus?: number;
}

export interface RetailctlErrorOptions {
  /** What the user should do next, one line. */
  hint?: string;
  /** Exit code; defaults to 1 (runtime failure). */
  exitCode?: ExitCodeValue;
  cause?: unknown;
  aws?: AwsErrorInfo;
  /** Extra lines shown under the message (e.g. one line per config problem). */
  details?: string[];
  /** Machine-readable context merged into the `--json` error document (e.g. the refused plan). */
  data?: Record<string, unknown>;
  /** Where in a file each problem is (config keys, input rows), for CI annotations; the message still says it all. */
  locations?: ErrorLocation[];
  /** How many problems there are in all, when `locations` lists only the first ones. */
  locationCount?: number;
}

/** One problem at a place in a file: `file` as shown to the user, 1-based `line` and `col`. */
export interface ErrorLocation {
  file: string;
  line?: number;
  col?: number;
  message: string;
}

/**
 * The one error type the CLI knows how to present: a stable machine `code`, a one-line `message`,
 * an optional `hint`, and the exit code it maps to.
 */
export class RetailctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly aws: AwsErrorInfo | undefined;
  readonly details: string[];
  readonly data: Record<string, unknown> | undefined;
  readonly locations: ErrorLocation[];
  /** All problems, listed in `locations` or not. */
  readonly locationCount: number;

  constructor(code: string, message: string, options: RetailctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetailctlError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.Failure;
    this.hint = options.hint;
    this.aws = options.aws;
    this.details = options.details ?? [];
    this.data = options.data;
    this.locations = options.locations ?? [];
    this.locationCount = Math.max(options.locationCount ?? 0, this.locations.length);
  }
}

/** A bad flag, argument or input value. Exit 2. */
export function usageError(message: string, hint?: string): RetailctlError {
  return new RetailctlError('USAGE', message, { exitCode: ExitCode.Usage, hint });
}

/** Thrown when the run was interrupted (Ctrl-C); maps to exit 130. */
export function interruptedError(message = 'interrupted'): RetailctlError {
  return new RetailctlError('INTERRUPTED', message, {
    exitCode: ExitCode.Interrupted,
    hint: 'rerun the same command to finish: completed work is not repeated',
  });
}

/** Name of an AWS (or AWS-shaped) error, whether raw from the SDK or already translated. */
export function awsErrorName(err: unknown): string | undefined {
  if (err instanceof RetailctlError) return err.aws?.name;
  if (err && typeof err === 'object' && 'name' in err && typeof err.name === 'string') return err.name;
  return undefined;
}

/** True when `err` is the AWS error `name` (one of `names`), translated or not. */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  const name = awsErrorName(err);
  return name !== undefined && names.includes(name);
}
