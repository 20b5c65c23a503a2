/**
 * Executes a migration plan: reads each image once (streamed twice above SMALL_FILE), hashes it,
 * settles `check` items against what S3 holds, sniffs the Content-Type, uploads, and journals.
 * Bounded concurrency that halves on SlowDown and climbs back one step at a time; a failed item is
 * recorded with its reason and the rest continue (exit 4 at the end).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFile as readFileCallback, readFileSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { detectContentType, SNIFF_BYTES } from './content.js';
import { ReadThreads } from './read-threads.js';
import type { JournalWriter } from './journal.js';
import { fileOf } from './source.js';
import type { JournalEntry, PlanItem } from './plan.js';
import type { LeanS3 } from '../aws/lean-s3.js';
import type { CircuitBreaker } from '../util/retry.js';
import { sleep } from '../util/sleep.js';

/** Files up to this size are read into memory once; bigger ones are streamed (hash pass + upload). */
export const SMALL_FILE = 4 * 1024 * 1024;
/** Above this size uploads go multipart (@aws-sdk/lib-storage), in parts of this size. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const PART_SIZE = 16 * 1024 * 1024;
/** A worker's reusable read buffer: one allocation per worker instead of one per file (less GC). */
interface Scratch {
  buf: Buffer;
  /** The body a reader thread read for the item in hand: given back when the item is done. */
  threadBody?: Buffer;
}

function readKnownSize(file: string, size: number, scratch: Scratch): Buffer {
  const fd = openSync(file, 'r');
  try {
    if (scratch.buf.length < size + 1) scratch.buf = Buffer.allocUnsafeSlow(Math.max(size + 1, 2 * scratch.buf.length));
    const buf = scratch.buf;
    let got = 0;
    for (let n = 1; n > 0 && got <= size; got += n) n = readSync(fd, buf, got, size + 1 - got, got);
    if (got === size) return buf.subarray(0, size);
  } finally {
    closeSync(fd);
  }
  return readFileSync(file); // the size changed since the walk
}

/**
 * Reads small files whole. From a local disk's page cache a synchronous read costs ~25 µs of CPU,
 * a third of an asynchronous one (measured); but on a slow disk or a network mount it would stall
 * every upload in flight. So reads start synchronous and switch to asynchronous for the rest of the
 * run as soon as they average more than 2 ms.
 */
