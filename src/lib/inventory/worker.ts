/**
 * One thread of the parallel engine (parallel.ts starts them): reads the parts of files it is given,
 * routing rows to partitions, then ingests, reconciles and gives the results of the partitions it
 * owns. Messages are `{ id, op, args }`; every answer is `{ id, ok, value | error }`.
 */
import { createReadStream } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ByteWriter } from '../io/bytes.js';
import { RetailctlError } from '../errors.js';
import { DelimitedError } from './delimited.js';
import { openInput } from './files.js';
import type { FileStats } from './freshness.js';
import { batchBuffers, columnBuffers, Partition, Router, type Batch, type BatchOrigin } from './partition.js';
import { readError, readFile, type FileRange, type SourceSpec } from './read.js';
import type { RowFormat } from './reconcile.js';

/** What every thread is told first. */
export interface WorkerInit {
  thread: number;
  threads: number;
  partitions: number;
  specs: readonly SourceSpec[];
  duplicates: 'error' | 'sum';
  now: number;
  cwd: string;
  /** Keys each partition should expect (a guess from the inputs' sizes). */
  expectedKeys: number;
  /** Set to 1 by the main thread when the run ends or stops: long steps end at their next batch or chunk. */
  stop: Int32Array;
}

/** A part of a file to read: a byte range after its header, or (no `range`) the whole file. */
export interface Segment {
  index: number;
  source: number;
  file: string;
  shown: string;
  format: 'csv' | 'tsv';
  range?: { start: number; end: number; index: Record<string, number> };
}

/** A RetailctlError (or any error) as it crosses between threads. */
export interface ErrorData {
  code?: string;
  message: string;
  options?: { exitCode?: number; hint?: string; details?: string[]; locations?: unknown[] };
  stack?: string;
}

export function errorData(err: unknown): ErrorData {
  if (err instanceof RetailctlError) return { code: err.code, message: err.message, options: { exitCode: err.exitCode, hint: err.hint, details: err.details, locations: err.locations } };
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, stack: e.stack };
}

export interface SegmentResult {
  index: number;
  /** One batch per partition. */
  batches: Batch[];
  errors: { source: string; file: string; line: number; reason: string }[];
  rows: number;
  asOf?: number;
  modified?: number;
  nextLine: number;
  /** A malformed line in a range (the caller reads the file again whole: a cut inside quotes, or a real error). */
  malformed?: { reason: string; line: number };
  failed?: ErrorData;
}

let init: WorkerInit;
let router: Router;

/** Throws once the main thread has set the stop flag (checked between chunks and batches). */
const stopCheck = {
  throwIfAborted(): void {
    if (Atomics.load(init.stop, 0) === 1) throw new Error('stopped');
  },
};
const partitions = new Map<number, Partition>();

async function parse(seg: Segment): Promise<SegmentResult> {
  const spec = init.specs[seg.source]!;
  const input = { file: seg.file, shown: seg.shown };
  const stats: FileStats = { shown: seg.shown, rows: 0 };
  const range: FileRange | undefined = seg.range ? { index: seg.range.index, firstLine: 1, nextLine: 1 } : undefined;
  router.begin(seg.range ? seg.range.end - seg.range.start : 1 << 20, spec.columns.price !== undefined);
  const result: SegmentResult = { index: seg.index, batches: [], errors: [], rows: 0, nextLine: 1 };
  try {
    let stream;
    if (seg.range) stream = createReadStream(seg.file, { start: seg.range.start, end: seg.range.end - 1, highWaterMark: 1 << 20 });
    else {
      const opened = await openInput(spec.name, input, { resolve: (p) => p, cwd: init.cwd });
      stream = opened.stream;
      if (opened.modified) result.modified = opened.modified.getTime();
    }
    await readFile(spec, input, stream, stats, router, seg.format, init.now, stopCheck as unknown as AbortSignal, range);
  } catch (err) {
    if (range && err instanceof DelimitedError) result.malformed = { reason: err.reason, line: err.line };
    else result.failed = errorData(readError(spec, input, err));
  }
  result.batches = router.end();
  result.errors = router.errors;
  result.rows = stats.rows;
  if (stats.asOf) result.asOf = stats.asOf.getTime();
  if (range) result.nextLine = range.nextLine;
  return result;
}

