/**
 * The upload hot path: one signed S3 PutObject per image over a keep-alive connection pool.
 *
 * Why not `PutObjectCommand`: for tens of thousands of small objects the SDK's middleware stack is
 * most of the client's cost (measured ~2.4 ms CPU per object against ~1 ms for this path). The
 * request is signed (SigV4, src/lib/aws/sigv4.ts, tested against the SDK's signer) with the
 * credentials, region, endpoint and user agent of the run's one AwsContext, and carries everything
 * that matters (obtain one with `AwsClients.leanS3()`: never build one elsewhere):
 * - `x-amz-content-sha256` = the body's SHA-256 (signed; S3 rejects a body that does not match),
 * - `x-amz-checksum-sha256` (S3 verifies it and stores it with the object) and `x-amz-meta-sha256`,
 * - server-side encryption (AES256 or aws:kms + key id), Content-Type, Cache-Control; never an ACL.
 * Retries with jittered backoff on 5xx / SlowDown / throttling / dropped connections, and tells
 * the caller about throttling (S3's throttling codes only: a 503 without SlowDown is a failure) so
 * it can lower the number of requests in flight. With a circuit
 * breaker (shared by every request of the run), a failure that looks like a lost endpoint is
 * counted there, any success resets it, and once it has tripped nothing is retried any more.
 *
 * Like the SDK clients of the AwsContext it comes from: a read-only one (dry run, planning) refuses
 * every write before anything is sent; a writing one refuses a write once the run is stopping (first
 * Ctrl-C), side writes (the lock release) excepted; `-vv` prints the same one line per request; and
 * `translate()` turns its errors into the message the SDK path gives (translate-error.ts).
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { RetailctlError } from '../errors.js';
import type { RunSignals } from '../interrupt.js';
import { backoffDelay, type CircuitBreaker } from '../util/retry.js';
import { sleep } from '../util/sleep.js';
import { S3Signer, uriEncode } from './sigv4.js';
import { translateAwsError, type CallSite } from './translate-error.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Endpoint {
  /** e.g. https://s3.us-east-1.amazonaws.com or http://127.0.0.1:5000 */
  url: URL;
  /** Path-style addressing (custom endpoints); else virtual-hosted (bucket.s3.region.amazonaws.com). */
  pathStyle: boolean;
  region: string;
}

export interface PutObject {
  key: string;
  /** The whole body, or a factory for a fresh stream of it (one per attempt). */
  body: Buffer | (() => Readable);
  size: number;
  /** SHA-256 of the body. */
  sha256: Buffer;
  contentType: string;
  cacheControl: string;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  /** Create only: `*` = only if no object has the key (412 PreconditionFailed otherwise). */
  ifNoneMatch?: '*';
  /** Replace only this version of the object (its ETag; 412 if it changed, 404 if it is gone). */
  ifMatch?: string;
}

/** A server-side copy (CopyObject) of an object of another key or bucket, with new metadata. */
export interface CopyObjectRequest {
  key: string;
  /** The object copied, as listed: the copy is refused (412) if its ETag is no longer this one. */
  source: { bucket: string; key: string; etag: string };
  contentType: string;
  cacheControl: string;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  /** The content's SHA-256 (hex), when known before the copy: kept as `x-amz-meta-sha256`. */
  sha256Hex?: string;
  /** Headers of the source kept on the copy (the metadata is replaced: what it does not set is dropped). */
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  ifNoneMatch?: '*';
  ifMatch?: string;
}

export class S3RequestError extends Error {
  /** The request that failed (set by the client), e.g. `PutObject`. */
  operation: string | undefined;
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly retryable: boolean,
    /** S3's own <Message> and request id, as the SDK reports them. */
    readonly details: { s3Message?: string; requestId?: string } = {},
  ) {
    super(message);
  }
}

/** What a request of this client may do: as the AwsClients it came from (see Access in context.ts). */
export type LeanS3Access = 'read' | 'write' | 'side';

