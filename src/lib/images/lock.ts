/**
 * One `images migrate` at a time per bucket and prefix.
 *
 * - The bucket lock is the object `<prefix>.retailctl-lock` (no image key can have it: every key
 *   segment starts with a-z 0-9 _ -). It is created with `If-None-Match: *`, so of two runs only one
 *   gets it, wherever they run. Its body says who holds it (holder, host, pid, startedAt, expiresAt,
 *   command, runId). While the run goes on it is refreshed every quarter of the expiry with
 *   `If-Match: <our ETag>`: a run never refreshes a lock someone else holds now, and a run that
 *   cannot refresh its lock (gone, taken, or unreachable until it would expire) stops instead of
 *   writing without one. It is removed with a conditional delete (`If-Match: <our ETag>`) on every
 *   exit path; after kill -9 it stays until it expires.
 * - The local lock is `<state-dir>/images/<bucket>@<prefix>.lock` (created exclusively, with our pid;
 *   its mtime refreshed with the bucket lock): a second run from the same state directory on the same
 *   bucket and prefix is refused before any network call. A pid that is not running here is no proof
 *   that its run is gone (another PID namespace with the same hostname); the proof is the holder's own
 *   mark as it exited leaving the bucket lock (S3 unreachable), and then a rerun from here takes the
 *   bucket lock over at once; or a file unrefreshed for longer than the expiry (kill -9), and then the
 *   bucket lock is taken over once it has expired, without --break-lock. Only our own lock file is
 *   ever removed. Runs on disjoint prefixes may share a state directory.
 * - `--break-lock` breaks an expired lock only (a live one is refused, naming its holder).
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import type { RunSignals } from '../interrupt.js';
import { S3RequestError, type LeanS3 } from '../aws/lean-s3.js';
import { makeDirsSync } from '../io/paths.js';

/** The lock object's name under the destination prefix. */
export const LOCK_NAME = '.retailctl-lock';
/** How long a lock lives without a refresh (images.lockExpiry / --lock-expiry). */
export const DEFAULT_LOCK_EXPIRY_MS = 120_000;
/** The longest --lock-expiry (its refresh timer must stay far below Node's 2^31-1 ms limit). */
export const MAX_LOCK_EXPIRY_MS = 3_600_000;
/** The longest any upload request may live (each attempt is destroyed past it): see MigrationLock.maxRequestMs. */
export const MAX_REQUEST_MS = 30_000;

export function lockKey(prefix: string, shard?: Shard): string {
  return prefix + LOCK_NAME + (shard ? `.shard-${shard.k}-of-${shard.n}` : '');
}

/** One of N shards of a migration (`--shard K/N`, K from 1): it writes only the keys whose hash falls in it. */
export interface Shard {
  k: number;
  n: number;
}

/** The local lock file for a bucket and prefix (and shard), beside the journal. */
export function localLockPath(stateDir: string, bucket: string, prefix: string, shard?: Shard): string {
  const p = prefix.replace(/\/$/, '').replaceAll('/', '+');
  return path.join(stateDir, 'images', `${bucket}${p ? `@${p.length > 180 ? p.slice(0, 180) : p}` : ''}${shard ? `.shard-${shard.k}-of-${shard.n}` : ''}.lock`);
}

/** The body of the lock object (JSON). */
export interface LockBody {
  /** The user the run is for (the OS user). */
  holder: string;
  host: string;
  pid: number;
  startedAt: string;
  /** Refreshed while the run goes on; for people (expiry is judged on S3's clock, with ttlMs). */
  expiresAt: string;
  /** How long the lock lives after S3 last wrote it (its Last-Modified): expiry is judged on S3's clock. */
  ttlMs?: number;
  command: string;
  /** Tells this run's lock from another's (and from a rerun's after a lost answer). */
  runId: string;
}

