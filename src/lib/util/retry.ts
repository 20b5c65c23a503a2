/**
 * Retrying well: jittered exponential backoff for one request, and a circuit breaker for a pool of
 * requests to one endpoint.
 *
 * Per-request retries with backoff are right for throttling and the odd dropped connection. They
 * are wrong for an outage: with 64 workers each retrying 8 times, a lost endpoint turns into
 * thousands of retries over many minutes before the run gives up. The breaker tells the two apart
 * across all workers: while any request succeeds it stays closed; when requests have kept failing
 * and none has succeeded for `giveUpAfterMs`, it trips, and the caller stops starting work.
 */

/** Full jitter: a random wait in 0..min(capMs, baseMs × 2^attempt). */
export function backoffDelay(attempt: number, baseMs = 100, capMs = 10_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/** What the breaker saw: when requests started failing, how often, and the last error. */
export interface OutageState {
  /** The first failed attempt after the last success (epoch ms). */
  since: number;
  /** Failed attempts since then, all workers together. */
  failures: number;
  lastError: string;
}

export class CircuitBreaker {
  readonly #tripped = new AbortController();
  #since: number | undefined;
  #failures = 0;
  #lastError = '';

  /**
   * `giveUpAfterMs`: how long requests may keep failing with none succeeding before the breaker
   * trips (0 = never). `now` is the real clock: an outage is measured in real time.
   */
  constructor(
    readonly giveUpAfterMs: number,
    readonly now: () => number = Date.now,
  ) {}

  /** Aborted when the breaker trips (its reason is the OutageState). */
  get signal(): AbortSignal {
    return this.#tripped.signal;
  }

  get tripped(): boolean {
    return this.#tripped.signal.aborted;
  }

  /** The outage so far (undefined while the last request succeeded). */
  get state(): OutageState | undefined {
    return this.#since === undefined ? undefined : { since: this.#since, failures: this.#failures, lastError: this.#lastError };
  }

  /** A request succeeded: the endpoint is there. Cheap enough to call once per request. */
  success(): void {
    if (this.#since !== undefined && !this.tripped) {
      this.#since = undefined;
      this.#failures = 0;
    }
  }

  /**
   * A request failed in a way that says the endpoint may be gone (connection dropped, timeout,
   * 5xx). Not for throttling: an endpoint that asks to slow down is there.
   */
  failure(error: Error): void {
    const t = this.now();
    this.#since ??= t;
    this.#failures++;
    this.#lastError = error.message;
    if (!this.tripped && this.giveUpAfterMs > 0 && t - this.#since >= this.giveUpAfterMs) this.#tripped.abort(this.state);
  }
}