class SmallFileReader {
  #sync = true;
  #avgMs = 0;
  /** `size` from the walk's stat saves an fstat per file; a file that changed size since is read again whole. */
  read(file: string, size: number, scratch: Scratch): Promise<Buffer> {
    if (this.#sync) {
      const started = performance.now();
      const data = readKnownSize(file, size, scratch);
      this.#avgMs = this.#avgMs * 0.9 + (performance.now() - started) * 0.1;
      if (this.#avgMs > 2) this.#sync = false;
      return Promise.resolve(data);
    }
    return new Promise((resolve, reject) => readFileCallback(file, (err, data) => (err ? reject(err) : resolve(data))));
  }
}

/** Largest image taken from an http(s) origin (held in memory while it is uploaded). */
const MAX_REMOTE_BYTES = 64 * 1024 * 1024;

/** `planned`: a dry run's answer for an object that would be uploaded; `empty`: a 0-byte image, not uploaded. */
export type ItemStatus = 'uploaded' | 'skipped' | 'failed' | 'missing' | 'empty' | 'planned';

/** Why a 0-byte image is not uploaded (manifest and --json). */
export const EMPTY_REASON = 'empty file (0 bytes): not uploaded';

export interface ItemResult {
  item: PlanItem;
  status: ItemStatus;
  /** Why skipped / failed / missing. */
  reason?: string;
  size?: number;
  sha256?: string;
  contentType?: string;
  etag?: string;
  /** A content-type mismatch and the like (reported, not failed). */
  warning?: string;
  /** An existing object was overwritten (for the CloudFront invalidation). */
  replaced?: boolean;
}

export interface ExecuteOptions {
  /** Absent in a dry run. */
  putter?: LeanS3;
  /** An s3:// source's bucket, read-only: the first bytes of each object, for its Content-Type. */
  sourceReader?: LeanS3;
  /** Decide `check` items (read-only: hashes and listings, HEAD at most) and upload nothing. */
  dryRun?: boolean;
  /** Writing S3 client: multipart uploads, and HEAD for `check` items whose ETag is not an MD5. */
  s3: () => Promise<S3Client>;
  bucket: string;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  concurrency: number;
  journal?: JournalWriter;
  /** Reader threads for small local files (RETAILCTL_READ_THREADS; default 0: the main thread reads). */
  readThreads?: number;
  /** Ctrl-C: the run is interrupted (executePlan throws its reason). */
  signal?: AbortSignal;
  /**
   * Stop starting items, let those in flight end, and return what was done (the S3 endpoint is
   * lost, or the run's lock is): the caller reports it. Items never started have no result.
   */
  halt?: AbortSignal;
  onItem?: (result: ItemResult) => void;
  /** Fetch for http(s) sources (tests pass their own). */
  fetch?: typeof fetch;
  /** Lower the number of requests in flight; the putter calls it on SlowDown. */
  gate: Gate;
  /**
   * Before every write of a multipart upload (CreateMultipartUpload, each UploadPart, the
   * CompleteMultipartUpload): see LeanS3Options.beforeWrite (the putter checks its own writes).
   */
  beforeWrite?: () => Promise<void> | undefined;
  /** The run's breaker: multipart requests count as successes, failures and requests in flight like the putter's. */
  breaker?: CircuitBreaker;
  /** The longest a CompleteMultipartUpload may live (see MigrationLock.maxRequestMs); it is aborted past it. */
  maxWriteMs?: number;
  /**
   * A reviewed plan: every write is conditional on the object the plan saw (`If-None-Match: *` for
   * a key planned absent, `If-Match: <etag>` for one planned replaced); a 412 fails that item as
   * changed since the plan was made, never retried unconditionally.
   */
  conditional?: boolean;
  /** An s3:// source: objects above `single` bytes are copied in parts of `part` bytes (UploadPartCopy); default 5 GiB and 512 MiB. */
  copyLimits?: { single: number; part: number };
}

/** The condition of a reviewed plan's write of `item`: only over the object the plan saw. */
export function writeCondition(item: PlanItem): { ifNoneMatch: '*' } | { ifMatch: string } {
  return item.existing ? { ifMatch: item.existing.etag } : { ifNoneMatch: '*' };
}

/** A conditional write S3 refused: the object is not the one the plan saw (412, 409 on a race, 404 for If-Match on a deleted key). */
function conditionFailed(err: unknown): boolean {
  const e = err as { status?: number; code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.status ?? e.$metadata?.httpStatusCode;
  return status === 412 || e.code === 'PreconditionFailed' || e.name === 'PreconditionFailed' || e.code === 'ConditionalRequestConflict' || e.code === 'NoSuchKey' || e.name === 'NoSuchKey';
}

/** An upload refused before it was sent (the run's lock is no longer known valid): no result. */
function notStarted(err: unknown): boolean {
  return Boolean((err as { notStarted?: boolean } | undefined)?.notStarted);
}

/** Requests in flight: halves on throttling, grows back by one per `limit` successes. */
export class Gate {
  limit: number;
  #successes = 0;
  #waiters: (() => void)[] = [];
  throttled = 0;
  constructor(readonly max: number) {
    this.limit = max;
  }
  throttle(): void {
    this.throttled++;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.#successes = 0;
  }
  success(): void {
    if (this.limit >= this.max) return;
    if (++this.#successes >= this.limit) {
      this.#successes = 0;
      this.limit++;
      this.#waiters.shift()?.();
    }
  }
  /** Worker `index` may start an item (waits while the limit is below it, unless `done()`). */
  async enter(index: number, done: () => boolean): Promise<void> {
    while (index >= this.limit && !done()) await new Promise<void>((r) => this.#waiters.push(r));
  }
  wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

interface Loaded {
  /** Whole body (small files, remote images) or a stream factory. */
  body: Buffer | (() => Readable);
  size: number;
  sha256: Buffer;
  md5?: string;
  head: Uint8Array;
  mtimeMs?: number;
  originEtag?: string;
  originModified?: string;
}

/** SHA-256 (and MD5 when asked) of a whole body, and the bytes the type sniffer reads. */
function digest(body: Buffer, wantMd5: boolean): { sha256: Buffer; md5?: string; head: Uint8Array } {
  return { sha256: createHash('sha256').update(body).digest(), ...(wantMd5 ? { md5: createHash('md5').update(body).digest('hex') } : {}), head: body.subarray(0, SNIFF_BYTES) };
}

/** The same for a file too big to hold: one streamed pass. */
export async function hashStream(file: string, wantMd5: boolean): Promise<{ sha256: Buffer; md5?: string; head: Buffer; size: number }> {
  const sha = createHash('sha256');
  const md5 = wantMd5 ? createHash('md5') : undefined;
  let size = 0;
  const headParts: Buffer[] = [];
  let headLen = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    sha.update(chunk);
    md5?.update(chunk);
    size += chunk.length;
    if (headLen < SNIFF_BYTES) {
      headParts.push(chunk.subarray(0, SNIFF_BYTES - headLen));
      headLen += Math.min(chunk.length, SNIFF_BYTES - headLen);
    }
  }
  return { sha256: sha.digest(), ...(md5 ? { md5: md5.digest('hex') } : {}), head: Buffer.concat(headParts), size };
}

/** MD5 of a body as S3 reports a single-part ETag: the only ETag a local file can be compared with. */
function plainMd5Etag(etag: string): boolean {
  return /^[0-9a-f]{32}$/.test(etag);
}

interface Remote {
  body: Buffer;
  originEtag?: string;
  originModified?: string;
}

/**
 * GET an origin image (the only method ever sent to an origin). With validators from the journal
 * the GET is conditional, and `unchanged` comes back on 304 Not Modified without a body.
 */
async function fetchRemote(url: string, doFetch: typeof fetch, signal: AbortSignal | undefined, known?: JournalEntry): Promise<Remote | 'missing' | 'unchanged'> {
  let lastError: unknown;
  const headers: Record<string, string> = {};
  if (known?.originEtag) headers['if-none-match'] = known.originEtag;
  if (known?.originModified) headers['if-modified-since'] = known.originModified;
  for (let attempt = 1; attempt <= 4; attempt++) {
    try {
      const res = await doFetch(url, { method: 'GET', headers, redirect: 'follow', signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(60_000)]) : AbortSignal.timeout(60_000) });
      if (res.status === 304 && known) {
        await res.body?.cancel();
        return 'unchanged';
      }
      if (res.status === 404 || res.status === 410) return 'missing';
      if (res.status >= 500 || res.status === 429) throw new Error(`HTTP ${res.status} from the origin`);
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status} from the origin`), { final: true });
      const declared = Number(res.headers.get('content-length') ?? 0);
      if (declared > MAX_REMOTE_BYTES) throw Object.assign(new Error(`${declared} bytes: larger than ${MAX_REMOTE_BYTES / 1024 / 1024} MiB; download it and migrate from a directory`), { final: true });
      const body = Buffer.from(await res.arrayBuffer());
      const originEtag = res.headers.get('etag') ?? undefined;
      const originModified = res.headers.get('last-modified') ?? undefined;
      return { body, ...(originEtag ? { originEtag } : {}), ...(originModified ? { originModified } : {}) };
    } catch (err) {
      if (signal?.aborted || (err as { final?: boolean }).final) throw err;
      lastError = err;
      await sleep(200 * 2 ** attempt * Math.random(), signal);
    }
  }
  throw lastError;
}

const STATUSES: ItemStatus[] = ['uploaded', 'skipped', 'failed', 'missing', 'planned', 'empty'];

/**
 * Every item's outcome, kept compactly (typed arrays, the digest as 32 bytes): a result object per
 * image for 100,000 images was most of the live heap, and V8 lets the heap grow to a multiple of
 * what is live. Results are rebuilt as objects one at a time when read (manifest, redirects).
 */
export class ResultStore implements Iterable<ItemResult> {
  readonly #items: PlanItem[];
  readonly #status: Uint8Array;
  readonly #size: Float64Array;
  readonly #sha: Uint8Array;
  readonly #etag: (string | undefined)[];
  readonly #type: Uint16Array;
  readonly #types: string[] = [''];
  readonly #typeIds = new Map<string, number>();
  readonly #replaced: Uint8Array;
  readonly #reason = new Map<number, string>();
  readonly #warning = new Map<number, string>();

  constructor(items: PlanItem[]) {
    const n = items.length;
    this.#items = items;
    this.#status = new Uint8Array(n);
    this.#size = new Float64Array(n).fill(Number.NaN);
    this.#sha = new Uint8Array(n * 32);
    this.#etag = new Array<string | undefined>(n);
    this.#type = new Uint16Array(n);
    this.#replaced = new Uint8Array(n);
  }

  set(i: number, r: ItemResult): void {
    this.#status[i] = STATUSES.indexOf(r.status) + 1;
    if (r.size !== undefined) this.#size[i] = r.size;
    if (r.sha256) this.#sha.set(Buffer.from(r.sha256, 'hex'), i * 32);
    if (r.etag) this.#etag[i] = r.etag;
    if (r.contentType) {
      let id = this.#typeIds.get(r.contentType);
      if (id === undefined && this.#types.length < 65535) {
        id = this.#types.push(r.contentType) - 1;
        this.#typeIds.set(r.contentType, id);
      }
      this.#type[i] = id ?? 0;
    }
    if (r.replaced) this.#replaced[i] = 1;
    if (r.reason) this.#reason.set(i, r.reason);
    if (r.warning) this.#warning.set(i, r.warning);
  }

  /** Item `i`'s result (undefined when it never ran: an interrupted run). */
  get(i: number): ItemResult | undefined {
    const status = this.#status[i]!;
    if (!status) return undefined;
    const r: ItemResult = { item: this.#items[i]!, status: STATUSES[status - 1]! };
    if (!Number.isNaN(this.#size[i]!)) r.size = this.#size[i]!;
    const sha = this.#sha.subarray(i * 32, i * 32 + 32);
    if (sha.some((b) => b !== 0)) r.sha256 = Buffer.from(sha).toString('hex');
    if (this.#etag[i]) r.etag = this.#etag[i]!;
    if (this.#type[i]) r.contentType = this.#types[this.#type[i]!]!;
    if (this.#replaced[i]) r.replaced = true;
    if (this.#reason.has(i)) r.reason = this.#reason.get(i)!;
    if (this.#warning.has(i)) r.warning = this.#warning.get(i)!;
    return r;
  }

  *[Symbol.iterator](): Iterator<ItemResult> {
    for (let i = 0; i < this.#items.length; i++) {
      const r = this.get(i);
      if (r) yield r;
    }
  }
}

/**
 * Reader threads for the run's small local files (read-threads.ts), when asked for
 * (RETAILCTL_READ_THREADS=N). Not by default: on the 2-core reference machine, where the S3
 * endpoint's process shares the cores, four benchmark runs put them level with reading on the main
 * thread (median 908 against 923 objects/s); they are for reads that are slow (a network mount) or
 * cores that are idle.
 */
function startReadThreads(items: PlanItem[], requested: number | undefined): ReadThreads | undefined {
  if (!requested) return undefined;
  const local = items.some((i) => !i.image.url && !i.image.s3 && (i.action === 'upload' || i.action === 'replace' || i.action === 'check') && (i.image.size ?? 0) <= SMALL_FILE);
  return local ? ReadThreads.start(requested) : undefined;
}

/** The result of an item that needs no write (unchanged, empty), as every engine reports it. */
export function settledResult(item: PlanItem): ItemResult | undefined {
  if (item.action === 'skip') return item.known ? fromJournal(item, item.known, 'unchanged') : { item, status: 'skipped', reason: 'unchanged', ...(item.image.size !== undefined ? { size: item.image.size } : {}) };
  if (item.action === 'empty') return { item, status: 'empty', reason: EMPTY_REASON, size: 0 };
  return undefined;
}

export async function executePlan(items: PlanItem[], options: ExecuteOptions): Promise<ResultStore> {
  const results = new ResultStore(items);
  let next = 0;
  const doFetch = options.fetch ?? fetch;
  const reader = new SmallFileReader();
  const threads = startReadThreads(items, options.readThreads);

  /** The body of a small file lives in the worker's scratch buffer until the item is done. */
  const load = async (item: PlanItem, wantMd5: boolean, scratch: Scratch): Promise<Loaded | 'missing' | 'unchanged'> => {
    const image = item.image;
    if (image.url) {
      const remote = await fetchRemote(image.url, doFetch, options.signal, item.action === 'check' ? item.known : undefined);
      if (remote === 'missing' || remote === 'unchanged') return remote;
      const { body, ...validators } = remote;
      return { body, size: body.length, ...digest(body, wantMd5), ...validators };
    }
    const file = fileOf(image);
    if ((image.size ?? 0) <= SMALL_FILE) {
      if (threads) {
        const read = await threads.read(file, image.size ?? 0, wantMd5);
        scratch.threadBody = read.body;
        return { body: read.body, size: read.body.length, sha256: read.sha256, ...(read.md5 ? { md5: read.md5 } : {}), head: read.body.subarray(0, SNIFF_BYTES), mtimeMs: image.mtimeMs };
      }
      const body = await reader.read(file, image.size ?? 0, scratch);
      return { body, size: body.length, ...digest(body, wantMd5), mtimeMs: image.mtimeMs };
    }
    const hashed = await hashStream(file, wantMd5);
    return { body: () => createReadStream(file, { highWaterMark: 1 << 20 }), ...hashed, mtimeMs: image.mtimeMs };
  };

  const processItem = async (item: PlanItem, scratch: Scratch): Promise<ItemResult> => {
    const settled = settledResult(item);
    if (settled) return settled;
    if (item.image.s3) return copyItem(item, options);
    if (options.dryRun && item.action !== 'check') return { item, status: 'planned', replaced: item.existing !== undefined };
    const existing = item.existing;
    const compareMd5 = item.action === 'check' && existing !== undefined && plainMd5Etag(existing.etag);
    let loaded: Loaded | 'missing' | 'unchanged';
    try {
      loaded = await load(item, compareMd5, scratch);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const e = err as NodeJS.ErrnoException;
      return { item, status: 'failed', reason: `cannot read ${item.image.url ?? item.image.path}: ${e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOENT' ? 'file disappeared' : e.message}` };
    }
    if (loaded === 'missing') return { item, status: 'missing', reason: 'not found on the origin (404)' };
    if (loaded === 'unchanged') return fromJournal(item, item.known!, 'unchanged (the origin answered 304 Not Modified)');
    // an origin answering with no body, or a file emptied since the walk
    if (loaded.size === 0) return { item, status: 'empty', reason: EMPTY_REASON, size: 0 };
    const sha256Hex = loaded.sha256.toString('hex');
    const { contentType, warning } = await detectContentType(item.image.path, loaded.head);

    let replacing = existing !== undefined;
    if (item.action === 'check' && existing) {
      let same = false;
      if (existing.size === loaded.size) {
        // an MD5 ETag proves it; anything else (multipart, SSE-KMS ETags, an object written by another
        // tool) is settled by the sha256 stored with the object
        same = compareMd5 && loaded.md5 === existing.etag;
        if (!same) {
          const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
          const head = await (await options.s3()).send(new HeadObjectCommand({ Bucket: options.bucket, Key: item.key }), { abortSignal: options.signal });
          same = head.Metadata?.sha256 === sha256Hex;
        }
      }
      if (same) {
        const result: ItemResult = { item, status: 'skipped', reason: 'unchanged', size: loaded.size, sha256: sha256Hex, contentType, etag: existing.etag, ...(warning ? { warning } : {}) };
        // remember it, so the next rerun does not have to read the file again
        options.journal?.append(journalEntry(item, loaded, sha256Hex, existing.etag, contentType));
        return result;
      }
      replacing = true;
    }
    if (options.dryRun || !options.putter) return { item, status: 'planned', replaced: replacing, size: loaded.size, sha256: sha256Hex, contentType };

    let etag: string;
    try {
      if (loaded.size > MULTIPART_THRESHOLD) {
        await options.beforeWrite?.();
        etag = await multipart(item, loaded, sha256Hex, contentType, options);
      } else {
        etag = await options.putter.put({ key: item.key, body: loaded.body, size: loaded.size, sha256: loaded.sha256, contentType, cacheControl: item.cacheControl, sse: options.sse, kmsKeyId: options.kmsKeyId, ...(options.conditional ? writeCondition(item) : {}) });
        options.gate.success();
      }
    } catch (err) {
      if (options.signal?.aborted || notStarted(err)) throw err;
      const e = err as Error & { code?: string };
      if (options.conditional && conditionFailed(err)) {
        return { item, status: 'failed', reason: `changed since the plan was made: s3://${options.bucket}/${item.key} is no longer ${item.existing ? `the object the plan saw (ETag ${item.existing.etag})` : 'absent'} (S3 refused the conditional write: ${e.message}); not written: make a fresh plan`, size: loaded.size, sha256: sha256Hex, contentType };
      }
      // S3 computed another checksum than the one signed and sent: the bytes changed between the hash and the upload
      const reason = e.code === 'XAmzContentSHA256Mismatch' || e.code === 'BadDigest' ? `S3 refused the body: its checksum did not match (${e.message}); the file changed while it was read, or the bytes were damaged on the way: rerun to upload it again` : e.message;
      return { item, status: 'failed', reason, size: loaded.size, sha256: sha256Hex, contentType };
    }
    options.journal?.append(journalEntry(item, loaded, sha256Hex, etag, contentType));
    return { item, status: 'uploaded', size: loaded.size, sha256: sha256Hex, contentType, etag, replaced: replacing, ...(warning ? { warning } : {}) };
  };

  const stopped = () => Boolean(options.signal?.aborted || options.halt?.aborted);
  const worker = async (index: number) => {
    const scratch: Scratch = { buf: Buffer.allocUnsafeSlow(256 * 1024) };
    for (;;) {
      if (index >= options.gate.limit) await options.gate.enter(index, () => next >= items.length || stopped());
      if (stopped()) return;
      const i = next++;
      if (i >= items.length) {
        options.gate.wakeAll(); // let parked workers see there is nothing left
        return;
      }
      let result: ItemResult;
      try {
        result = await processItem(items[i]!, scratch);
        // S3 took the body whole (or it was not sent): its buffer can be read into again; after a
        // failure a socket may still hold it, so it is left to the garbage collector
        if (scratch.threadBody && result.status !== 'failed') threads?.recycle(scratch.threadBody);
        scratch.threadBody = undefined;
      } catch (err) {
        scratch.threadBody = undefined;
        if (options.signal?.aborted || notStarted(err)) return;
        result = { item: items[i]!, status: 'failed', reason: (err as Error).message };
      }
      results.set(i, result);
      options.onItem?.(result);
    }
  };
  // workers parked by the gate must see the halt too
  options.halt?.addEventListener('abort', () => options.gate.wakeAll(), { once: true });
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, items.length)) }, (_, i) => worker(i)));
  } finally {
    threads?.close();
  }
  options.gate.wakeAll();
  options.signal?.throwIfAborted();
  return results;
}