/** Where an S3 endpoint is for a run's settings: the custom endpoint (path-style) or AWS's own. */
export function s3Endpoint(settings: { endpointUrl?: string; env: NodeJS.ProcessEnv }, region: string): S3Endpoint {
  const custom = settings.endpointUrl ?? settings.env.AWS_ENDPOINT_URL_S3 ?? settings.env.AWS_ENDPOINT_URL;
  const url = new URL(custom ?? (region.startsWith('cn-') ? `https://s3.${region}.amazonaws.com.cn` : `https://s3.${region}.amazonaws.com`));
  return { url, pathStyle: Boolean(custom), region };
}

/**
 * A LeanS3 failure as the SDK clients report the same S3 answer (same code, message and hint);
 * errors that are not S3 answers (already translated, interrupted) pass through as they are.
 */
export function translateS3Error(err: unknown, site: Omit<CallSite, 'service'>): Error {
  if (!(err instanceof S3RequestError)) return err instanceof Error ? err : new Error(String(err));
  // no S3 answer but an error already explained (no credentials, an SSO session expired, interrupted)
  if (err.cause instanceof RetailctlError) return err.cause;
  const raw = Object.assign(new Error(err.details.s3Message || err.code), { name: err.code, $metadata: { httpStatusCode: err.status || undefined, requestId: err.details.requestId } });
  if (err.status === 0) Object.assign(raw, { code: err.code, message: err.message });
  return translateAwsError(raw, { ...site, service: 'S3', operation: site.operation ?? err.operation });
}

const RETRYABLE_CODES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling', 'ThrottlingException', 'RequestTimeTooSkewed', 'ExpiredToken']);
/** S3's (and AWS's) throttling answers: the endpoint is there and asks for fewer requests. */
const THROTTLING_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ProvisionedThroughputExceededException', 'BandwidthLimitExceeded']);

/** Throttling, by S3's error code (or HTTP 429): a 503 without SlowDown (or with an HTML body) is a failure. */
export function throttling(e: S3RequestError): boolean {
  return THROTTLING_CODES.has(e.code) || e.code.startsWith('Throttl') || e.status === 429;
}

const NETWORK_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export interface LeanS3Options {
  endpoint: S3Endpoint;
  bucket: string;
  credentials: () => Promise<Credentials>;
  userAgent: string;
  /** Sockets kept open (the number of requests in flight). */
  maxSockets: number;
  /** Attempts per object (default 8). */
  maxAttempts?: number;
  /** Called on every SlowDown / throttling answer, before the retry. */
  onThrottle?: () => void;
  /** Per-attempt idle timeout (default 60 s). */
  timeoutMs?: number;
  /**
   * Per-attempt total lifetime of a write (PUT, DELETE): an attempt not answered by then is destroyed,
   * however much it is still sending (the run's lock counts on it: see MigrationLock.maxRequestMs).
   */
  maxWriteMs?: number;
  /** The run's stop signal (first Ctrl-C): no request or retry starts after it. */
  signal?: AbortSignal;
  /**
   * What abandons requests already sent (destroys the sockets); default `signal`. Writers pass the
   * run's kill signal, so an upload on the wire at the first Ctrl-C is let finish and journaled.
   */
  abandonSignal?: AbortSignal;
  /** Outage detection across every request of the run (see CircuitBreaker). */
  breaker?: CircuitBreaker;
  /**
   * Called before every attempt of a write (first try and retries): undefined to send at once, or a
   * promise to wait for (the run's lock being confirmed); a rejection ends the write unsent.
   */
  beforeWrite?: () => Promise<void> | undefined;
  /**
   * One line per request (-vv), shaped like the SDK clients' trace line: operation, outcome, time,
   * attempts and S3's request id, never a header or a signature. Undefined costs nothing.
   */
  trace?: (line: string) => void;
  /** `read`: every write is refused before it is sent (default `write`). */
  access?: LeanS3Access;
  /** The run's signals: a `write` client sends no write once `stop` is aborted. */
  signals?: RunSignals;
  /** Profile, endpoint and attempts for translate(). */
  site?: Omit<CallSite, 'service' | 'operation'>;
}

