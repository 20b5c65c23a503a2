/**
 * Athena for the emulator (test support only): moto accepts StartQueryExecution but never runs the
 * query nor writes a result. Here StartQueryExecution / GetQueryExecution / StopQueryExecution behave
 * as Athena's: the query is QUEUED, then RUNNING while DuckDB runs it (test/support/athena-duckdb.ts)
 * over the S3 objects that the referenced Glue tables point at (tables and objects read from moto),
 * then SUCCEEDED with the result CSV at `<OutputLocation><id>.csv` in moto's S3, or FAILED with a
 * reason, or CANCELLED by StopQueryExecution (no result written).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetTableCommand, GlueClient, type TableInput } from '@aws-sdk/client-glue';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runOnDuckDB, type GlueTable } from './athena-duckdb.js';

export interface AthenaShimConfig {
  /** How long a query stays QUEUED (default 100 ms). */
  queuedMs?: number;
  /** How long a query stays RUNNING at least (default 200 ms; it runs for as long as DuckDB takes). */
  runningMs?: number;
  /** Fail every query started from now on with this reason (e.g. `HIVE_BAD_DATA: Error parsing field value`). */
  fail?: string | null;
}

export const ATHENA_OPERATIONS = new Set(['StartQueryExecution', 'GetQueryExecution', 'StopQueryExecution']);
const SYMLINK_INPUT = 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat';
const TEXT_INPUT = 'org.apache.hadoop.mapred.TextInputFormat';
const CATALOG = 'awsdatacatalog';

type State = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

interface Query {
  id: string;
  query: string;
  context: { Database?: string; Catalog?: string };
  workGroup: string;
  outputLocation: string;
  state: State;
  reason?: string;
  stopped: boolean;
  /** Past this point (the result is being written) a stop no longer cancels. */
  finishing: boolean;
  submittedAt: number;
  runningAt?: number;
  completedAt?: number;
  scanned: number;
  timer?: NodeJS.Timeout;
}

export interface AthenaQueryView {
  id: string;
  state: State;
  query: string;
  stopped: boolean;
  outputLocation: string;
}

type Reply = { status: number; headers: Record<string, string>; body: string };

export interface AthenaShim {
  handle(operation: string, body: Buffer): Promise<Reply>;
  queries(): AthenaQueryView[];
  reset(): void;
  close(): void;
}

const reply = (status: number, doc: unknown): Reply => ({ status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(doc) });
const invalid = (message: string): Reply => ({
  status: 400,
  headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'InvalidRequestException' },
  body: JSON.stringify({ __type: 'InvalidRequestException', Message: message }),
});

function s3Uri(uri: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri.trim());
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());

/** The SQL with string literals and comments blanked out (same length, so positions hold). */
function codeOnly(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '));
}