/** What the local lock file holds. */
interface LocalLockBody {
  pid: number;
  host: string;
  runId: string;
  startedAt: string;
  target: string;
  /** The holder's lock expiry: its file's mtime is refreshed with the bucket lock, at least this often. */
  expiryMs?: number;
  /** Set by the holder itself as it exited without removing the bucket lock (S3 unreachable): it is gone. */
  exitedAt?: string;
}

export function parseLockBody(text: string): LockBody | undefined {
  try {
    const b = JSON.parse(text) as Partial<LockBody>;
    if (typeof b.runId !== 'string' || typeof b.expiresAt !== 'string') return undefined;
    const ttl = typeof b.ttlMs === 'number' && Number.isFinite(b.ttlMs) && b.ttlMs > 0 ? { ttlMs: b.ttlMs } : {};
    return { holder: String(b.holder ?? 'unknown'), host: String(b.host ?? 'unknown'), pid: Number(b.pid ?? 0), startedAt: String(b.startedAt ?? 'unknown'), expiresAt: b.expiresAt, ...ttl, command: String(b.command ?? ''), runId: b.runId };
  } catch {
    return undefined;
  }
}

/** `alice on build-7 (pid 4242) since …, expires …`. */
export function describeHolder(b: LockBody): string {
  return `${b.holder} on ${b.host} (pid ${b.pid}) since ${b.startedAt}, expires ${b.expiresAt}`;
}

/** True while `pid` runs on this host (a process of another user counts). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

/** An upload refused before it was sent: the item has no result (it was not started). */
function notStarted(cause: Error): Error {
  return Object.assign(new Error(cause.message, { cause }), { notStarted: true });
}

/** PreconditionFailed (412) or ConditionalRequestConflict (409): someone else's write decided it. */
function conflict(err: unknown): boolean {
  return err instanceof S3RequestError && (err.status === 412 || err.status === 409);
}

/** The lock object as read back: its body (undefined when unreadable), ETag, and S3's clock. */
interface ReadLock {
  body: LockBody | undefined;
  etag: string;
  text: string;
  lastModified?: string;
  date?: string;
}

export interface MigrationLockOptions {
  /** Lean S3 client for the lock only; its signal is the run's `kill`, so release works after the first Ctrl-C. */
  client: LeanS3;
  bucket: string;
  prefix: string;
  /** A shard holds its own lock: shards write disjoint keys. */
  shard?: Shard;
  stateDir: string;
  /** The state directory as shown to the user. */
  shownStateDir: string;
  expiryMs: number;
  /** `--break-lock`: break the lock if it has expired. */
  breakLock: boolean;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  command: string;
  now: () => Date;
  signals: RunSignals;
  info: (line: string) => void;
  warn: (line: string) => void;
}

export class MigrationLock {
  readonly key: string;
  readonly #o: MigrationLockOptions;
  readonly #runId = randomUUID();
  readonly #host = hostname();
  readonly #localFile: string;
  readonly #lost = new AbortController();
  #acquired: Promise<void> | undefined;
  #etag: string | undefined;
  #body: LockBody | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  /**
   * Until when the lock is known to be ours, on this process's monotonic clock and on its wall clock
   * (both must agree: the monotonic one cannot be set back, the wall one counts a suspended machine):
   * the moment the last successful create or refresh was sent, plus the expiry, minus the longest an
   * upload request may live (`maxRequestMs`), minus one refresh interval (margin). No upload or retry
   * starts past it (`writable`), and one that started before it is destroyed before the lock expires.
   */
  #validMono = -Infinity;
  #validWall = -Infinity;
  readonly #lostPromise: Promise<void>;
  #released = false;
  /** Set when release could not delete our lock (S3 refused or unreachable): it stays until it expires. */
  leftInPlace: { key: string; expiresAt: string } | undefined;
  /** The lock is someone else's now (or deleted): release must not touch it. */
  #foreign = false;