/**
 * An image already in S3: settled by ETag (a single-part object copied keeps its MD5 ETag), typed
 * from its first 4 KB (a ranged GET, never the whole object), then copied server-side with the
 * metadata replaced. The copy is made only from the object as listed (`x-amz-copy-source-if-match`);
 * the SHA-256 comes from S3 (`x-amz-checksum-algorithm`), or from the source's own
 * `x-amz-meta-sha256`, which is then kept on the copy.
 */
async function copyItem(item: PlanItem, options: ExecuteOptions): Promise<ItemResult> {
  const source = item.image.s3!;
  const size = item.image.size ?? 0;
  const existing = item.existing;
  let replacing = existing !== undefined;
  if (item.action === 'check' && existing && existing.size === size) {
    // a copy of this very source object (its `source-etag`), or the same content (the same MD5 ETag,
    // with a SHA-256 known for the manifest): unchanged; anything else is copied again (server-side)
    const head = await destinationHead(item.key, options);
    const ours = head?.metadata['source-etag'] === source.etag;
    const sameMd5 = existing.etag === source.etag && plainMd5Etag(existing.etag) && head?.sha256 !== undefined;
    if (head && (ours || sameMd5)) {
      options.journal?.append({ key: item.key, source: item.image.path, size, sha256: head.sha256 ?? '', etag: existing.etag, contentType: head.contentType, originEtag: source.etag });
      return { item, status: 'skipped', reason: ours ? 'unchanged (a copy of this source object)' : 'unchanged (the same content as the source object: same MD5 ETag)', size, ...(head.sha256 ? { sha256: head.sha256 } : {}), ...(head.contentType ? { contentType: head.contentType } : {}), etag: existing.etag };
    }
  }
  if (item.action === 'check') replacing = true;
  if (options.dryRun || !options.putter) return { item, status: 'planned', replaced: replacing, size };
  if (!options.sourceReader) throw new Error('internal error: no reader for the s3:// source');
  let first: Awaited<ReturnType<LeanS3['getFirstBytes']>>;
  try {
    first = await options.sourceReader.getFirstBytes(source.key, SNIFF_BYTES, source.etag);
  } catch (err) {
    if (options.signal?.aborted) throw err;
    const e = err as { status?: number; code?: string; message: string };
    if (e.status === 412) return { item, status: 'failed', reason: changedSinceListed(source), size };
    return { item, status: 'failed', reason: `cannot read s3://${source.bucket}/${source.key}: ${e.message}`, size };
  }
  if (!first) return { item, status: 'missing', reason: `s3://${source.bucket}/${source.key} is gone since it was listed` };
  // encoded bytes (gzip, br) say nothing of the image: the type comes from the name then
  const encoding = first.headers.contentEncoding;
  const { contentType, warning } = encoding && !/^identity$/i.test(encoding)
    ? { contentType: (await detectContentType(item.image.path, new Uint8Array())).contentType, warning: undefined }
    : await detectContentType(item.image.path, first.body);
  const knownSha = /^[0-9a-f]{64}$/.test(first.metadata.sha256 ?? '') ? first.metadata.sha256 : undefined;
  const limits = options.copyLimits ?? { single: COPY_OBJECT_MAX, part: COPY_PART_SIZE };
  let copied: { etag: string; checksumSha256?: string };
  try {
    copied = size > limits.single ? await multipartCopy(item, contentType, knownSha, first.headers, limits.part, options) : await options.putter.copy({ key: item.key, source, contentType, cacheControl: item.cacheControl, sse: options.sse, ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}), ...(knownSha ? { sha256Hex: knownSha } : {}), ...first.headers, ...(options.conditional ? writeCondition(item) : {}) });
    options.gate.success();
  } catch (err) {
    if (options.signal?.aborted || notStarted(err)) throw err;
    const e = err as Error & { status?: number; $metadata?: { httpStatusCode?: number } };
    if (options.conditional && conditionFailed(err)) {
      return { item, status: 'failed', reason: `changed since the plan was made: s3://${options.bucket}/${item.key} is no longer ${item.existing ? `the object the plan saw (ETag ${item.existing.etag})` : 'absent'} (S3 refused the conditional copy: ${e.message}); not written: make a fresh plan`, size, contentType };
    }
    if ((e.status ?? e.$metadata?.httpStatusCode) === 412) return { item, status: 'failed', reason: changedSinceListed(source), size, contentType };
    return { item, status: 'failed', reason: e.message, size, contentType };
  }
  const sha256 = copied.checksumSha256 ? Buffer.from(copied.checksumSha256, 'base64').toString('hex') : (knownSha ?? '');
  options.journal?.append({ key: item.key, source: item.image.path, size, sha256, etag: copied.etag, contentType, originEtag: source.etag });
  return { item, status: 'uploaded', size, ...(sha256 ? { sha256 } : {}), contentType, etag: copied.etag, replaced: replacing, ...(warning ? { warning } : {}) };
}

