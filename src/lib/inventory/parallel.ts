/**
 * The parallel engine: local CSV/TSV exports read and reconciled on several threads (worker.ts).
 *
 * 1. Each large file is cut into byte ranges at line breaks after its header; the threads read the
 *    ranges of one source at a time and sort every good row into one of many partitions by a hash of
 *    its sku (partition.ts). A range that turns out to start inside a quoted field (an odd number of
 *    `"` before it) is read again as part of its whole file.
 * 2. Each partition's batches go to the thread that owns it, in reading order: it interns the keys
 *    and records the quantities as the one-thread engine does (duplicates, negatives), and finds
 *    where each key was first read.
 * 3. Each partition reconciles on its own; summaries add up, and rows are merged back into the
 *    one-thread engine's order by where their keys were first read. The output is byte for byte the
 *    one-thread engine's, whatever the number of threads.
 *
 * Anything else (s3:// sources, JSON, a run too small to gain) takes the one-thread engine.
 */
import { setMaxListeners } from 'node:events';
import { open } from 'node:fs/promises';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ByteWriter } from '../io/bytes.js';
import { RetailctlError, type RetailctlErrorOptions } from '../errors.js';
import { DelimitedError, DelimitedReader, field } from './delimited.js';
import { checkUnchanged, findFiles, statLocal, type InputFile } from './files.js';
import type { FileStats, SourceStats } from './freshness.js';
import type { RowError } from './model.js';
import type { Pace } from './pace.js';
import { batchBuffers, orderOf, rowOf, type Batch, type BatchOrigin, type Keyed, type RowColumns } from './partition.js';
import { checkNotEmpty, formatOf, headerIndex, readError, type SourceSpec } from './read.js';
import { bySeverityFast, CLASSES, LineJoiner, mergeSummaries, sortPaced, type DriftClass, type ReconcileResult, type ResultRow, type RowFormat, type Summary } from './reconcile.js';
import type { ErrorData, Segment, SegmentResult, WorkerInit } from './worker.js';

/** Below this much input the threads' start-up costs more than they save (unless threads are asked for). */
const MIN_PARALLEL_BYTES = 16 << 20;
/** A file is cut into ranges only above this size (any size when threads are asked for). */
const MIN_RANGE_BYTES = 4 << 20;
/** Partitions per thread: small enough tables to stay in the CPU caches on unsorted exports. */
const PARTITIONS_PER_THREAD = 16;
/** Output merged and written in chunks of about this size. */
const CHUNK = 1 << 18;

export interface ParallelOptions {
  /** Threads to use; `undefined`: as many as the machine has, up to 4, for inputs of 16 MB or more. */
  threads?: number;
  resolve: (p: string) => string;
  cwd: string;
  now: Date;
  signal?: AbortSignal;
  duplicates: 'error' | 'sum';
  /** Where the phases' timings go (-v). */
  debug?: (line: string) => void;
}

/** The threads to use for these sources, or undefined for the one-thread engine. */
async function planThreads(specs: readonly SourceSpec[], options: ParallelOptions): Promise<{ threads: number; inputs: InputFile[][]; sizes: number[][]; mtimes: Date[][]; mtimeMs: number[][] } | undefined> {
  const threads = options.threads ?? Math.min(os.availableParallelism(), 4);
  if (threads <= 1) return undefined;
  if (specs.some((s) => s.paths.some((p) => p.startsWith('s3://')))) return undefined;
  const inputs: InputFile[][] = [];
  for (const spec of specs) {
    const files = await findFiles(spec.name, spec.paths, { resolve: options.resolve, cwd: options.cwd });
    if (files.some((f) => !['csv', 'tsv'].includes(formatOf(f.file, spec.format)))) return undefined;
    inputs.push(files);
  }
  const stats = await Promise.all(inputs.map((files, s) => Promise.all(files.map((f) => statLocal(specs[s]!.name, f)))));
  const total = stats.flat().reduce((n, st) => n + st.size, 0);
  if (options.threads === undefined && total < MIN_PARALLEL_BYTES) return undefined;
  return { threads, inputs, sizes: stats.map((l) => l.map((st) => st.size)), mtimes: stats.map((l) => l.map((st) => st.mtime)), mtimeMs: stats.map((l) => l.map((st) => st.mtimeMs)) };
}

/** A thread and its pending calls. */
class Thread {
  readonly #worker: Worker;
  #next = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  #dead: unknown;
  #exited = false;