const PART = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)`;
const QUALIFIED = new RegExp(String.raw`(?<![\w."])(${PART})\s*\.\s*(${PART})(?![\w"]|\s*\.)`, 'g');
const unquote = (part: string) => (part.startsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part).toLowerCase();

export interface TableRef {
  database: string;
  table: string;
  line: number;
  column: number;
  /** After FROM or JOIN: surely a table (other `a.b` may be a column of an alias). */
  definite: boolean;
}

/** `"db"."table"` and `db.table` references in a query (first occurrence of each). */
export function tableRefs(sql: string): TableRef[] {
  const code = codeOnly(sql);
  const refs = new Map<string, TableRef>();
  for (const m of code.matchAll(QUALIFIED)) {
    const database = unquote(m[1]!);
    const table = unquote(m[2]!);
    const before = code.slice(0, m.index);
    const definite = /\b(from|join)\s*$/i.test(before);
    const key = `${database}.${table}`;
    const known = refs.get(key);
    if (known) {
      known.definite ||= definite;
      continue;
    }
    const lines = before.split('\n');
    refs.set(key, { database, table, line: lines.length, column: lines[lines.length - 1]!.length + 1, definite });
  }
  return [...refs.values()];
}

export function createAthenaShim(upstream: string, config: () => AthenaShimConfig): AthenaShim {
  // the clients live in the test run's main process, which vitest's test env does not reach
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clientConfig = { endpoint: upstream, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 };
  let glue: GlueClient | undefined;
  let s3: S3Client | undefined;
  const glueClient = () => (glue ??= new GlueClient(clientConfig));
  const s3Client = () => (s3 ??= new S3Client({ ...clientConfig, forcePathStyle: true }));
  let queries = new Map<string, Query>();
  let tokens = new Map<string, string>();
  let generation = 0;

  function view(q: Query): Record<string, unknown> {
    const now = Date.now();
    const end = q.completedAt ?? now;
    const queued = (q.runningAt ?? end) - q.submittedAt;
    const engine = q.runningAt === undefined ? 0 : end - q.runningAt;
    return {
      QueryExecutionId: q.id,
      Query: q.query,
      StatementType: 'DML',
      ResultConfiguration: { OutputLocation: `${q.outputLocation}${q.id}.csv` },
      QueryExecutionContext: q.context,
      WorkGroup: q.workGroup,
      Status: {
        State: q.state,
        ...(q.reason !== undefined ? { StateChangeReason: q.reason } : {}),
        SubmissionDateTime: q.submittedAt / 1000,
        ...(q.completedAt !== undefined ? { CompletionDateTime: q.completedAt / 1000 } : {}),
      },
      Statistics: { EngineExecutionTimeInMillis: engine, DataScannedInBytes: q.scanned, TotalExecutionTimeInMillis: end - q.submittedAt, QueryQueueTimeInMillis: queued },
    };
  }

  function finish(q: Query, state: State, reason?: string): void {
    q.state = state;
    if (reason !== undefined) q.reason = reason;
    q.completedAt = Date.now();
  }

  /** A Glue table and the local copies of its data files; `undefined` when the table does not exist and was not surely one. */
  async function loadTable(ref: TableRef, dir: string, fetched: Map<string, string>, q: Query): Promise<GlueTable | undefined> {
    let table: TableInput;
    try {
      table = (await glueClient().send(new GetTableCommand({ DatabaseName: ref.database, Name: ref.table }))).Table as TableInput;
    } catch (err) {
      if ((err as Error).name !== 'EntityNotFoundException') throw err;
      if (!ref.definite) return undefined;
      if (/database/i.test((err as Error).message)) throw new Error(`SCHEMA_NOT_FOUND: line ${ref.line}:${ref.column}: Schema '${ref.database}' does not exist`);
      throw new Error(`TABLE_NOT_FOUND: line ${ref.line}:${ref.column}: Table '${CATALOG}.${ref.database}.${ref.table}' does not exist`);
    }
    const sd = table.StorageDescriptor ?? {};
    const location = s3Uri(sd.Location ?? '');
    if (!location) throw new Error(`HIVE_PATH_ALREADY_EXISTS: Table ${ref.database}.${ref.table} has no S3 location`);
    const prefix = location.key === '' || location.key.endsWith('/') ? location.key : `${location.key}/`;
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3Client().send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const name = path.posix.basename(o.Key!);
        // Hive skips directory markers and hidden files (_SUCCESS, .crc)
        if (!o.Key!.endsWith('/') && !name.startsWith('_') && !name.startsWith('.')) listed.push(`s3://${location.bucket}/${o.Key!}`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    let dataUris: string[];
    if (sd.InputFormat === SYMLINK_INPUT) {
      dataUris = [];
      for (const manifest of listed) {
        const text = await readObject(manifest);
        for (const line of text.toString('utf8').split(/\r?\n/)) if (line.trim()) dataUris.push(line.trim());
      }
    } else if (sd.InputFormat === TEXT_INPUT || sd.InputFormat === undefined) {
      dataUris = listed;
    } else {
      throw new Error(`HIVE_UNSUPPORTED_FORMAT: Unable to create input format ${sd.InputFormat}`);
    }
    const files: string[] = [];
    for (const uri of dataUris) {
      let local = fetched.get(uri);
      if (!local) {
        const bytes = await readObject(uri, true);
        local = path.join(dir, `${fetched.size}-${path.posix.basename(uri)}`);
        await writeFile(local, bytes);
        fetched.set(uri, local);
        q.scanned += bytes.length;
      }
      files.push(local);
    }
    return { database: ref.database, table, files };
  }

  async function readObject(uri: string, split = false): Promise<Buffer> {
    const at = s3Uri(uri);
    if (!at || !at.key) throw new Error(`HIVE_UNKNOWN_ERROR: Invalid S3 path in symlink manifest: ${uri}`);
    try {
      const res = await s3Client().send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'NotFound') {
        throw new Error(split ? `HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split ${uri} (offset=0, length=0): ${uri} does not exist` : `HIVE_FILE_NOT_FOUND: ${uri} does not exist`);
      }
      throw err;
    }
  }

  /** Run the query on DuckDB; returns the local result file. */
  async function execute(q: Query, dir: string): Promise<string> {
    const fetched = new Map<string, string>();
    const tables: GlueTable[] = [];
    for (const ref of tableRefs(q.query)) {
      const t = await loadTable(ref, dir, fetched, q);
      if (t) tables.push(t);
    }
    const out = path.join(dir, 'result.csv');
    await runOnDuckDB({ tables, sql: q.query, out });
    return out;
  }

  async function run(q: Query, settings: Required<AthenaShimConfig>, gen: number): Promise<void> {
    q.state = 'RUNNING';
    q.runningAt = Date.now();
    const earliestEnd = q.runningAt + settings.runningMs;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'athena-shim-'));
    try {
      let result: string | undefined;
      let reason: string | undefined;
      if (settings.fail) reason = settings.fail;
      else {
        try {
          result = await execute(q, dir);
        } catch (err) {
          reason = (err as Error).message;
        }
      }
      await sleep(earliestEnd - Date.now());
      if (gen !== generation || q.state !== 'RUNNING') return; // cancelled, or the emulator was reset
      q.finishing = true;
      if (result) {
        const at = s3Uri(`${q.outputLocation}${q.id}.csv`)!;
        try {
          await s3Client().send(new PutObjectCommand({ Bucket: at.bucket, Key: at.key, Body: await readFile(result), ContentType: 'text/csv' }));
        } catch (err) {
          reason = `Unable to write the query result to ${q.outputLocation}: ${(err as Error).message}`;
        }
      }
      if (gen !== generation) return;
      if (reason !== undefined) finish(q, 'FAILED', reason);
      else finish(q, 'SUCCEEDED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function start(input: {
    QueryString?: string;
    QueryExecutionContext?: { Database?: string; Catalog?: string };
    WorkGroup?: string;
    ResultConfiguration?: { OutputLocation?: string };
    ClientRequestToken?: string;
  }): Promise<Reply> {
    if (!input.QueryString?.trim()) return invalid('QueryString must not be empty');
    if (input.ClientRequestToken !== undefined) {
      const known = tokens.get(input.ClientRequestToken);
      if (known) return reply(200, { QueryExecutionId: known });
    }
    const location = input.ResultConfiguration?.OutputLocation;
    if (!location) return invalid('No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.');
    const at = s3Uri(location);
    if (!at) return invalid(`Invalid OutputLocation: ${location}`);
    try {
      await s3Client().send(new HeadBucketCommand({ Bucket: at.bucket }));
    } catch {
      return invalid(`Unable to verify/create output bucket ${at.bucket}`);
    }
    // the token may have been taken while the bucket was checked
    if (input.ClientRequestToken !== undefined && tokens.has(input.ClientRequestToken)) return reply(200, { QueryExecutionId: tokens.get(input.ClientRequestToken) });
    const c = config();
    const settings: Required<AthenaShimConfig> = { queuedMs: c.queuedMs ?? 100, runningMs: c.runningMs ?? 200, fail: c.fail ?? null };
    const q: Query = {
      id: randomUUID(),
      query: input.QueryString,
      context: input.QueryExecutionContext ?? {},
      workGroup: input.WorkGroup ?? 'primary',
      outputLocation: location.endsWith('/') ? location : `${location}/`,
      state: 'QUEUED',
      stopped: false,
      finishing: false,
      submittedAt: Date.now(),
      scanned: 0,
    };
    queries.set(q.id, q);
    if (input.ClientRequestToken !== undefined) tokens.set(input.ClientRequestToken, q.id);
    const gen = generation;
    q.timer = setTimeout(() => {
      q.timer = undefined;
      if (gen !== generation || q.state !== 'QUEUED') return;
      run(q, settings, gen).catch((err: Error) => {
        if (gen === generation && (q.state === 'RUNNING' || q.state === 'QUEUED')) finish(q, 'FAILED', `INTERNAL_ERROR_QUERY_ENGINE: ${err.message}`);
      });
    }, settings.queuedMs);
    q.timer.unref();
    return reply(200, { QueryExecutionId: q.id });
  }

  function stop(id: string): Reply {
    const q = queries.get(id);
    if (!q) return invalid(`QueryExecution ${id} was not found`);
    q.stopped = true;
    if ((q.state === 'QUEUED' || q.state === 'RUNNING') && !q.finishing) {
      if (q.timer) clearTimeout(q.timer);
      q.runningAt ??= Date.now();
      finish(q, 'CANCELLED', 'Query was cancelled by user');
    }
    return reply(200, {});
  }

  return {
    async handle(operation, body) {
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
      } catch {
        return invalid('The request body is not JSON');
      }
      if (operation === 'StartQueryExecution') return start(input as Parameters<typeof start>[0]);
      const id = String(input.QueryExecutionId ?? '');
      if (operation === 'StopQueryExecution') return stop(id);
      if (operation === 'GetQueryExecution') {
        const q = queries.get(id);
        return q ? reply(200, { QueryExecution: view(q) }) : invalid(`QueryExecution ${id} was not found`);
      }
      return invalid(`${operation} is not simulated by the Athena shim`);
    },
    queries: () => [...queries.values()].map((q) => ({ id: q.id, state: q.state, query: q.query, stopped: q.stopped, outputLocation: `${q.outputLocation}${q.id}.csv` })),
    reset() {
      generation += 1;
      for (const q of queries.values()) if (q.timer) clearTimeout(q.timer);
      queries = new Map();
      tokens = new Map();
    },
    close() {
      this.reset();
      glue?.destroy();
      s3?.destroy();
      glue = undefined;
      s3 = undefined;
    },
  };
}