/** Why a source object was not copied: it is no longer the object that was listed (the copy's precondition, or the ranged GET's). */
function changedSinceListed(source: { bucket: string; key: string; etag: string }): string {
  return `s3://${source.bucket}/${source.key} changed since it was listed (its ETag is no longer ${source.etag}): not copied; rerun to copy it as it is now`;
}

/** A destination object's SHA-256 (S3's whole-object checksum, else `x-amz-meta-sha256`), type and metadata; undefined when gone. */
async function destinationHead(key: string, options: ExecuteOptions): Promise<{ sha256?: string; contentType: string; metadata: Record<string, string> } | undefined> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const head = await (await options.s3()).send(new HeadObjectCommand({ Bucket: options.bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: options.signal });
    const sha256 = sha256Of(head);
    return { ...(sha256 ? { sha256 } : {}), contentType: head.ContentType ?? '', metadata: head.Metadata ?? {} };
  } catch (err) {
    if (options.signal?.aborted) throw err;
    if ((err as { name?: string }).name === 'NotFound' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

/** From a HeadObject answer: the whole-object SHA-256 S3 stores, else the `sha256` metadata (hex). */
export function sha256Of(head: { ChecksumSHA256?: string | undefined; ChecksumType?: string | undefined; Metadata?: Record<string, string> | undefined }): string | undefined {
  const stored = head.ChecksumSHA256 && !head.ChecksumSHA256.includes('-') && head.ChecksumType !== 'COMPOSITE' ? Buffer.from(head.ChecksumSHA256, 'base64').toString('hex') : undefined;
  const meta = head.Metadata?.sha256;
  return meta && /^[0-9a-f]{64}$/.test(meta) ? meta : stored?.length === 64 ? stored : undefined;
}

/** The largest object one CopyObject copies. */
export const COPY_OBJECT_MAX = 5 * 1024 ** 3;
/** The part of a multipart copy (UploadPartCopy): 512 MiB, more for objects past 10,000 of them. */
export const COPY_PART_SIZE = 512 * 1024 ** 2;

/** Pure: the byte ranges of a multipart copy, at least `part` bytes each (but the last), at most 10,000 of them. */
export function copyRanges(size: number, part: number): { first: number; last: number }[] {
  const step = Math.max(part, Math.ceil(size / 10_000));
  const out: { first: number; last: number }[] = [];
  for (let first = 0; first < size; first += step) out.push({ first, last: Math.min(size, first + step) - 1 });
  return out;
}

/**
 * An object above one CopyObject's limit: CreateMultipartUpload with the new metadata, an
 * UploadPartCopy per range (each conditional on the listed ETag), CompleteMultipartUpload (with the
 * plan's condition when reviewed). Any failure aborts the upload; a killed run's is aborted by the
 * next, as for uploads. The SHA-256 S3 keeps for parts is per part, so the manifest has one only
 * when the source carries its own.
 */
async function multipartCopy(item: PlanItem, contentType: string, knownSha: string | undefined, kept: { contentEncoding?: string; contentDisposition?: string; contentLanguage?: string }, part: number, options: ExecuteOptions): Promise<{ etag: string }> {
  const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCopyCommand } = await import('@aws-sdk/client-s3');
  const source = item.image.s3!;
  const raw = await options.s3();
  const condition = options.conditional ? writeCondition(item) : undefined;
  const client = guardedClient(raw, options, options.halt, condition);
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: options.bucket,
      Key: item.key,
      ContentType: contentType,
      CacheControl: item.cacheControl,
      ...(kept.contentEncoding ? { ContentEncoding: kept.contentEncoding } : {}),
      ...(kept.contentDisposition ? { ContentDisposition: kept.contentDisposition } : {}),
      ...(kept.contentLanguage ? { ContentLanguage: kept.contentLanguage } : {}),
      ServerSideEncryption: options.sse,
      ...(options.sse === 'aws:kms' && options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
      Metadata: { 'source-etag': source.etag, ...(knownSha ? { sha256: knownSha } : {}) },
    }),
    { abortSignal: options.signal },
  );
  const uploadId = created.UploadId!;
  try {
    const copySource = `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`;
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (const [i, range] of copyRanges(item.image.size ?? 0, part).entries()) {
      const res = await client.send(new UploadPartCopyCommand({ Bucket: options.bucket, Key: item.key, UploadId: uploadId, PartNumber: i + 1, CopySource: copySource, CopySourceRange: `bytes=${range.first}-${range.last}`, CopySourceIfMatch: `"${source.etag}"` }), { abortSignal: options.signal });
      parts.push({ PartNumber: i + 1, ETag: res.CopyPartResult!.ETag! });
    }
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket: options.bucket, Key: item.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal: options.signal });
    return { etag: String(done.ETag ?? '').replace(/"/g, '') };
  } catch (err) {
    await raw.send(new AbortMultipartUploadCommand({ Bucket: options.bucket, Key: item.key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(ABORT_MS) }).catch(() => {});
    throw err;
  }
}

/** A skipped item, described from what the journal recorded when it was uploaded. */
function fromJournal(item: PlanItem, known: JournalEntry, reason: string): ItemResult {
  return { item, status: 'skipped', reason, size: known.size, sha256: known.sha256, contentType: known.contentType, etag: known.etag };
}

function journalEntry(item: PlanItem, loaded: Loaded, sha256: string, etag: string, contentType: string): JournalEntry {
  return {
    key: item.key,
    source: item.image.path,
    size: loaded.size,
    ...(loaded.mtimeMs !== undefined ? { mtimeMs: loaded.mtimeMs } : {}),
    sha256,
    etag,
    contentType,
    ...(loaded.originEtag ? { originEtag: loaded.originEtag } : {}),
    ...(loaded.originModified ? { originModified: loaded.originModified } : {}),
  };
}

/** The multipart requests that write (AbortMultipartUpload only deletes parts: it is always let through). */
const MULTIPART_WRITES = new Set(['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCopyCommand', 'CompleteMultipartUploadCommand', 'PutObjectCommand']);
/** How long the AbortMultipartUpload of a halted upload may take. */
const ABORT_MS = 5000;

/** An SDK failure that says the endpoint may be gone (no answer, or a 5xx other than SlowDown). */
function outage(err: unknown): boolean {
  const e = err as { aws?: { name?: string; httpStatus?: number }; $metadata?: { httpStatusCode?: number }; name?: string };
  const status = e.aws?.httpStatus ?? e.$metadata?.httpStatusCode;
  const name = e.aws?.name ?? e.name ?? '';
  if (/SlowDown|Throttl/.test(name) || status === 429) return false;
  return status === undefined || status >= 500;
}

/**
 * What lib-storage gets as its client: each write is sent only once the run's lock allows it
 * (`beforeWrite`), every request counts in the run's breaker, a CompleteMultipartUpload lives at most
 * `maxWriteMs`, and everything in flight is abandoned when the run halts (lock lost, breaker tripped).
 */
function guardedClient(client: S3Client, options: ExecuteOptions, halt: AbortSignal | undefined, condition?: { ifNoneMatch: '*' } | { ifMatch: string }): S3Client {
  const send = async (command: { constructor: { name: string }; input?: Record<string, unknown> }, sendOptions?: { abortSignal?: AbortSignal }): Promise<unknown> => {
    const op = command.constructor.name;
    const writes = MULTIPART_WRITES.has(op);
    // the write that makes the object visible carries the plan's condition (moto ignores If-Match on
    // CompleteMultipartUpload, S3 honours it: sent all the same)
    if (condition && command.input && (op === 'CompleteMultipartUploadCommand' || op === 'PutObjectCommand')) {
      if ('ifMatch' in condition) command.input.IfMatch = `"${condition.ifMatch}"`;
      else command.input.IfNoneMatch = condition.ifNoneMatch;
    }
    if (writes) {
      const wait = options.beforeWrite?.();
      if (wait) await wait;
      if (halt?.aborted) throw Object.assign(new Error(`${op.replace(/Command$/, '')} not sent: the run is stopping`), { notStarted: true });
    }
    const signals: AbortSignal[] = [];
    if (sendOptions?.abortSignal) signals.push(sendOptions.abortSignal);
    if (op === 'AbortMultipartUploadCommand') signals.push(AbortSignal.timeout(ABORT_MS));
    else if (halt) signals.push(halt);
    const lifetime = writes && op !== 'UploadPartCommand' && options.maxWriteMs ? AbortSignal.timeout(options.maxWriteMs) : undefined;
    if (lifetime) signals.push(lifetime);
    const breaker = options.breaker;
    breaker?.begin();
    try {
      const out = await client.send(command as never, signals.length ? { abortSignal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) } : {});
      breaker?.success();
      return out;
    } catch (err) {
      if (!halt?.aborted && !options.signal?.aborted) {
        if (lifetime?.aborted) {
          // not an interruption: S3 took longer than a write may live under the run's lock
          const secs = (options.maxWriteMs! / 1000).toFixed(options.maxWriteMs! % 1000 ? 2 : 0);
          throw new Error(`${op.replace(/Command$/, '')} got no answer within ${secs} s, the longest a write may live under the run's lock (a quarter of --lock-expiry, at most 30 s): aborted, the rerun retries it; a longer --lock-expiry allows slower writes`, { cause: err });
        }
        if (outage(err)) breaker?.failure(err as Error);
        else breaker?.success(); // answered: the endpoint is there
      }
      throw err;
    } finally {
      breaker?.end();
    }
  };
  return { config: client.config, send } as unknown as S3Client;
}