  constructor(
    readonly index: number,
    /** Shared with every thread: set when the run ends or stops. */
    readonly stopFlag: Int32Array,
  ) {
    const url = import.meta.url;
    // the bundle ships the worker beside it; from the TypeScript sources (tests) it runs through tsx
    this.#worker = new Worker(new URL(url.endsWith('.ts') ? './worker-from-sources.mjs' : './inventory-worker.cjs', url));
    this.#worker.unref();
    this.#worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: ErrorData }) => {
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(fromErrorData(msg.error!));
    });
    const die = (err: unknown) => {
      this.#dead = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      die(new Error(`inventory thread ${index} exited (code ${code})`));
    });
  }

  call<T>(op: string, args: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  /**
   * End the thread: the stop flag ends a long step at its next chunk or batch, then the thread exits
   * by itself (ending a thread in the middle of its work can crash Node itself, a known Node bug);
   * it is terminated only if that takes longer than half a second (a stopped run ends promptly).
   */
  async stop(): Promise<void> {
    if (this.#exited) return;
    this.#dead ??= new Error('stopped');
    Atomics.store(this.stopFlag, 0, 1); // a step under way ends at its next chunk or batch
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ id: -1, op: 'exit', args: {} });
    const late = setTimeout(() => void this.#worker.terminate(), 500);
    await exited;
    clearTimeout(late);
  }
}