type Ops = Record<string, (args: never) => unknown>;

const ops = {
  init(args: WorkerInit) {
    init = args;
    router = new Router(args.partitions);
    for (let p = args.thread; p < args.partitions; p += args.threads) partitions.set(p, new Partition(args.specs, args.duplicates, args.expectedKeys));
  },

  async parse(args: { segments: Segment[] }) {
    const results: SegmentResult[] = [];
    for (const seg of args.segments) results.push(await parse(seg));
    const transfer = results.flatMap((r) => r.batches.flatMap(batchBuffers));
    return { value: { results, locations: [...router.locations] }, transfer };
  },

  ingest(args: { items: { partition: number; batch: Batch; origin: BatchOrigin }[]; locations: { sender: number; names: string[] }[] }) {
    for (const p of partitions.values()) for (const l of args.locations) p.locations(l.sender, l.names);
    // each batch let go once taken in: a source's rows are hundreds of MB at tens of millions of rows
    const items = args.items as ({ partition: number; batch: Batch; origin: BatchOrigin } | undefined)[];
    for (let i = 0; i < items.length; i++) {
      stopCheck.throwIfAborted();
      const item = items[i]!;
      items[i] = undefined;
      partitions.get(item.partition)!.ingest(item.batch, item.origin);
    }
    // the bad rows found (duplicates), taken from the partitions
    return [...partitions.values()].flatMap((p) => p.errors.splice(0));
  },

  reconcile(args: { safetyStock: number | [string, number][]; tolerance: number; keepOk: boolean }) {
    const values = typeof args.safetyStock === 'number' ? undefined : new Map(args.safetyStock);
    const safetyStock = values ? (sku: string) => values.get(sku) ?? 0 : (args.safetyStock as number);
    return [...partitions.entries()].map(([p, part]) => {
      const r = part.reconcile({ safetyStock, tolerance: args.tolerance, keepOk: args.keepOk });
      return { partition: p, summary: r.summary, rawValue: r.parts.rawValue, count: r.count, keys: part.store.keys.size, sizes: part.store.sources.map((s) => s.size) };
    });
  },

  top(args: { k: number }) {
    return [...partitions.values()].flatMap((p) => p.top(args.k));
  },

  negatives(args: { format?: RowFormat }) {
    return [...partitions.entries()].map(([p, part]) => {
      if (!args.format) return { partition: p, ...part.negatives() };
      const out = new ByteWriter(1 << 12);
      const { ends, order } = part.negativeLines(args.format, out);
      return { partition: p, bytes: out.take(), ends, order };
    });
  },

  lines(args: { format: RowFormat; rank: number; c: number; cursors: { partition: number; from: number }[]; maxBytes: number }) {
    const value = args.cursors.map(({ partition, from }) => {
      const out = new ByteWriter(args.maxBytes + 4096);
      const r = partitions.get(partition)!.lines(args.format, args.rank, args.c, from, args.maxBytes, out);
      return { partition, bytes: out.take(), ...r };
    });
    return { value, transfer: value.map((v) => v.bytes.buffer as ArrayBuffer) };
  },

  /** The run is over (or stopped): this thread ends after the step it was doing. */
  exit() {
    process.exit(0);
  },

  columns(args: { c: number }) {
    const value = [...partitions.entries()].map(([partition, part]) => ({ partition, columns: part.columns(args.c) }));
    return { value, transfer: value.flatMap((v) => columnBuffers(v.columns)) };
  },
} satisfies Ops;


/** One message at a time, in the order sent: a read that awaits its file never interleaves with the next. */
let queue: Promise<void> = Promise.resolve();

parentPort?.on('message', (msg: { id: number; op: keyof typeof ops; args: never }) => {
  queue = queue.then(async () => {
    try {
      const out: unknown = await (ops[msg.op] as (a: never) => unknown)(msg.args);
      const sent = out as { value: unknown; transfer: ArrayBuffer[] };
      if (out && typeof out === 'object' && 'transfer' in out) parentPort!.postMessage({ id: msg.id, ok: true, value: sent.value }, sent.transfer);
      else parentPort!.postMessage({ id: msg.id, ok: true, value: out });
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, ok: false, error: errorData(err) });
    }
  });
});
