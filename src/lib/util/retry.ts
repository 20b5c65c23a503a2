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

/** What the breaker saw: since when nothing has succeeded, how many attempts failed, and the last error. */
export interface OutageState {
  /** The last success (epoch ms), or when requests started again after a quiet time, or the start. */
  since: number;
  /** Failed attempts since then, all workers together. */
  failures: number;
  lastError: string;
}

/**
 * Trips when no request has SUCCEEDED for `giveUpAfterMs` while requests were outstanding or failing.
 * Failures alone are not enough to see an outage: an endpoint that stops answering fails nothing
 * until each request's own timeout, so a timer (every second at most) also looks at the requests in
 * flight. Time with no request at all does not count.
 */
export class CircuitBreaker {
  readonly #tripped = new AbortController();
  #since: number;
  #inFlight = 0;
  #failures = 0;
  #lastError = '';
  readonly #timer: NodeJS.Timeout | undefined;

  /**
   * `giveUpAfterMs`: how long requests may go unanswered or keep failing with none succeeding before
   * the breaker trips (0 = never). `now` is the real clock: an outage is measured in real time.
   */
  constructor(
    readonly giveUpAfterMs: number,
    readonly now: () => number = Date.now,
  ) {
    this.#since = now();
    if (giveUpAfterMs > 0) {
      this.#timer = setInterval(() => this.check(), Math.max(20, Math.min(1000, Math.floor(giveUpAfterMs / 2))));
      this.#timer.unref();
    }
  }

  /** Aborted when the breaker trips (its reason is the OutageState). */
  get signal(): AbortSignal {
    return this.#tripped.signal;
  }

  get tripped(): boolean {
    return this.#tripped.signal.aborted;
  }

  /** The outage so far (undefined while nothing has failed since the last success and it has not tripped). */
  get state(): OutageState | undefined {
    return this.#failures === 0 && !this.tripped ? undefined : { since: this.#since, failures: this.#failures, lastError: this.#lastError };
  }

  /** A request was sent. Cheap enough to call once per request. */
  begin(): void {
    // after a quiet time (nothing in flight, nothing failing) the clock starts again now
    if (this.#inFlight++ === 0 && this.#failures === 0 && !this.tripped) this.#since = Math.max(this.#since, this.now());
  }

  /** A request sent with begin() has ended (answered, failed or abandoned). */
  end(): void {
    if (this.#inFlight > 0) this.#inFlight--;
  }

  /** A request succeeded (or was answered): the endpoint is there. */
  success(): void {
    if (this.tripped) return;
    this.#since = this.now();
    this.#failures = 0;
  }

  /**
   * A request failed in a way that says the endpoint may be gone (connection dropped, timeout,
   * 5xx). Not for throttling: an endpoint that asks to slow down is there.
   */
  failure(error: Error): void {
    this.#failures++;
    this.#lastError = error.message;
    this.check();
  }

  /** Trip if nothing has succeeded for giveUpAfterMs while requests are in flight or have failed (the timer calls it). */
  check(): void {
    if (this.tripped || this.giveUpAfterMs <= 0 || (this.#inFlight === 0 && this.#failures === 0)) return;
    if (this.now() - this.#since < this.giveUpAfterMs) return;
    if (!this.#lastError) this.#lastError = `no answer to ${this.#inFlight} request${this.#inFlight === 1 ? '' : 's'} in flight`;
    this.#tripped.abort(this.state);
    this.close();
  }

  /** Stop the timer (the run is over). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