function fromErrorData(e: ErrorData): Error {
  if (e.code) return new RetailctlError(e.code, e.message, e.options as RetailctlErrorOptions);
  const err = new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

/** One wait on the threads that a Ctrl-C / SIGTERM ends with the run's abort reason. */
async function stoppable<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  // a stopped run ends the threads and so this work: the run's own reason is what is reported
  work.catch(() => {});
  signal.throwIfAborted();
  let stop: () => void = () => {};
  const stopped = new Promise<never>((_, reject) => {
    stop = () => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
  });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Where a file's rows start after its header, or undefined when the file is best read whole. */
async function headerOf(spec: SourceSpec, input: InputFile, format: 'csv' | 'tsv'): Promise<{ index: Record<string, number>; bodyStart: number; bodyLine: number } | undefined> {
  const handle = await open(input.file, 'r');
  try {
    const head = Buffer.alloc(1 << 16);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const buf = head.subarray(0, bytesRead);
    if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return undefined; // the whole-file reader says what it is
    const lf = buf.indexOf(0x0a);
    const cr = buf.indexOf(0x0d);
    if (lf < 0 || (cr >= 0 && cr < lf && cr !== lf - 1)) return undefined; // no line in sight, or CR-only line endings
    let found: { fields: string[]; end: number } | undefined;
    const reader = new DelimitedReader(format === 'tsv' ? '\t' : ',', {
      raw: (r) => {
        found ??= { fields: Array.from({ length: r.count }, (_, i) => field(r, i).trim()), end: r.end };
      },
    });
    try {
      reader.push(buf);
    } catch (err) {
      if (err instanceof DelimitedError) return undefined;
      throw err;
    }
    if (!found) return undefined;
    const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    const bodyStart = bom + found.end;
    let bodyLine = 1;
    for (let k = buf.indexOf(0x0a); k >= 0 && k < bodyStart; k = buf.indexOf(0x0a, k + 1)) bodyLine++;
    return { index: headerIndex(spec, input.shown, found.fields, format), bodyStart, bodyLine };
  } finally {
    await handle.close();
  }
}

/** Cut [start, size) into `parts` ranges that begin just after a line break. */
async function cutRanges(file: string, start: number, size: number, parts: number): Promise<[number, number][]> {
  const bounds = [start];
  const handle = await open(file, 'r');
  try {
    const window = Buffer.alloc(1 << 16);
    for (let k = 1; k < parts; k++) {
      let at = Math.max(bounds[bounds.length - 1]!, Math.floor(start + ((size - start) * k) / parts));
      let cut = size;
      while (at < size) {
        const { bytesRead } = await handle.read(window, 0, window.length, at);
        if (bytesRead <= 0) break;
        const lf = window.subarray(0, bytesRead).indexOf(0x0a);
        if (lf >= 0) {
          cut = at + lf + 1;
          break;
        }
        at += bytesRead;
      }
      if (cut > bounds[bounds.length - 1]! && cut < size) bounds.push(cut);
    }
  } finally {
    await handle.close();
  }
  bounds.push(size);
  return bounds.slice(0, -1).map((b, i) => [b, bounds[i + 1]!]);
}

/**
 * A merge of several runs, each sorted by its order keys, through a binary heap of the runs:
 * `take()` is the run holding the smallest next key, whose `at` it then advances; -1 once every
 * run is used up. (A scan of every run per item cost seconds on millions of rows.)
 */
class RunMerge {
  readonly #heap: number[];

  constructor(readonly runs: { order: ArrayLike<number>; at: number }[]) {
    this.#heap = runs.flatMap((r, i) => (r.at < r.order.length ? [i] : []));
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  take(): number {
    const heap = this.#heap;
    if (heap.length === 0) return -1;
    const b = heap[0]!;
    const run = this.runs[b]!;
    if (++run.at >= run.order.length) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 1) this.#down(0);
    return b;
  }

  #key(i: number): number {
    const r = this.runs[this.#heap[i]!]!;
    return r.order[r.at]!;
  }

  #down(from: number): void {
    const heap = this.#heap;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const r = l + 1;
      // ties go to the earlier run, as a scan would take them
      const m = r < heap.length && (this.#key(r) < this.#key(l) || (this.#key(r) === this.#key(l) && heap[r]! < heap[l]!)) ? r : l;
      if (this.#key(m) > this.#key(i) || (this.#key(m) === this.#key(i) && heap[m]! > heap[i]!)) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

export interface ParallelRead {
  errors: RowError[];
  stats: SourceStats[];
  /** Keys per source. */
  sources: { name: string; role: SourceSpec['role']; keys: number }[];
  keys: number;
  threads: number;
  reconcile(options: { safetyStock: number | ((sku: string) => number); safetyValues?: [string, number][]; tolerance: number; keepOk: boolean }, pace: Pace): Promise<ReconcileResult>;
  close(): Promise<void>;
}

/**
 * Read every source (in reading order) on several threads, or undefined when the one-thread engine
 * should (see planThreads). The caller must close() what it gets.
 */
export async function readParallel(specs: readonly SourceSpec[], options: ParallelOptions): Promise<ParallelRead | undefined> {
  const plan = await planThreads(specs, options);
  if (!plan) return undefined;
  const { threads: n } = plan;
  const partitions = n * PARTITIONS_PER_THREAD;
  const owner = (p: number) => p % n;
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const threads = Array.from({ length: n }, (_, i) => new Thread(i, stopFlag));
  const signal = options.signal;
  // one wait per partition at a time listens for the signal
  if (signal) setMaxListeners(0, signal);
  const all = <T>(work: Promise<T>[]) => stoppable(Promise.all(work), signal);
  try {
    await all(threads.map((t) => t.call('init', { thread: t.index, threads: n, partitions, specs, duplicates: options.duplicates, now: options.now.getTime(), cwd: options.cwd, expectedKeys: Math.ceil(Math.max(...plan.sizes.map((l) => l.reduce((a, b) => a + b, 0))) / 20 / partitions), stop: stopFlag } satisfies WorkerInit)));
    const errors: Keyed<RowError>[] = [];
    const stats: SourceStats[] = [];
    const locations: { sender: number; names: string[] }[] = threads.map((t) => ({ sender: t.index, names: [] }));
    let fileOrder = 0;
    type FileWork = { input: InputFile; order: number; fileStats: FileStats; segments: Segment[]; bodyLine: number };
    /** Cut a source's files into ranges and have the threads read them (the answer is awaited later). */
    const start = async (s: number) => {
      const spec = specs[s]!;
      const files: FileWork[] = [];
      const segments: Segment[] = [];
      for (const [f, input] of plan.inputs[s]!.entries()) {
        const format = formatOf(input.file, spec.format) as 'csv' | 'tsv';
        const size = plan.sizes[s]![f]!;
        const gz = input.file.toLowerCase().endsWith('.gz');
        // a header the reader would refuse: the whole-file reader says so, in reading order
        const header = !gz && (options.threads !== undefined || size >= MIN_RANGE_BYTES) ? await headerOf(spec, input, format).catch(() => undefined) : undefined;
        const entry: FileWork = { input, order: fileOrder++, fileStats: { shown: input.shown, rows: 0, modified: plan.mtimes[s]![f]! }, segments: [], bodyLine: header?.bodyLine ?? 1 };
        if (header && size > header.bodyStart) {
          for (const [from, to] of await cutRanges(input.file, header.bodyStart, size, n)) entry.segments.push({ index: segments.length + entry.segments.length, source: s, file: input.file, shown: input.shown, format, range: { start: from, end: to, index: header.index } });
        } else entry.segments.push({ index: segments.length, source: s, file: input.file, shown: input.shown, format });
        segments.push(...entry.segments);
        files.push(entry);
      }
      const results = parseAll(threads, segments, signal);
      results.catch(() => {}); // awaited in finish(); a failure before then must not go unhandled
      return { files, segments, results, started: Date.now() };
    };
    /** Check what the threads read of source `s` (in reading order), then hand each partition its rows. */
    const finish = async (s: number, work: Awaited<ReturnType<typeof start>>) => {
      const spec = specs[s]!;
      const { files, segments } = work;
      const results = await work.results;
      const sourceStats: SourceStats = { name: spec.name, rows: 0, files: [] };
      // --- a file cut inside a quoted field: the range before the cut ends inside it and so fails
      // ("unterminated quoted field"), whatever quotes come before; any range that fails has its file
      // read again, whole, by one thread, which tells a real error (with its line) from a wrong cut
      for (const file of files) {
        if (!file.segments[0]!.range || !file.segments.some((seg) => results.get(seg.index)!.result.malformed)) continue;
        const whole: Segment = { index: segments.length, source: s, file: file.input.file, shown: file.input.shown, format: file.segments[0]!.format };
        segments.push(whole);
        for (const seg of file.segments) results.delete(seg.index);
        file.segments = [whole];
        file.bodyLine = 1;
        for (const [k, v] of await parseAll(threads, [whole], signal)) results.set(k, v);
      }
      // --- in reading order: the first failure stops the run; line numbers and stats per file
      const items: { partition: number; batch: Batch; origin: BatchOrigin }[] = [];
      for (const file of files) {
        let lineBase = file.bodyLine;
        for (const seg of file.segments) {
          const { result, sender } = results.get(seg.index)!;
          if (result.failed) throw fromErrorData(result.failed);
          if (result.malformed) throw readError(spec, file.input, new DelimitedError(result.malformed.reason, lineBase + result.malformed.line - 1));
          for (const e of result.errors) errors.push({ value: { ...e, line: lineBase + e.line - 1 }, group: 0, order: orderOf(file.order, lineBase + e.line - 1) });
          file.fileStats.rows += result.rows;
          if (result.asOf !== undefined && !(file.fileStats.asOf && file.fileStats.asOf.getTime() >= result.asOf)) file.fileStats.asOf = new Date(result.asOf);
          if (result.modified !== undefined) file.fileStats.modified = new Date(result.modified);
          result.batches.forEach((batch, p) => {
            if (batch.rows > 0) items.push({ partition: p, batch, origin: { source: s, shown: file.input.shown, fileOrder: file.order, lineBase, sender } });
          });
          lineBase += result.nextLine - 1;
        }
        sourceStats.files.push(file.fileStats);
        sourceStats.rows += file.fileStats.rows;
      }
      // a file rewritten while its ranges were read: its rows may mix two exports
      for (const [f, input] of plan.inputs[s]!.entries()) await checkUnchanged(spec.name, input, { size: plan.sizes[s]![f]!, mtimeMs: plan.mtimeMs[s]![f]! });
      for (const r of results.values()) if (r.locations.length >= locations[r.sender]!.names.length) locations[r.sender] = { sender: r.sender, names: r.locations };
      checkNotEmpty(spec, sourceStats, plan.inputs[s]!);
      stats.push(sourceStats);
      options.debug?.(`read ${spec.name} (${spec.role}) on ${n} threads in ${Date.now() - work.started} ms`);
      // --- each partition's rows to its thread, in reading order (answered once taken in)
      const ingested = Promise.all(
        threads.map((t) => {
          const mine = items.filter((it) => owner(it.partition) === t.index);
          return t.call<Keyed<RowError>[]>('ingest', { items: mine, locations }, mine.flatMap((it) => batchBuffers(it.batch)));
        }),
      );
      ingested.catch(() => {});
      return { ingested };
    };
    // the next source is read while this one's rows are taken in: the threads never wait for each other
    let next = await start(0);
    let ingesting: Promise<Keyed<RowError>[][]> | undefined;
    for (let s = 0; s < specs.length; s++) {
      const work = next;
      if (s + 1 < specs.length) next = await start(s + 1);
      const { ingested } = await stoppable(finish(s, work), signal);
      if (ingesting) errors.push(...(await stoppable(ingesting, signal)).flat());
      ingesting = ingested;
    }
    if (ingesting) errors.push(...(await stoppable(ingesting, signal)).flat());
    errors.sort((a, b) => a.order - b.order);
    return engine(threads, specs, errors.map((e) => e.value), stats, signal);
  } catch (err) {
    await Promise.all(threads.map((t) => t.stop()));
    throw err;
  }
}

/** Read segments on the threads (ranges of a file spread over them, whole files to the least busy). */
async function parseAll(threads: Thread[], segments: Segment[], signal?: AbortSignal): Promise<Map<number, { result: SegmentResult; sender: number; locations: string[] }>> {
  const load = threads.map(() => 0);
  const lists: Segment[][] = threads.map(() => []);
  const perFile = new Map<string, number>();
  for (const seg of segments) {
    let t: number;
    if (seg.range) {
      const k = perFile.get(seg.file) ?? 0;
      perFile.set(seg.file, k + 1);
      t = k % threads.length;
    } else t = load.indexOf(Math.min(...load));
    lists[t]!.push(seg);
    load[t]! += seg.range ? seg.range.end - seg.range.start : 1 << 24;
  }
  const answers = await stoppable(Promise.all(threads.map((t) => (lists[t.index]!.length ? t.call<{ results: SegmentResult[]; locations: string[] }>('parse', { segments: lists[t.index] }) : Promise.resolve(undefined)))), signal);
  const out = new Map<number, { result: SegmentResult; sender: number; locations: string[] }>();
  answers.forEach((a, sender) => {
    for (const result of a?.results ?? []) out.set(result.index, { result, sender, locations: a!.locations });
  });
  return out;
}

type Cursor = { partition: number; from: number; done: boolean; bytes: Uint8Array; ends: number[]; order: number[]; at: number };

function engine(threads: Thread[], specs: readonly SourceSpec[], errors: RowError[], stats: SourceStats[], signal?: AbortSignal): ParallelRead {
  const n = threads.length;
  const partitions = n * PARTITIONS_PER_THREAD;
  const all = <T>(work: Promise<T>[]) => stoppable(Promise.all(work), signal);
  const sourceNames = specs.map((s) => s.name);
  const channels = specs.filter((s) => s.role === 'channel').length;
  let sizes = specs.map(() => 0);
  let keys = 0;

  /** The lines of class `rank` (-1: all) for channel `c`, merged from every partition in reading order, framed by `lines`. */
  async function* mergedLines(format: RowFormat, rank: number, c: number, lines: LineJoiner, out: ByteWriter): AsyncGenerator<Uint8Array> {
    type Answer = { bytes: Uint8Array; ends: number[]; order: number[]; next: number; done: boolean };
    const request = (k: Cursor) => threads[k.partition % n]!.call<Answer[]>('lines', { format, rank, c, cursors: [{ partition: k.partition, from: k.from }], maxBytes: CHUNK / 4 }).then((a) => a[0]!);
    const cursors: (Cursor & { pending?: Promise<Answer> })[] = Array.from({ length: partitions }, (_, p) => ({ partition: p, from: 0, done: false, bytes: new Uint8Array(0), ends: [], order: [], at: 0 }));
    // a request not awaited yet fails when a stopped run ends the threads: the run's own error is what counts
    const ask = (k: Cursor) => {
      const pending = request(k);
      pending.catch(() => {});
      return pending;
    };
    for (const k of cursors) k.pending = ask(k);
    // each partition's next lines are asked for as soon as its current ones arrive: the threads format while this thread merges
    const install = async (k: (typeof cursors)[number]) => {
      const a = await stoppable(k.pending!, signal);
      Object.assign(k, { bytes: a.bytes, ends: a.ends, order: a.order, at: 0, done: a.done, from: a.next });
      k.pending = a.done ? undefined : ask(k);
    };
    await Promise.all(cursors.map(install));
    // a binary heap of the partitions with lines left, smallest next order first
    const key = (i: number) => cursors[i]!.order[cursors[i]!.at]!;
    const heap = cursors.flatMap((k, i) => (k.order.length ? [i] : []));
    const down = (from: number) => {
      let i = from;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) return;
        const r = l + 1;
        const m = r < heap.length && key(heap[r]!) < key(heap[l]!) ? r : l;
        if (key(heap[m]!) >= key(heap[i]!)) return;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    };
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    while (heap.length) {
      const k = cursors[heap[0]!]!;
      lines.next();
      out.bytes(k.bytes, k.at === 0 ? 0 : k.ends[k.at - 1]!, k.ends[k.at]!);
      k.at++;
      if (out.n >= CHUNK) yield out.take();
      if (k.at >= k.order.length) {
        while (k.at >= k.order.length && !k.done) await install(k);
        if (k.at >= k.order.length) {
          heap[0] = heap[heap.length - 1]!;
          heap.pop();
        }
      }
      down(0);
    }
  }

  return {
    errors,
    stats,
    threads: n,
    get sources() {
      return specs.map((s, i) => ({ name: s.name, role: s.role, keys: sizes[i]! }));
    },
    get keys() {
      return keys;
    },
    async reconcile(options, pace) {
      const safetyStock = typeof options.safetyStock === 'number' ? options.safetyStock : (options.safetyValues ?? []);
      const parts = (await all(threads.map((t) => t.call<{ summary: Summary; rawValue: Partial<Record<DriftClass, number>>; count: number; keys: number; sizes: number[] }[]>('reconcile', { safetyStock, tolerance: options.tolerance, keepOk: options.keepOk })))).flat();
      sizes = specs.map((_, i) => parts.reduce((sum, p) => sum + p.sizes[i]!, 0));
      keys = parts.reduce((sum, p) => sum + p.keys, 0);
      const summary = mergeSummaries(parts, sourceNames);
      const count = parts.reduce((sum, p) => sum + p.count, 0);
      const negatives = async () => {
        const got = (await all(threads.map((t) => t.call<{ rows: ResultRow[]; order: number[] }[]>('negatives', {})))).flat();
        const heads = got.map((g) => ({ ...g, at: 0 }));
        const rows: ResultRow[] = [];
        const merge = new RunMerge(heads);
        for (let b = merge.take(); b >= 0; b = merge.take()) rows.push(heads[b]!.rows[heads[b]!.at - 1]!);
        return rows;
      };
      return {
        summary,
        count,
        async topPaced(k) {
          const candidates = (await all(threads.map((t) => t.call<Keyed<ResultRow>[]>('top', { k })))).flat();
          candidates.sort((a, b) => bySeverityFast(a.value, b.value) || a.group - b.group || a.order - b.order);
          return candidates.slice(0, k).map((c) => c.value);
        },
        async rowsPaced(p) {
          const rows = await negatives();
          const channelNames = specs.filter((s) => s.role === 'channel').map((s) => s.name);
          for (let c = 0; c < channels; c++) {
            // a channel at a time, as columns (row objects are made here: much cheaper than sending them)
            const got = (await all(threads.map((t) => t.call<{ partition: number; columns: RowColumns }[]>('columns', { c })))).flat();
            const runs = got.map((g) => ({ cols: g.columns, order: g.columns.order, at: 0 }));
            let made = 0;
            const merge = new RunMerge(runs);
            for (let b = merge.take(); b >= 0; b = merge.take()) {
              const run = runs[b]!;
              rows.push(rowOf(run.cols, run.at - 1, channelNames[c]!));
              if ((++made & 0xffff) === 0 && p.due()) await p.turn();
            }
          }
          return sortPaced(rows, bySeverityFast, p);
        },
        async *chunks(format, p) {
          const out = new ByteWriter(2 * CHUNK);
          const lines = new LineJoiner(format, out);
          const negs = (await all(threads.map((t) => t.call<{ partition: number; bytes: Uint8Array; ends: number[]; order: number[] }[]>('negatives', { format })))).flat();
          const heads = negs.map((g) => ({ ...g, at: 0 }));
          const merge = new RunMerge(heads);
          for (let b = merge.take(); b >= 0; b = merge.take()) {
            const h = heads[b]!;
            const at = h.at - 1;
            lines.next();
            out.bytes(h.bytes, at === 0 ? 0 : h.ends[at - 1]!, h.ends[at]!);
          }
          for (let r = 0; r < CLASSES.length; r++) {
            if (CLASSES[r] === 'negative') continue;
            for (let c = 0; c < channels; c++) {
              for await (const chunk of mergedLines(format, r, c, lines, out)) {
                p?.check();
                yield chunk;
              }
            }
          }
          lines.end();
          yield out.take();
        },
      };
    },
    async close() {
      await Promise.all(threads.map((t) => t.stop()));
    },
  };
}