  constructor(options: MigrationLockOptions) {
    this.#o = options;
    this.key = lockKey(options.prefix, options.shard);
    this.#localFile = localLockPath(options.stateDir, options.bucket, options.prefix, options.shard);
    this.#lostPromise = new Promise((resolve) => this.#lost.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  /** True while the lock is known valid by this process's own clocks (a number comparison: safe per object). */
  valid(): boolean {
    return performance.now() < this.#validMono && Date.now() < this.#validWall;
  }

  /**
   * Call before sending any upload (and any retry): undefined when the lock is known valid;
   * otherwise a promise that settles once a refresh has decided, resolving if the lock was
   * extended and rejecting (a `notStarted` error) if it is lost or the run stops.
   */
  writable(): Promise<void> | undefined {
    return this.valid() ? undefined : this.#whenValid();
  }

  async #whenValid(): Promise<void> {
    for (;;) {
      if (this.#lost.signal.aborted) throw notStarted(this.#lost.signal.reason as Error);
      if (this.#released || this.#o.signals.stop.aborted) throw notStarted(new Error(`the lock ${this.where} is being released`));
      if (this.valid()) return;
      // a late timer tick (the process was paused) or a refresh that has not answered: let it decide
      await Promise.race([this.#refreshing ?? this.#refresh(), this.#lostPromise]);
    }
  }

  /** The lock was written by a request sent at these times (taken before it was sent). */
  #extend(sentMono: number, sentWall: number): void {
    const lasts = this.#o.expiryMs - this.refreshMs - this.maxRequestMs;
    this.#validMono = sentMono + lasts;
    this.#validWall = sentWall + lasts;
  }

  get where(): string {
    return `s3://${this.#o.bucket}/${this.key}`;
  }

  /** Aborted (with the IMAGES_LOCK_LOST error) when the lock can no longer be counted on. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  get lostError(): RetailctlError | undefined {
    return this.#lost.signal.aborted ? (this.#lost.signal.reason as RetailctlError) : undefined;
  }

  get refreshMs(): number {
    return Math.max(250, Math.floor(this.#o.expiryMs / 4));
  }

  /**
   * The longest an upload request (one attempt of a PUT, a whole CompleteMultipartUpload) may live:
   * a quarter of the expiry, at most 30 s. Uploads start only inside the lock's usable window, which
   * ends this long (and one refresh interval more) before the lock expires: so a request the lock
   * allowed has ended, or been destroyed, before any other run may break the lock.
   */
  get maxRequestMs(): number {
    return Math.min(MAX_REQUEST_MS, this.refreshMs);
  }

  /** The bucket lock was taken by this run (whatever became of it since). */
  get taken(): boolean {
    return this.#etag !== undefined;
  }

  /** Take the local lock, then the bucket lock (once; later calls return the same promise). */
  acquire(): Promise<void> {
    this.#acquired ??= this.#acquire();
    return this.#acquired;
  }

  async #acquire(): Promise<void> {
    const stale = this.#takeLocal();
    try {
      await this.#takeBucket(stale);
    } catch (err) {
      this.#removeLocal();
      throw err;
    }
    this.#timer = setInterval(() => void this.#refresh(), this.refreshMs);
    this.#timer.unref();
  }

  #bodyNow(startedAt?: string): LockBody {
    const now = this.#o.now().getTime();
    return {
      holder: userName(),
      host: this.#host,
      pid: process.pid,
      startedAt: startedAt ?? new Date(now).toISOString(),
      expiresAt: new Date(now + this.#o.expiryMs).toISOString(),
      ttlMs: this.#o.expiryMs,
      command: this.#o.command.slice(0, 500),
      runId: this.#runId,
    };
  }

  /** The local lock: exclusive create; a lock of a process of this host that is gone is taken over. */
  #takeLocal(): LocalLockBody | undefined {
    const file = this.#localFile;
    const shown = path.join(this.#o.shownStateDir, path.relative(this.#o.stateDir, file));
    const mine: LocalLockBody = { pid: process.pid, host: this.#host, runId: this.#runId, startedAt: this.#o.now().toISOString(), target: `s3://${this.#o.bucket}/${this.#o.prefix}`, expiryMs: this.#o.expiryMs };
    let stale: LocalLockBody | undefined;
    try {
      makeDirsSync(path.dirname(file));
    } catch (err) {
      throw new RetailctlError('IMAGES_STATE', `--state-dir ${this.#o.shownStateDir}: cannot create the directory for ${shown} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { exitCode: ExitCode.Usage, hint: 'pass --state-dir <a writable directory>' });
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        try {
          writeSync(fd, `${JSON.stringify(mine)}\n`);
        } finally {
          closeSync(fd);
        }
        return stale;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new RetailctlError('IMAGES_STATE', `cannot create the lock file ${shown}: ${(err as Error).message}`, { exitCode: ExitCode.Usage, hint: 'pass --state-dir <a writable directory>' });
      }
      let other: LocalLockBody | undefined;
      let touchedAt = 0;
      try {
        touchedAt = statSync(file).mtimeMs;
        const text = readFileSync(file, 'utf8');
        try {
          other = JSON.parse(text) as LocalLockBody;
        } catch {
          // cut short by a crash between create and write (or being written right now: wait for that)
          if (Date.now() - statSync(file).mtimeMs < 10_000) throw new RetailctlError('IMAGES_LOCKED', `${shown} is being created by another run: nothing was uploaded`, { hint: 'rerun in a few seconds' });
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      // A pid that is not running here proves nothing on its own: a run in another PID namespace (a
      // container with the same hostname sharing this directory) is invisible, or has our pid. The
      // proof that the holder is gone is its own word (it marked the file as it exited), or a file it
      // has not refreshed for longer than its lock's expiry (it refreshes it with the bucket lock).
      const quietMs = Date.now() - touchedAt;
      const expiryMs = other?.expiryMs ?? this.#o.expiryMs;
      const gone = !other || Boolean(other.exitedAt) || (other.host === this.#host && (other.pid === process.pid || !running(other.pid)) && quietMs > expiryMs);
      if (!gone) {
        const invisible = other!.host === this.#host && (other!.pid === process.pid || !running(other!.pid));
        const after = new Date(touchedAt + expiryMs + 1000).toISOString();
        throw new RetailctlError('IMAGES_LOCKED', `${shown} is held by pid ${other!.pid} on ${other!.host} since ${other!.startedAt}: another images migrate to ${other!.target} runs from this state directory; nothing was uploaded`, {
          hint: invisible
            ? `no process ${other!.pid} is visible here, but it may run in another PID namespace (a container with the same hostname): if it is dead, rerun after ${after} (when its lock has gone unrefreshed for its expiry)`
            : `wait for it to finish; if no such process runs on ${other!.host}, delete ${shown}`,
          data: { lockFile: shown, localLock: other },
        });
      }
      if (other) stale = other;
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (other) this.#o.info(`${shown}: pid ${other.pid} that held it ${other.exitedAt ? `exited at ${other.exitedAt}` : `has not refreshed it for ${Math.round(quietMs / 1000)} s`}; taking it over`);
    }
    throw new RetailctlError('IMAGES_LOCKED', `${shown} keeps being taken by another run: nothing was uploaded`, { hint: 'check for other retailctl images migrate runs on this host' });
  }

  /** The local lock file, if it is still ours (another run may have taken it over meanwhile). */
  #ownLocal(): LocalLockBody | undefined {
    try {
      const body = JSON.parse(readFileSync(this.#localFile, 'utf8')) as LocalLockBody;
      return body.runId === this.#runId ? body : undefined;
    } catch {
      return undefined;
    }
  }

  /** Remove the local lock file, only if it is still ours. */
  #removeLocal(): void {
    if (!this.#ownLocal()) return;
    try {
      unlinkSync(this.#localFile);
    } catch {
      // already gone
    }
  }

  /** The local lock file is refreshed with the bucket lock: its mtime says the holder is alive. */
  #touchLocal(): void {
    try {
      const t = new Date();
      utimesSync(this.#localFile, t, t);
    } catch {
      // a state directory gone meanwhile: the bucket lock still holds
    }
  }

  /** Exiting without removing the bucket lock: say in the local lock that this run is gone, so a rerun from here takes both over. */
  #markLocalExited(): void {
    const body = this.#ownLocal();
    if (!body) return;
    try {
      writeFileSync(this.#localFile, `${JSON.stringify({ ...body, exitedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
    } catch {
      // the lock file keeps our pid: a rerun takes it over once it has gone unrefreshed for the expiry
    }
  }

  async #put(body: LockBody, condition: { ifNoneMatch?: '*'; ifMatch?: string }): Promise<string> {
    const bytes = Buffer.from(`${JSON.stringify(body, null, 2)}\n`);
    return this.#o.client.put({
      key: this.key,
      body: bytes,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest(),
      contentType: 'application/json',
      cacheControl: 'no-store',
      sse: this.#o.sse,
      ...(this.#o.kmsKeyId ? { kmsKeyId: this.#o.kmsKeyId } : {}),
      ...condition,
    });
  }

  async #read(): Promise<ReadLock | undefined> {
    const got = await this.#o.client.get(this.key);
    if (!got) return undefined;
    const text = got.body.toString('utf8');
    return { body: parseLockBody(text), etag: got.etag, text, ...(got.lastModified ? { lastModified: got.lastModified } : {}), ...(got.date ? { date: got.date } : {}) };
  }

  /**
   * Whether a lock has expired, on S3's clock: its Last-Modified (S3 set it when the lock was last
   * written) plus its ttlMs, against the Date of S3's answer; a lock without ttlMs, by its expiresAt
   * against that Date. Only without a Date header (not S3) is this host's clock used.
   */
  #expired(held: LockBody, read: { lastModified?: string; date?: string }): boolean {
    const s3Now = read.date ? Date.parse(read.date) : Number.NaN;
    const now = Number.isFinite(s3Now) ? s3Now : this.#o.now().getTime();
    const written = read.lastModified ? Date.parse(read.lastModified) : Number.NaN;
    // Last-Modified has whole seconds: one more second so that the lock never counts as expired early
    if (held.ttlMs !== undefined && Number.isFinite(written)) return now > written + held.ttlMs + 1000;
    return now > Date.parse(held.expiresAt);
  }

  /** A write of the lock, counted as in flight for Ctrl-C (it is let finish, then released). */
  async #tracked<T>(what: string, write: () => Promise<T>): Promise<T> {
    const done = this.#o.signals.begin(`S3 ${what} ${this.key} (lock)`);
    try {
      return await write();
    } finally {
      done();
    }
  }

  async #takeBucket(stale: LocalLockBody | undefined): Promise<void> {
    const stop = this.#o.signals.stop;
    const body = this.#bodyNow();
    for (let attempt = 0; attempt < 4; attempt++) {
      stop.throwIfAborted();
      let sentMono = performance.now();
      let sentWall = Date.now();
      try {
        this.#etag = await this.#tracked('PutObject', () => this.#put(body, { ifNoneMatch: '*' }));
        this.#body = body;
        this.#extend(sentMono, sentWall);
        return;
      } catch (err) {
        if (!conflict(err)) throw err;
      }
      const current = await this.#read();
      if (!current) continue; // released between our write and our read: try again
      if (current.body?.runId === this.#runId) {
        // our own create landed and its answer was lost (the retry saw it)
        this.#etag = current.etag;
        this.#body = current.body;
        this.#extend(sentMono, sentWall);
        return;
      }
      const held = current.body;
      // a lock that cannot be read counts as held: it is not broken, not even with --break-lock
      const expired = held !== undefined && this.#expired(held, current);
      // an earlier run from this state directory: taken over at once if it said it exited, else once expired
      const ours = Boolean(held && stale && held.runId === stale.runId && held.host === this.#host && (stale.exitedAt || expired));
      if (!ours && !(expired && this.#o.breakLock)) throw this.#heldError(held, current.text, expired);
      stop.throwIfAborted();
      sentMono = performance.now();
      sentWall = Date.now();
      try {
        this.#etag = await this.#tracked('PutObject', () => this.#put(body, { ifMatch: current.etag }));
        this.#body = body;
        this.#extend(sentMono, sentWall);
      } catch (err) {
        if (conflict(err) || (err instanceof S3RequestError && err.code === 'NoSuchKey')) continue; // someone else moved first: look again
        throw err;
      }
      this.#o.info(
        ours
          ? `${this.where}: took over the lock of an earlier run from this host (pid ${held!.pid}, ${stale!.exitedAt ? `which exited at ${stale!.exitedAt} leaving it` : `no longer running: the lock expired at ${held!.expiresAt}`})`
          : `${this.where}: broke the expired lock ${held ? `of ${describeHolder(held)}` : `(unreadable: ${current.text.slice(0, 200)})`}`,
      );
      return;
    }
    throw new RetailctlError('IMAGES_LOCKED', `${this.where} keeps changing under us (another run is taking it): nothing was uploaded`, { hint: 'check for other runs of retailctl images migrate on this bucket and prefix' });
  }

  #heldError(held: LockBody | undefined, text: string, expired: boolean): RetailctlError {
    const who = held ? describeHolder(held) : `an unreadable lock (${text.slice(0, 200)})`;
    const data = { lockKey: this.key, lock: held ?? null };
    if (!held) {
      return new RetailctlError('IMAGES_LOCKED', `${this.where} is held by ${who}: it counts as held (its holder and expiry cannot be read); nothing was uploaded`, {
        hint: `if no run of retailctl images migrate holds it (it is garbage), delete it by hand: aws s3 rm s3://${this.#o.bucket}/${this.key}`,
        data,
      });
    }
    if (this.#o.breakLock) {
      return new RetailctlError('IMAGES_LOCKED', `--break-lock: ${this.where} is live, held by ${who}: not broken, nothing was uploaded`, {
        hint: `a lock is broken only once it has expired; wait for that run to finish, or until ${held!.expiresAt} if it is dead`,
        data,
      });
    }
    return new RetailctlError('IMAGES_LOCKED', `${this.where} is held by ${who}: another images migrate runs on this bucket and prefix; nothing was uploaded`, {
      hint: expired ? 'the lock has expired: if that run is gone, rerun with --break-lock' : `wait for it to finish; if that run is dead, rerun with --break-lock after ${held!.expiresAt}`,
      data,
    });
  }

  #lose(why: string): void {
    if (this.#lost.signal.aborted) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#o.warn(`lost the lock ${this.where}: ${why}; stopping`);
    this.#lost.abort(
      new RetailctlError('IMAGES_LOCK_LOST', `lost the lock ${this.where}: ${why}; no upload was started after that (single uploads already sent were let finish, multipart uploads in progress were aborted)`, {
        hint: 'check that no other run is writing to this bucket and prefix, then rerun the same command to resume',
        data: { lockKey: this.key },
      }),
    );
  }

  /** The timer's tick: one refresh at a time; one that hangs past the lock's last safe moment loses it. */
  #refresh(): Promise<void> {
    if (this.#released || this.#lost.signal.aborted || this.#o.signals.stop.aborted) return Promise.resolve();
    if (this.#refreshing) {
      if (!this.#safe()) this.#lose(`its refresh has not answered and it expires at ${this.#body!.expiresAt}`);
      return Promise.resolve();
    }
    this.#refreshing = this.#refreshOnce().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** More than one refresh interval left before the lock we last wrote expires (by our own clocks). */
  #safe(): boolean {
    return this.valid();
  }

  async #refreshOnce(): Promise<void> {
    const body = this.#bodyNow(this.#body!.startedAt);
    const sentMono = performance.now();
    const sentWall = Date.now();
    try {
      this.#etag = await this.#tracked('PutObject', () => this.#put(body, { ifMatch: this.#etag! }));
      this.#body = body;
      this.#extend(sentMono, sentWall);
      this.#touchLocal();
      return;
    } catch (err) {
      if (this.#released) return;
      const gone = err instanceof S3RequestError && err.code === 'NoSuchKey';
      if (!conflict(err) && !gone) {
        // unreachable for now: keep going while the lock has more than one refresh interval to live
        if (!this.#safe()) this.#lose(`it could not be refreshed (${(err as Error).message}) and expires at ${this.#body!.expiresAt}`);
        return;
      }
    }
    const current = await this.#confirm();
    if (current === 'unknown') return; // lost (could not confirm), or released meanwhile
    if (current?.body?.runId === this.#runId) {
      // our refresh (or an earlier one) landed and its answer was lost; only this one's send time extends it
      this.#etag = current.etag;
      this.#body = current.body;
      if (current.body.expiresAt === body.expiresAt) this.#extend(sentMono, sentWall);
      return;
    }
    this.#foreign = true;
    this.#lose(current ? `it is now held by ${current.body ? describeHolder(current.body) : 'someone else'}` : 'the lock object was deleted');
  }

  /**
   * Read the lock after a refresh S3 refused: a failed read proves nothing (the lock may still be
   * ours, our refresh landed and its answer was lost), so it is retried while the lock's usable
   * window lasts; past it the lock is lost ("could not confirm"), and release decides what to delete.
   */
  async #confirm(): Promise<ReadLock | undefined | 'unknown'> {
    for (;;) {
      try {
        return await this.#read();
      } catch (err) {
        if (this.#released || this.#lost.signal.aborted || this.#o.signals.stop.aborted) return 'unknown';
        if (!this.valid()) {
          this.#lose(`could not confirm the lock after a refresh S3 refused (${(err as Error).message}); it expires at ${this.#body!.expiresAt} at the latest`);
          return 'unknown';
        }
        await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(100, Math.floor(this.refreshMs / 4)))).unref());
      }
    }
  }