/**
 * Multipart upload through lib-storage; on any failure lib-storage aborts the upload (no orphaned
 * parts). When the run halts (its lock lost, its breaker tripped) the upload is aborted at once, as
 * on Ctrl-C, and counts as not started: its object was not written.
 */
async function multipart(item: PlanItem, loaded: Loaded, sha256Hex: string, contentType: string, options: ExecuteOptions): Promise<string> {
  const { Upload } = await import('@aws-sdk/lib-storage');
  const body = Buffer.isBuffer(loaded.body) ? loaded.body : loaded.body();
  const raw = await options.s3();
  const halt = options.halt;
  const upload = new Upload({
    client: guardedClient(raw, options, halt, options.conditional ? writeCondition(item) : undefined),
    partSize: PART_SIZE,
    queueSize: 4,
    leavePartsOnError: false,
    params: {
      Bucket: options.bucket,
      Key: item.key,
      Body: body,
      ContentType: contentType,
      CacheControl: item.cacheControl,
      ServerSideEncryption: options.sse,
      ...(options.sse === 'aws:kms' && options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
      Metadata: { sha256: sha256Hex },
      ChecksumAlgorithm: 'SHA256',
    },
  });
  const onAbort = () => void upload.abort().catch(() => {});
  options.signal?.addEventListener('abort', onAbort, { once: true });
  halt?.addEventListener('abort', onAbort, { once: true });
  try {
    if (halt?.aborted) throw new Error('the run is stopping');
    const out = await upload.done();
    return String((out as { ETag?: string }).ETag ?? '').replace(/"/g, '');
  } catch (err) {
    if (halt?.aborted && !options.signal?.aborted) {
      // its parts are deleted now (lib-storage's own abort may come later, or never: the run ends)
      const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
      if (uploadId) {
        const { AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
        await raw.send(new AbortMultipartUploadCommand({ Bucket: options.bucket, Key: item.key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(ABORT_MS) }).catch(() => {});
      }
      throw Object.assign(new Error(`multipart upload of ${item.key} aborted: the run is stopping`, { cause: err }), { notStarted: true });
    }
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    halt?.removeEventListener('abort', onAbort);
  }
}
