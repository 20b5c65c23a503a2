import { ExitCode, RetailctlError } from './errors.js';

/** How long writes already sent may take to answer after the first Ctrl-C/SIGTERM (RETAILCTL_INTERRUPT_GRACE). */
export const DEFAULT_INTERRUPT_GRACE_MS = 30_000;

/**
 * What a signal means for a run. A write call that is on the wire has an outcome nobody knows until
 * its answer arrives, so it is never abandoned on the first signal:
 * - the first SIGINT/SIGTERM aborts `stop`: reads end at once and no new write starts (except side
 *   writes that record what happened: audit, journal, lock release);
 * - writes in flight keep going until they answer, for at most the grace period, then `kill` aborts;
 * - a second signal aborts `kill` at once, and the message names the writes whose outcome is unknown.
 */
export class RunSignals {
  readonly #stop = new AbortController();
  readonly #kill = new AbortController();
  readonly #inFlight = new Map<number, string>();
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  /** What to run to see the real state when an outcome is unknown (set by the command), e.g. `retailctl cdn status storefront`. */
  checkCommand: string | undefined;
  /** What this run is known to have applied so far (set by commands), e.g. `Route 53 change /change/C1 (storefront: 100% fastly)`. */
  readonly applied: string[] = [];

  constructor(readonly graceMs: number = DEFAULT_INTERRUPT_GRACE_MS) {}

  /** Aborted by the first signal. */
  get stop(): AbortSignal {
    return this.#stop.signal;
  }

  /** Aborted by a second signal, or when the grace period after the first has passed. */
  get kill(): AbortSignal {
    return this.#kill.signal;
  }

  /** Labels of the write calls on the wire now, e.g. `Route53 ChangeResourceRecordSets`. */
  inFlight(): string[] {
    return [...new Set(this.#inFlight.values())];
  }

  /** Record a write call as sent; call the returned function when it has answered (or failed). */
  begin(label: string): () => void {
    const id = this.#next++;
    this.#inFlight.set(id, label);
    return () => {
      this.#inFlight.delete(id);
    };
  }

  /** The first signal: stop starting work and give writes in flight the grace period. */
  interrupt(signal: string): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort(new RetailctlError('INTERRUPTED', `interrupted by ${signal}`, { exitCode: ExitCode.Interrupted, hint: 'rerun the same command to finish: completed work is not repeated' }));
    this.#timer = setTimeout(() => this.abandon(`no answer within ${Math.round(this.graceMs / 1000)} s of ${signal}`), this.graceMs);
    this.#timer.unref();
  }

  /** Abandon writes in flight (second signal, or the grace period ran out). */
  abandon(why: string): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#kill.signal.aborted) this.#kill.abort(new RetailctlError('INTERRUPTED', why, { exitCode: ExitCode.Interrupted }));
  }

  /** The error for a write that was sent and then abandoned: its outcome is unknown. */
  outcomeUnknown(label: string): RetailctlError {
    const why = (this.#kill.signal.reason as Error | undefined)?.message ?? 'interrupted';
    return new RetailctlError('OUTCOME_UNKNOWN', `interrupted while ${label} was in flight (${why}): it was sent, so it may or may not have been applied`, {
      exitCode: ExitCode.Interrupted,
      hint: this.checkCommand ? `run \`${this.checkCommand}\` to see the state now before doing anything else` : 'check the state in AWS before rerunning',
    });
  }

  /**
   * The error for a write whose connection failed after it was sent (reset, timeout): AWS may have
   * applied it. Exit 1, not 130: nobody interrupted the run.
   */
  sentUnanswered(label: string, cause: RetailctlError): RetailctlError {
    return new RetailctlError('OUTCOME_UNKNOWN', `${label} was sent but the connection failed before its answer (${(cause.cause as { code?: string } | undefined)?.code ?? cause.aws?.name ?? cause.code}): it may or may not have been applied`, {
      exitCode: ExitCode.Failure,
      cause,
      aws: cause.aws,
      hint: this.checkCommand ? `run \`${this.checkCommand}\` to see the state now before doing anything else` : 'check the state in AWS before rerunning',
    });
  }

  /** The error for a write refused because the run was already stopping: it was not sent. */
  notSent(label: string): RetailctlError {
    const why = (this.#stop.signal.reason as Error | undefined)?.message ?? 'interrupted';
    return new RetailctlError('INTERRUPTED', `${why} before ${label} was sent: it was not applied`, { exitCode: ExitCode.Interrupted, hint: 'rerun the same command to finish: completed work is not repeated' });
  }
}