  /** Our version of the lock when it is still ours under another ETag (a refresh whose answer was lost). */
  async #ownVersion(): Promise<string | undefined> {
    const current = await this.#read();
    return current?.body?.runId === this.#runId ? current.etag : undefined;
  }

  /**
   * Remove the bucket lock if it is still ours, then the local lock (if it is still ours). When the
   * bucket lock cannot be removed (S3 unreachable), the local lock stays with it, marked as exited:
   * a rerun from here takes both over at once.
   */
  async release(): Promise<void> {
    this.#released = true;
    if (this.#timer) clearInterval(this.#timer);
    if (!this.#acquired) return;
    try {
      await this.#acquired;
    } catch {
      return; // not taken: acquire() cleaned up
    }
    await this.#refreshing;
    if (this.#foreign) {
      this.#removeLocal();
      return;
    }
    // conditional: whatever happened meanwhile, only our own version of the lock is deleted
    try {
      try {
        await this.#tracked('DeleteObject', () => this.#o.client.delete(this.key, this.#etag));
      } catch (err) {
        if (!conflict(err)) throw err;
        // changed since: still ours (a refresh landed unconfirmed) is deleted under its new ETag
        const own = await this.#ownVersion();
        if (!own) throw err;
        this.#etag = own;
        await this.#tracked('DeleteObject', () => this.#o.client.delete(this.key, own));
      }
    } catch (err) {
      if (conflict(err)) {
        this.#o.warn(`${this.where} changed since this run last wrote it (someone else holds it now): left in place`);
        this.#removeLocal();
      } else {
        this.#o.warn(`could not remove the lock ${this.where} (${(err as Error).message}): it expires at ${this.#body?.expiresAt}; a rerun from this state directory takes it over, elsewhere rerun with --break-lock after that`);
        this.leftInPlace = { key: this.key, expiresAt: this.#body?.expiresAt ?? 'unknown' };
        this.#markLocalExited();
      }
      return;
    }
    this.#removeLocal();
  }
}
