/**
 * Small source files read and hashed off the main thread (RETAILCTL_READ_THREADS=N). Reading a
 * file (open, read, close) and its SHA-256 (and MD5 when a `check` compares by it) are about a sixth
 * of an upload's CPU on the main thread, which also signs and sends every request; with reader
 * threads the main thread only sends, and a slow disk or network mount never stalls it. The body comes back as a transferred buffer
 * (no copy). A file's bytes are hashed where they were read: what is uploaded is what was hashed.
 *
 * The threads are plain Node (fs and crypto only), started from source text: no file to ship or
 * resolve. They are unref'd and end when the pool is closed; a pool that cannot start is not an
 * error: the caller reads on the main thread instead.
 */
import { Worker } from 'node:worker_threads';

const THREAD = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync, readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
// buffers the main thread gave back: a fresh one per file costs more (page faults) than reading it
const free = [];
const take = (bytes) => {
  let best = -1;
  for (let i = 0; i < free.length; i++) if (free[i].byteLength >= bytes && (best < 0 || free[i].byteLength < free[best].byteLength)) best = i;
  if (best >= 0) return Buffer.from(free.splice(best, 1)[0]);
  let size = 64 * 1024;
  while (size < bytes) size *= 2;
  return Buffer.allocUnsafeSlow(size);
};
parentPort.on('message', (m) => {
  if (m.exit) return parentPort.close();
  for (const b of m.recycle ?? []) if (free.length < 256) free.push(b);
  if (!m.file) return;
  let body;
  try {
    const fd = openSync(m.file, 'r');
    try {
      const buf = take(m.size + 1);
      let got = 0;
      for (let n = 1; n > 0 && got <= m.size; got += n) n = readSync(fd, buf, got, m.size + 1 - got, got);
      body = got === m.size ? buf.subarray(0, got) : undefined;
    } finally {
      closeSync(fd);
    }
    if (!body) {
      const whole = readFileSync(m.file); // the size changed since the walk
      body = take(whole.length).subarray(0, whole.length);
      whole.copy(body);
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { code: e.code, message: e.message } });
    return;
  }
  const sha256 = createHash('sha256').update(body).digest('hex');
  const md5 = m.md5 ? createHash('md5').update(body).digest('hex') : undefined;
  parentPort.postMessage({ id: m.id, buffer: body.buffer, size: body.length, sha256, md5 }, [body.buffer]);
});
`;

export interface ReadHashed {
  body: Buffer;
  sha256: Buffer;
  md5?: string;
}

interface Reply {
  id: number;
  buffer?: ArrayBuffer;
  size?: number;
  sha256?: string;
  md5?: string;
  error?: { code?: string; message: string };
}

export class ReadThreads {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, { resolve: (r: ReadHashed) => void; reject: (e: unknown) => void }>();
  /** Buffers given back, sent with the next read (one message instead of two). */
  #returned: ArrayBuffer[] = [];
  #next = 0;
  #dead: Error | undefined;

  private constructor(count: number) {
    this.#workers = Array.from({ length: count }, () => {
      const w = new Worker(THREAD, { eval: true });
      w.unref();
      w.on('message', (m: Reply) => this.#settle(m));
      w.on('error', (err) => this.#die(err));
      w.on('exit', () => this.#die(new Error('a reader thread exited')));
      return w;
    });
  }

  /** A pool of `count` threads, or undefined when threads cannot be started here. */
  static start(count: number): ReadThreads | undefined {
    if (count < 1) return undefined;
    try {
      return new ReadThreads(count);
    } catch {
      return undefined;
    }
  }

  /** The file read whole (`size` from the walk; a file that changed size is read again whole) and hashed. */
  read(file: string, size: number, wantMd5: boolean): Promise<ReadHashed> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<ReadHashed>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const recycle = this.#returned;
      this.#returned = [];
      this.#workers[id % this.#workers.length]!.postMessage({ id, file, size, md5: wantMd5, recycle }, recycle);
    });
  }

  #settle(m: Reply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else p.resolve({ body: Buffer.from(m.buffer!, 0, m.size!), sha256: Buffer.from(m.sha256!, 'hex'), ...(m.md5 ? { md5: m.md5 } : {}) });
  }

  #die(err: Error): void {
    this.#dead ??= err;
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
  }

  /**
   * Give a body back to be read into again, once nothing uses it any more (its upload has ended):
   * the buffer moves to a reader thread with the next read, and must not be used from now on.
   */
  recycle(body: Buffer): void {
    if (this.#dead || body.byteOffset !== 0 || body.buffer.byteLength === 0 || this.#returned.length >= 64) return;
    this.#returned.push(body.buffer as ArrayBuffer);
  }

  /** Let the threads end (each after the read it is doing, if any). */
  close(): void {
    this.#dead ??= new Error('the reader threads were closed');
    for (const w of this.#workers) w.postMessage({ exit: true });
  }
}
