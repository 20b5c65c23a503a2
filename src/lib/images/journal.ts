/**
 * The local journal of a migration: one JSON line per object uploaded (key, source, size, mtime,
 * sha256, ETag, content type), appended as each upload completes. It is a cache, never the truth:
 * the destination listing decides what exists, and the journal only lets a rerun skip an object
 * without reading the file again when the file's size and time and the object's ETag all still
 * match. Losing it (a fresh CI checkout, kill -9 before a line is flushed) costs a re-hash, never
 * a lost or duplicated object.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { makeDirs } from '../io/paths.js';
import { ExitCode, RetailctlError } from '../errors.js';
import path from 'node:path';
import type { JournalEntry } from './plan.js';

export function journalPath(stateDir: string, bucket: string): string {
  return path.join(stateDir, 'images', `${bucket}.jsonl`);
}

/**
 * The latest entry per key (later lines win); unreadable lines (a torn last write) are ignored.
 * Read as a stream, line by line, with repeated strings (content types, a source equal to its key)
 * shared: a journal of 100,000 objects is 25 MB of text that must not sit in memory at once.
 */
export async function loadJournal(file: string): Promise<Map<string, JournalEntry>> {
  const out = new Map<string, JournalEntry>();
  const types = new Map<string, string>();
  const take = (line: string) => {
    if (!line) return;
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (typeof e.key !== 'string' || typeof e.etag !== 'string') return;
      if (e.source === e.key) e.source = e.key;
      let type = types.get(e.contentType);
      if (type === undefined) types.set(e.contentType, (type = e.contentType));
      e.contentType = type;
      out.set(e.key, e);
    } catch {
      // a line cut short by a killed process
    }
  };
  let pending = '';
  try {
    for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
      pending += chunk;
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
        take(pending.slice(start, nl));
        start = nl + 1;
      }
      pending = pending.slice(start);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  take(pending);
  return out;
}

export class JournalWriter {
  readonly #stream: WriteStream;
  #error: Error | undefined;
  /** Lines not yet written: flushed every 200 ms or 64 KB (one write instead of one per object). */
  #pending = '';
  #timer: NodeJS.Timeout | undefined;
  private constructor(stream: WriteStream) {
    this.#stream = stream;
    // a failed write costs only the cache; it is reported when the journal is closed
    stream.on('error', (err) => (this.#error ??= err));
  }

  /** Opened before any upload: a state directory that cannot be written is a usage error, not a crash later. */
  static async open(file: string, shown: string): Promise<JournalWriter> {
    try {
      await makeDirs(path.dirname(file));
      const handle = await open(file, 'a', 0o600);
      return new JournalWriter(createWriteStream('', { fd: handle }));
    } catch (err) {
      throw new RetailctlError('IMAGES_STATE', `cannot write the journal ${shown}: ${(err as Error).message}`, { exitCode: ExitCode.Usage, hint: 'pass --state-dir <a writable directory>' });
    }
  }

  /** The first write error, if any (the journal is a cache: the run itself is not affected). */
  get error(): Error | undefined {
    return this.#error;
  }

  append(entry: JournalEntry): void {
    this.#pending += `${JSON.stringify(entry)}\n`;
    if (this.#pending.length >= 65536) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), 200);
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#pending) return;
    this.#stream.write(this.#pending);
    this.#pending = '';
  }

  close(): Promise<void> {
    this.#flush();
    return new Promise((resolve, reject) => this.#stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
