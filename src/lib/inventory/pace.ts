/**
 * Cancellation for the CPU-bound loops of a reconcile (millions of keys, rows to write). Ctrl-C and
 * SIGTERM are JavaScript handlers: they run only when the event loop gets a turn, and a synchronous
 * loop never gives it one, so a 6M-row run used to finish (and write its file) before it saw the
 * signal. A loop asks `due()` every few thousand items (one clock read, not one per row) and, when
 * the interval has passed, awaits `turn()`: one event-loop turn (signal handlers run), then the
 * run's abort reason is thrown if it was stopped (exit 130).
 */
import { EventEmitter, once } from 'node:events';

/** The longest a loop runs without giving the event loop a turn. */
export const TURN_MS = 50;

export class Pace {
  #next: number;

  constructor(
    readonly signal?: AbortSignal,
    readonly intervalMs = TURN_MS,
  ) {
    this.#next = Date.now() + intervalMs;
  }

  /** True when the loop should `await turn()` now (the interval has passed or the run is stopped). */
  due(): boolean {
    return Date.now() >= this.#next || this.signal?.aborted === true;
  }

  /** One event-loop turn, then throw the run's abort reason if it was stopped. */
  async turn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#next = Date.now() + this.intervalMs;
    this.signal?.throwIfAborted();
  }

  /** Throw the run's abort reason if it was stopped (for synchronous iterators, which cannot await). */
  check(): void {
    this.signal?.throwIfAborted();
  }
}

/** A text sink that may block its writer (process.stdout on a pipe or file is synchronous). */
interface Sink {
  write(chunk: string): unknown;
}

/**
 * A stdout for row writers: every chunk is followed by a `drain` one event-loop turn later (or when
 * the real stream drains), so a writer that waits for `drain` lets signal handlers run between
 * chunks even where stdout itself never pushes back (pipes and files are synchronous in Node).
 * `transform` rewrites each chunk first (rows shown on a terminal are sanitised).
 */
export class PacedSink extends EventEmitter {
  constructor(
    readonly target: Sink,
    readonly transform?: (chunk: string) => string,
  ) {
    super();
  }

  write(chunk: string): boolean {
    const ok = this.target.write(this.transform ? this.transform(chunk) : chunk);
    const target = this.target as Partial<EventEmitter>;
    if (ok === false && typeof target.once === 'function') void once(target as EventEmitter, 'drain').then(() => this.emit('drain'));
    else setImmediate(() => this.emit('drain'));
    return false;
  }
}