export class LeanS3 {
  readonly #o: LeanS3Options;
  readonly #agent: http.Agent;
  readonly #signer: S3Signer;
  readonly #client: typeof http | typeof https;
  readonly #host: string;
  readonly #basePath: string;
  readonly #port: string;
  /** What ends a backoff wait early: the run's signal, and the breaker tripping. */
  readonly #wait: AbortSignal | undefined;
  /** Attempts that were retried (for the report). */
  retries = 0;

  constructor(options: LeanS3Options) {
    this.#o = options;
    const { url, pathStyle, region } = options.endpoint;
    const secure = url.protocol === 'https:';
    this.#client = secure ? https : http;
    this.#agent = new this.#client.Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: 'lifo' });
    this.#host = pathStyle ? url.hostname : `${options.bucket}.${url.hostname}`;
    this.#port = url.port;
    const base = url.pathname.replace(/\/+$/, '');
    this.#basePath = pathStyle ? `${base}/${encodeURIComponent(options.bucket)}/` : `${base}/`;
    this.#signer = new S3Signer(region);
    // one abort listener for the whole pool (a signal per request costs ~20 µs each and warns past 10)
    const abandon = options.abandonSignal ?? options.signal;
    if (abandon) {
      setMaxListeners(0, abandon);
      abandon.addEventListener('abort', () => this.#agent.destroy(), { once: true });
    }
    // a tripped breaker abandons the requests still in flight (uploads: the journal has only completed ones)
    options.breaker?.signal.addEventListener('abort', () => this.#agent.destroy(), { once: true });
    const waits = [options.signal, options.breaker?.signal].filter((s): s is AbortSignal => s !== undefined);
    this.#wait = waits.length > 1 ? AbortSignal.any(waits) : waits[0];
    if (this.#wait) setMaxListeners(0, this.#wait);
  }

  /** Upload one object; resolves with its ETag (quotes removed). */
  async put(object: PutObject): Promise<string> {
    this.#mayWrite('PutObject');
    const hex = object.sha256.toString('hex');
    const res = await this.#retrying('PutObject', () => {
      const headers: Record<string, string> = {
        'content-length': String(object.size),
        'content-type': object.contentType,
        'cache-control': object.cacheControl,
        'x-amz-checksum-sha256': object.sha256.toString('base64'),
        'x-amz-meta-sha256': hex,
        'x-amz-server-side-encryption': object.sse,
      };
      if (object.sse === 'aws:kms' && object.kmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = object.kmsKeyId;
      if (object.ifNoneMatch) headers['if-none-match'] = object.ifNoneMatch;
      if (object.ifMatch) headers['if-match'] = `"${object.ifMatch}"`;
      return this.#gated(() => this.#request('PUT', this.#objectPath(object.key), undefined, headers, hex, object.body, false));
    });
    return String(res.headers.etag ?? '').replace(/"/g, '');
  }

  /**
   * CopyObject with `x-amz-metadata-directive: REPLACE`: the bytes never leave S3. S3 computes and
   * stores the SHA-256 (`x-amz-checksum-algorithm`) and returns it (base64) with the new ETag. A copy
   * S3 answers 200 with an <Error> body is an error (S3 may fail a copy after sending the status).
   */
  async copy(object: CopyObjectRequest): Promise<{ etag: string; checksumSha256?: string }> {
    this.#mayWrite('CopyObject');
    const { source } = object;
    const res = await this.#retrying('CopyObject', async () => {
      const headers: Record<string, string> = {
        'content-length': '0',
        'x-amz-copy-source': `/${uriEncode(source.bucket)}/${source.key.split('/').map(uriEncode).join('/')}`,
        'x-amz-copy-source-if-match': `"${source.etag}"`,
        'x-amz-metadata-directive': 'REPLACE',
        'content-type': object.contentType,
        'cache-control': object.cacheControl,
        'x-amz-checksum-algorithm': 'SHA256',
        'x-amz-server-side-encryption': object.sse,
      };
      if (object.sha256Hex) headers['x-amz-meta-sha256'] = object.sha256Hex;
      // which source object this copy is of: a rerun without its journal settles it by this (any ETag kind)
      headers['x-amz-meta-source-etag'] = source.etag;
      if (object.contentEncoding) headers['content-encoding'] = object.contentEncoding;
      if (object.contentDisposition) headers['content-disposition'] = object.contentDisposition;
      if (object.contentLanguage) headers['content-language'] = object.contentLanguage;
      if (object.sse === 'aws:kms' && object.kmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = object.kmsKeyId;
      if (object.ifNoneMatch) headers['if-none-match'] = object.ifNoneMatch;
      if (object.ifMatch) headers['if-match'] = `"${object.ifMatch}"`;
      const out = await this.#gated(() => this.#request('PUT', this.#objectPath(object.key), undefined, headers, EMPTY_SHA256, undefined, true));
      const xml = out.body.toString('utf8');
      if (xml.includes('<Error>')) {
        const code = tag(xml, 'Code') || 'InternalError';
        const message = tag(xml, 'Message');
        throw new S3RequestError(`${code}${message ? `: ${message}` : ''} (HTTP 200, in the copy's answer)`, 200, code, code === 'InternalError' || RETRYABLE_CODES.has(code), message ? { s3Message: message } : {});
      }
      return out;
    });
    const xml = res.body.toString('utf8');
    const checksum = tag(xml, 'ChecksumSHA256');
    return { etag: tag(xml, 'ETag').replace(/"/g, ''), ...(checksum ? { checksumSha256: checksum } : {}) };
  }

  /**
   * The first `bytes` of an object (a ranged GetObject: never the whole object), with its ETag and
   * user metadata; undefined when no object has the key.
   */
  async getFirstBytes(key: string, bytes: number, ifMatch?: string): Promise<{ body: Buffer; etag: string; metadata: Record<string, string>; headers: { contentEncoding?: string; contentDisposition?: string; contentLanguage?: string } } | undefined> {
    try {
      const headers: Record<string, string> = { range: `bytes=0-${bytes - 1}` };
      if (ifMatch) headers['if-match'] = `"${ifMatch}"`;
      const res = await this.#retrying('GetObject', () => this.#request('GET', this.#objectPath(key), undefined, headers, EMPTY_SHA256, undefined, true));
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
      const h = res.headers;
      const kept = {
        ...(typeof h['content-encoding'] === 'string' && h['content-encoding'] ? { contentEncoding: h['content-encoding'] } : {}),
        ...(typeof h['content-disposition'] === 'string' && h['content-disposition'] ? { contentDisposition: h['content-disposition'] } : {}),
        ...(typeof h['content-language'] === 'string' && h['content-language'] ? { contentLanguage: h['content-language'] } : {}),
      };
      return { body: res.body.subarray(0, bytes), etag: String(h.etag ?? '').replace(/"/g, ''), metadata, headers: kept };
    } catch (err) {
      if (err instanceof S3RequestError && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /**
   * One small object whole (GetObject), or undefined when no object has the key (NoSuchKey), with
   * its Last-Modified and the answer's Date: both S3's clock, not ours.
   */
  async get(key: string): Promise<{ body: Buffer; etag: string; lastModified?: string; date?: string } | undefined> {
    try {
      const res = await this.#retrying('GetObject', () => this.#request('GET', this.#objectPath(key), undefined, {}, EMPTY_SHA256, undefined, true));
      const { 'last-modified': lastModified, date } = res.headers;
      return { body: res.body, etag: String(res.headers.etag ?? '').replace(/"/g, ''), ...(lastModified ? { lastModified } : {}), ...(date ? { date } : {}) };
    } catch (err) {
      if (err instanceof S3RequestError && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /**
   * DeleteObject; with `ifMatch`, only while the object is still that version (412 if it changed).
   * `missing`: there was no object to delete (S3 answers 404 NoSuchKey only to a conditional delete).
   */
  async delete(key: string, ifMatch?: string): Promise<'deleted' | 'missing'> {
    this.#mayWrite('DeleteObject');
    try {
      await this.#retrying('DeleteObject', () => this.#request('DELETE', this.#objectPath(key), undefined, ifMatch ? { 'if-match': `"${ifMatch}"` } : {}, EMPTY_SHA256, undefined, false));
      return 'deleted';
    } catch (err) {
      if (err instanceof S3RequestError && err.code === 'NoSuchKey') return 'missing';
      throw err;
    }
  }

  /** Every object under `prefix` (ListObjectsV2, 1,000 a page): key → size and ETag. */
  async list(prefix: string): Promise<Map<string, { size: number; etag: string }>> {
    const out = new Map<string, { size: number; etag: string }>();
    await this.#listInto(prefix, out);
    return out;
  }

  /**
   * The same, listed in parallel by common prefix: one listing of `prefix` with the `/` delimiter
   * (the objects directly under it and its "folders"), then each folder listed whole, `concurrency`
   * at a time. A tree of folders is read in the time of its largest folder, not of all of them.
   */
  async listTree(prefix: string, concurrency = 8, skip?: (folder: string) => boolean): Promise<Map<string, { size: number; etag: string }>> {
    const out = new Map<string, { size: number; etag: string }>();
    const all: string[] = [];
    await this.#listInto(prefix, out, all);
    // a folder the caller leaves out (e.g. the copies' own prefix) is never listed
    const folders = skip ? all.filter((f) => !skip(f)) : all;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, folders.length) }, async () => {
        while (next < folders.length) await this.#listInto(folders[next++]!, out);
      }),
    );
    return out;
  }

  /** ListObjectsV2 pages of `prefix` into `out`; with `folders`, by the `/` delimiter, collecting the common prefixes. */
  async #listInto(prefix: string, out: Map<string, { size: number; etag: string }>, folders?: string[]): Promise<void> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', 'encoding-type': 'url' };
      if (prefix) query.prefix = prefix;
      if (folders) query.delimiter = '/';
      if (token) query['continuation-token'] = token;
      const res = await this.#retrying('ListObjectsV2', () => this.#request('GET', this.#basePath, query, {}, EMPTY_SHA256, undefined, true));
      const xml = res.body.toString('utf8');
      const urlEncoded = /<EncodingType>url<\/EncodingType>/.test(xml);
      const decode = (raw: string) => (urlEncoded ? decodeURIComponent(raw.replace(/\+/g, ' ')) : raw);
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        out.set(decode(tag(m[1]!, 'Key')), { size: Number(tag(m[1]!, 'Size') || 0), etag: tag(m[1]!, 'ETag').replace(/"/g, '') });
      }
      if (folders) for (const m of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) folders.push(decode(tag(m[1]!, 'Prefix')));
      token = tag(xml, 'IsTruncated') === 'true' ? tag(xml, 'NextContinuationToken') || undefined : undefined;
    } while (token);
  }

  /** Multipart uploads in progress under `prefix` (ListMultipartUploads). */
  async listMultipartUploads(prefix: string): Promise<{ key: string; uploadId: string }[]> {
    const out: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const query: Record<string, string> = { uploads: '' };
      if (prefix) query.prefix = prefix;
      if (keyMarker) query['key-marker'] = keyMarker;
      if (uploadIdMarker) query['upload-id-marker'] = uploadIdMarker;
      const res = await this.#retrying('ListMultipartUploads', () => this.#request('GET', this.#basePath, query, {}, EMPTY_SHA256, undefined, true));
      const xml = res.body.toString('utf8');
      for (const m of xml.matchAll(/<Upload>([\s\S]*?)<\/Upload>/g)) {
        const key = tag(m[1]!, 'Key');
        const uploadId = tag(m[1]!, 'UploadId');
        if (key && uploadId) out.push({ key, uploadId });
      }
      const truncated = tag(xml, 'IsTruncated') === 'true';
      keyMarker = truncated ? tag(xml, 'NextKeyMarker') || undefined : undefined;
      uploadIdMarker = truncated ? tag(xml, 'NextUploadIdMarker') || undefined : undefined;
    } while (keyMarker);
    return out;
  }

  /** AbortMultipartUpload: its parts are deleted. */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    this.#mayWrite('AbortMultipartUpload');
    await this.#retrying('AbortMultipartUpload', () => this.#gated(() => this.#request('DELETE', this.#objectPath(key), { uploadId }, {}, EMPTY_SHA256, undefined, false)));
  }

  /** This client's error as the user sees it (see translateS3Error); `operation` overrides the failed request's. */
  translate(err: unknown, operation?: string): Error {
    return translateS3Error(err, { ...this.#o.site, ...(operation ? { operation } : {}) });
  }

  /**
   * The same guard as the SDK clients': no write from a read-only client (dry run, planning), and no
   * new write from a writing one once the run is stopping (side writes excepted). Nothing is sent.
   */
  #mayWrite(operation: string): void {
    const access = this.#o.access ?? 'write';
    if (access === 'read') {
      throw new RetailctlError('READ_ONLY_VIOLATION', `internal error: S3 ${operation} is a write and this client is read-only (dry run or planning)`, { hint: 'please report this: a dry run must never write' });
    }
    const signals = this.#o.signals;
    if (access === 'write' && signals?.stop.aborted) throw signals.notSent(`S3 ${operation}`);
  }

  /** A write, sent only once `beforeWrite` allows it (no promise, no wait when it allows it at once). */
  #gated<T>(send: () => Promise<T>): Promise<T> {
    const wait = this.#o.beforeWrite?.();
    return wait ? wait.then(send) : send();
  }

  #objectPath(key: string): string {
    return this.#basePath + key.split('/').map(uriEncode).join('/');
  }

  async #retrying<T extends { headers: http.IncomingHttpHeaders }>(operation: string, attempt: () => Promise<T>): Promise<T> {
    const attempts = this.#o.maxAttempts ?? 8;
    const breaker = this.#o.breaker;
    const trace = this.#o.trace;
    const started = trace ? Date.now() : 0;
    const tried = (n: number) => (n > 1 ? ` after ${n} attempts` : '');
    for (let n = 1; ; n++) {
      try {
        const out = await attempt();
        breaker?.success();
        if (trace) {
          const id = out.headers['x-amz-request-id'];
          trace(`aws: S3 ${operation} ok in ${Date.now() - started} ms${tried(n)}${id ? ` (request id ${String(id)})` : ''}`);
        }
        return out;
      } catch (err) {
        if ((err as { notStarted?: boolean }).notStarted) throw err; // refused before it was sent
        const e = err instanceof S3RequestError ? err : networkError(err);
        const throttled = throttling(e);
        // an endpoint that asks to slow down, or refuses a request for good, is there: only other
        // retryable failures look like an outage
        if (e.retryable && !throttled) breaker?.failure(e);
        else if (e.status > 0) breaker?.success();
        e.operation ??= operation;
        if (!e.retryable || n >= attempts || this.#o.signal?.aborted || breaker?.tripped) {
          trace?.(`aws: S3 ${operation} failed in ${Date.now() - started} ms${tried(n)}: ${e.code}`);
          throw e;
        }
        if (throttled) this.#o.onThrottle?.();
        this.retries++;
        try {
          await sleep(backoffDelay(n), this.#wait);
        } catch (stopped) {
          trace?.(`aws: S3 ${operation} failed in ${Date.now() - started} ms${tried(n)}: ${e.code}`);
          // the breaker tripped during the wait: this request ends with its own error
          if (breaker?.tripped && !this.#o.signal?.aborted) throw e;
          throw stopped;
        }
      }
    }
  }

  async #request(method: string, path: string, query: Record<string, string> | undefined, headers: Record<string, string>, payloadHash: string, body: PutObject['body'] | undefined, keepBody: boolean): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
    this.#o.signal?.throwIfAborted();
    headers.host = this.#port ? `${this.#host}:${this.#port}` : this.#host;
    const sendHeaders = this.#signer.sign({ method, path, ...(query ? { query } : {}), headers, payloadHash }, await this.#o.credentials());
    sendHeaders['user-agent'] = this.#o.userAgent;
    const fullPath = query ? `${path}?${Object.entries(query).map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&')}` : path;
    const breaker = this.#o.breaker;
    breaker?.begin();
    const sent = this.#send(method, fullPath, sendHeaders, body, keepBody);
    if (breaker) sent.then(() => breaker.end(), () => breaker.end());
    return sent;
  }

  #send(method: string, fullPath: string, sendHeaders: Record<string, string>, body: PutObject['body'] | undefined, keepBody: boolean): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = this.#client.request({ method, host: this.#o.endpoint.url.hostname, port: this.#port || undefined, path: fullPath, headers: sendHeaders, agent: this.#agent }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        if (ok && !keepBody) {
          res.resume();
          res.on('end', () => resolve({ headers: res.headers, body: EMPTY }));
          res.on('error', reject);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          if (ok) return resolve({ headers: res.headers, body: data });
          const text = data.toString('utf8');
          const code = tag(text, 'Code') || `HTTP${status}`;
          const message = tag(text, 'Message');
          const requestId = res.headers['x-amz-request-id'] ?? (tag(text, 'RequestId') || undefined);
          reject(new S3RequestError(`${code}${message ? `: ${message}` : ''} (HTTP ${status})`, status, code, status >= 500 || status === 429 || RETRYABLE_CODES.has(code), { ...(message ? { s3Message: message } : {}), ...(requestId ? { requestId: String(requestId) } : {}) }));
        });
      });
      req.setTimeout(this.#o.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('no response within the timeout'), { code: 'ETIMEDOUT' })));
      const lifetime = method !== 'GET' && method !== 'HEAD' ? this.#o.maxWriteMs : undefined;
      if (lifetime) {
        const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no complete answer within ${lifetime} ms (the longest a write may live under the run's lock)`), { code: 'ETIMEDOUT' })), lifetime);
        deadline.unref();
        const clear = () => clearTimeout(deadline);
        req.on('close', clear);
        req.on('response', clear); // answered: S3 has decided the write
      }
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const stream = body();
        stream.on('error', (err) => req.destroy(err));
        stream.pipe(req);
      }
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The text of the first <name> element of a small S3 XML document ('' when absent), entities decoded. */
function tag(xml: string, name: string): string {
  const open = xml.indexOf(`<${name}>`);
  if (open < 0) return '';
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  return end < 0 ? '' : xmlText(xml.slice(start, end));
}

function xmlText(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-f]+));/gi, (all, name: string, dec?: string, hex?: string) =>
    dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16)) : ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[name.toLowerCase()] ?? all,
  );
}

function networkError(err: unknown): S3RequestError {
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AbortError') return new S3RequestError('aborted', 0, 'Aborted', false);
  const code = e?.code ?? '';
  const retryable = NETWORK_ERRORS.has(code) || /socket hang up|ECONNRESET/i.test(e?.message ?? '');
  return Object.assign(new S3RequestError(`${code || 'network error'}: ${e?.message ?? String(err)}`, 0, code || 'NetworkError', retryable), { cause: err });
}
