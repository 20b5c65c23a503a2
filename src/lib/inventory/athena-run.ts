/**
 * `inventory reconcile --engine athena`: gather (list the sources' objects, read their headers,
 * check the workgroup and database: reads only), plan (plan.ts, pure), and execute: write the
 * symlink manifests, create or update the Glue tables, run the one query, poll it, and read its
 * result back from the output location as the local engine's ReconcileResult, so that everything
 * after the reconciliation (summary, --out, --since, --publish, exit codes) is the same code.
 *
 * Ctrl-C / SIGTERM while the query runs stops it (StopQueryExecution, a write allowed after the
 * signal) and exits 130; a FAILED or CANCELLED query is exit 1 with Athena's reason.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync, constants as zlib } from 'node:zlib';
import type { AwsClients, ClientFor } from '../aws/context.js';
import type { InventoryConfig } from '../config/schema.js';
import type { CommandContext } from '../context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { ByteWriter } from '../io/bytes.js';
import { shown } from '../util/sanitize.js';
import { sleep } from '../util/sleep.js';
import { formatSize } from '../util/size.js';
import { DelimitedReader } from './delimited.js';
import { findFiles, parseS3, s3Missing, type InputFile } from './files.js';
import type { SourceStats } from './freshness.js';
import type { RowError } from './model.js';
import type { Pace } from './pace.js';
import { checkNotEmpty, formatOf, headerIndex, type SourceSpec } from './read.js';
import { bySeverityFast, LineJoiner, rowLine, sortPaced, type ReconcileResult, type ResultRow, type RowFormat } from './reconcile.js';
import { planAthena, type AthenaPlan, type AthenaSource, type TableDefinition } from './athena-plan.js';
import { markErrors, ResultParser, summaryOf, type ResultRecord } from './athena-result.js';

type AthenaConfig = NonNullable<InventoryConfig['athena']>;

export interface AthenaRequest {
  duplicates: 'error' | 'sum';
  all: boolean;
}

/** What the query found, in the shape the rest of the command reads. */
export interface AthenaRun {
  result: ReconcileResult;
  errors: RowError[];
  stats: SourceStats[];
  sources: { name: string; role: SourceSpec['role']; keys: number; rows: number }[];
  query: AthenaQueryReport;
}

export interface AthenaQueryReport {
  queryId: string;
  state: string;
  workgroup: string;
  database: string;
  dataScannedBytes: number;
  cost: number;
  queueMs: number;
  engineMs: number;
  resultLocation: string;
}

const HEADER_BYTES = 64 * 1024;
const CHUNK = 1 << 18;

function configError(message: string, hint: string): RetailctlError {
  return new RetailctlError('INVENTORY_CONFIG', message, { exitCode: ExitCode.Usage, hint });
}

/**
 * The first line of an object (decompressed when it is .gz), as trimmed column names; and whether
 * rows follow it, when the object was read whole (small objects), so that an empty export is
 * refused before anything is written or run.
 */
async function headerOf(s3: ClientFor<'s3'>, spec: SourceSpec, object: InputFile, signal: AbortSignal): Promise<{ header?: string[]; rows: boolean | undefined }> {
  if (object.size === 0) return { rows: false };
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { bucket, key } = parseS3(spec.name, object.file);
  let bytes: Buffer;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${HEADER_BYTES - 1}` }), { abortSignal: signal });
    bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array(0));
  } catch (err) {
    throw s3Missing(spec.name, object.file, bucket, err) ?? err;
  }
  if (object.file.toLowerCase().endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes, { finishFlush: zlib.Z_SYNC_FLUSH });
    } catch (err) {
      throw new RetailctlError('INVENTORY_READ', `source ${spec.name}: ${shown(object.shown)} is not gzip data, although its name ends in .gz`, { exitCode: ExitCode.Usage, hint: 'check the export (is it really compressed?)', cause: err });
    }
  }
  const lf = bytes.indexOf(0x0a);
  if (lf < 0 && bytes.length >= HEADER_BYTES) throw new RetailctlError('INVENTORY_READ', `source ${spec.name}: ${shown(object.shown)} has no line break in its first ${HEADER_BYTES / 1024} KB (is it a CSV/TSV export?)`, { exitCode: ExitCode.Usage, hint: 'check the export and inventory.sources.<name>.format' });
  let header: string[] | undefined;
  const reader = new DelimitedReader(formatOf(object.file, spec.format) === 'tsv' ? '\t' : ',', (fields) => {
    header ??= fields.map((f) => f.trim());
  });
  reader.push(lf < 0 ? bytes : bytes.subarray(0, lf + 1));
  reader.end();
  const whole = object.size !== undefined && object.size <= HEADER_BYTES;
  return { ...(header ? { header } : {}), rows: whole ? lf >= 0 && bytes.subarray(lf + 1).toString('utf8').trim() !== '' : undefined };
}

/** Every source as Athena will read it: objects listed (with sizes), one format, one header. */
async function gatherSources(ctx: CommandContext, specs: readonly SourceSpec[], read: AwsClients): Promise<AthenaSource[]> {
  const s3 = await read.client('s3');
  const out: AthenaSource[] = [];
  for (const spec of specs) {
    const local = spec.paths.find((p) => !p.startsWith('s3://'));
    if (local !== undefined) throw configError(`source ${spec.name}: ${shown(local)} is not in S3: --engine athena reads exports where they are, in S3`, `point inventory.sources.${spec.name}.path at s3://bucket/prefix/ (or run with --engine local)`);
    const found = await findFiles(spec.name, spec.paths, { resolve: (p) => p, cwd: ctx.cwd, aws: async () => read, signal: ctx.signal });
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    for (const f of found) {
      if (f.size !== undefined) continue;
      const { bucket, key } = parseS3(spec.name, f.file);
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: ctx.signal });
        f.size = head.ContentLength ?? 0;
        if (head.LastModified) f.modified = head.LastModified;
      } catch (err) {
        throw s3Missing(spec.name, f.file, bucket, err) ?? err;
      }
    }
    const formats = [...new Set(found.map((f) => formatOf(f.file, spec.format)))];
    if (formats.length > 1) throw configError(`source ${spec.name}: its objects mix formats (${formats.join(', ')}): one Athena table reads one format`, `keep one format per source, or set inventory.sources.${spec.name}.format`);
    const format = formats[0]!;
    if (format === 'json') throw configError(`source ${spec.name}: a JSON array export cannot be read by Athena (its JSON SerDe reads one object per line)`, 'export JSON Lines (.jsonl), CSV or TSV, or run with --engine local');
    let header: string[] | undefined;
    let rows = found.some((f) => (f.size ?? 1) > 0);
    if (format !== 'jsonl') {
      rows = false;
      for (const f of found) {
        const got = await headerOf(s3, spec, f, ctx.signal);
        if (got.rows !== false) rows = true;
        const h = got.header;
        if (!h) continue;
        if (!header) {
          headerIndex(spec, f.shown, h, format); // the mapped columns are there, once each
          header = h;
        } else if (h.join('\u0000') !== header.join('\u0000')) {
          throw configError(`source ${spec.name}: ${shown(f.shown)} has the header ${h.map((x) => shown(x, 40)).join(',')}, unlike ${shown(found[0]!.shown)} (${header.map((x) => shown(x, 40)).join(',')}): Athena reads columns by position`, 'export every file of a source with the same columns in the same order');
        }
      }
      header ??= Object.values(spec.columns);
    }
    // an export with no rows at all is refused as locally (exit 2 unless allowEmpty), before any query is paid for
    if (!rows) checkNotEmpty(spec, { name: spec.name, rows: 0, files: found.map((f) => ({ shown: f.shown, rows: 0 })) }, found);
    if (spec.columns.asOf !== undefined) ctx.out.warn(`source ${spec.name}: its asOf column is not checked on Athena; maxAge uses the objects' LastModified`);
    out.push({ name: spec.name, role: spec.role, format, columns: spec.columns, locationMap: spec.locationMap, objects: found.map((f) => ({ url: f.file, size: f.size ?? 0, ...(f.modified ? { modified: f.modified } : {}) })), ...(header ? { header } : {}) });
  }
  return out;
}

function athenaConfig(config: InventoryConfig): AthenaConfig {
  if (!config.athena) throw configError('--engine athena needs inventory.athena in the config (workgroup, database, outputLocation)', 'add inventory.athena: { workgroup: primary, database: retail_inventory, outputLocation: s3://<bucket>/retailctl/ } (see docs/inventory.md)');
  return config.athena;
}

/** The workgroup and database exist (reads): a typo is exit 2 before anything is written or run. */
async function checkCatalog(read: AwsClients, a: AthenaConfig, signal: AbortSignal): Promise<void> {
  const athena = await read.client('athena');
  const { GetWorkGroupCommand } = await import('@aws-sdk/client-athena');
  try {
    const wg = await athena.send(new GetWorkGroupCommand({ WorkGroup: a.workgroup }), { abortSignal: signal });
    if (!wg.WorkGroup) throw configError(`inventory.athena.workgroup ${shown(a.workgroup)}: no such Athena workgroup`, 'check the name and the region, or create it: aws athena create-work-group --name <name>');
    if (wg.WorkGroup.State === 'DISABLED') throw configError(`inventory.athena.workgroup ${shown(a.workgroup)} is disabled`, 'enable it in the Athena console, or name another workgroup');
  } catch (err) {
    if (err instanceof RetailctlError && err.code === 'INVENTORY_CONFIG') throw err;
    if (isAwsError(err, 'InvalidRequestException', 'ResourceNotFoundException')) throw configError(`inventory.athena.workgroup ${shown(a.workgroup)}: no such Athena workgroup (${(err as Error).message})`, 'check the name and the region, or create it: aws athena create-work-group --name <name>');
    throw err;
  }
  const glue = await read.client('glue');
  const { GetDatabaseCommand } = await import('@aws-sdk/client-glue');
  try {
    await glue.send(new GetDatabaseCommand({ Name: a.database }), { abortSignal: signal });
  } catch (err) {
    if (isAwsError(err, 'EntityNotFoundException')) throw configError(`inventory.athena.database ${shown(a.database)}: no such Glue database`, `create it once: aws glue create-database --database-input Name=${a.database}`);
    throw err;
  }
}

export type Gathered = { plan: AthenaPlan; sources: AthenaSource[]; config: AthenaConfig };

/** Gather and plan (reads only): what --dry-run shows and what the run executes. */
export async function gatherAthena(ctx: CommandContext, specs: readonly SourceSpec[], config: InventoryConfig, safetyStock: number | ((sku: string) => number), request: AthenaRequest): Promise<Gathered> {
  const a = athenaConfig(config);
  const read = (await ctx.aws()).read;
  await checkCatalog(read, a, ctx.signal);
  const sources = await gatherSources(ctx, specs, read);
  const values = typeof safetyStock === 'function' ? (safetyStock as { values?: Map<string, number> }).values ?? new Map<string, number>() : safetyStock;
  const plan = planAthena(sources, {
    database: a.database,
    outputLocation: a.outputLocation,
    tablePrefix: a.tablePrefix,
    safetyStock: values,
    tolerance: config.tolerance.units,
    keepOk: request.all,
    duplicates: request.duplicates,
    pricePerTB: a.pricePerTB,
  });
  return { plan, sources, config: a };
}

export function formatCost(dollars: number): string {
  return `$${dollars < 0.01 ? dollars.toFixed(4) : dollars.toFixed(2)}`;
}

/** What --dry-run prints: the tables' DDL, the query and what it would scan. */
export function renderAthenaPlan(g: Gathered): string {
  const p = g.plan;
  const objects = g.sources.reduce((n, s) => n + s.objects.length, 0);
  return [
    `--engine athena, --dry-run: nothing written, no query run`,
    `workgroup ${g.config.workgroup}, database ${p.database}, results under ${p.outputLocation}`,
    `would scan ${formatSize(p.scanBytes)} in ${objects} object${objects === 1 ? '' : 's'} (${g.sources.map((s) => `${s.name} ${s.objects.length}`).join(', ')}): about ${formatCost(p.estimatedCost)} at $${g.config.pricePerTB}/TB`,
    '',
    '-- tables (made through Glue: created, or updated when they differ)',
    ...p.ddl.map((d) => `${d}\n`),
    '-- the query',
    `${p.query};`,
  ].join('\n');
}

/** Put an object (SSE-S3; no ACL) under the output location. */
async function putText(s3: ClientFor<'s3'>, url: string, body: string, signal: AbortSignal): Promise<void> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { bucket, key } = parseS3('inventory.athena.outputLocation', url);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain; charset=utf-8', ServerSideEncryption: 'AES256' }), { abortSignal: signal });
}

/** Same definition as far as Glue keeps it (Glue adds fields of its own; compare what retailctl sets). */
function sameTable(current: Record<string, unknown>, wanted: TableDefinition): boolean {
  const sd = (current.StorageDescriptor ?? {}) as Record<string, unknown>;
  const serde = (sd.SerdeInfo ?? {}) as Record<string, unknown>;
  const cols = ((sd.Columns ?? []) as { Name?: string; Type?: string; Comment?: string }[]).map((c) => [c.Name, c.Type, c.Comment ?? undefined]);
  const w = wanted.StorageDescriptor;
  return (
    JSON.stringify(cols) === JSON.stringify(w.Columns.map((c) => [c.Name, c.Type, c.Comment ?? undefined])) &&
    sd.Location === w.Location &&
    sd.InputFormat === w.InputFormat &&
    serde.SerializationLibrary === w.SerdeInfo.SerializationLibrary &&
    JSON.stringify(Object.entries((serde.Parameters ?? {}) as Record<string, string>).sort()) === JSON.stringify(Object.entries(w.SerdeInfo.Parameters).sort()) &&
    JSON.stringify(Object.entries((current.Parameters ?? {}) as Record<string, string>).filter(([k]) => k in wanted.Parameters).sort()) === JSON.stringify(Object.entries(wanted.Parameters).sort())
  );
}

/** Create the table, or update it when it differs; nothing when it is as wanted. */
async function upsertTable(ctx: CommandContext, read: AwsClients, write: AwsClients, database: string, t: TableDefinition): Promise<'created' | 'updated' | 'unchanged'> {
  const { GetTableCommand, CreateTableCommand, UpdateTableCommand } = await import('@aws-sdk/client-glue');
  const glue = await read.client('glue');
  let current: Record<string, unknown> | undefined;
  try {
    current = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: t.Name }), { abortSignal: ctx.signal })).Table as Record<string, unknown> | undefined;
  } catch (err) {
    if (!isAwsError(err, 'EntityNotFoundException')) throw err;
  }
  const w = await write.client('glue');
  if (!current) {
    try {
      await w.send(new CreateTableCommand({ DatabaseName: database, TableInput: t }), { abortSignal: ctx.signal });
      return 'created';
    } catch (err) {
      // a second run created it in between: update it to this run's definition
      if (!isAwsError(err, 'AlreadyExistsException')) throw err;
    }
  } else if (sameTable(current, t)) return 'unchanged';
  await w.send(new UpdateTableCommand({ DatabaseName: database, TableInput: t }), { abortSignal: ctx.signal });
  return 'updated';
}

const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 5000;

/** Start the query and wait for it; a stopped run stops it. */
async function runQuery(ctx: CommandContext, g: Gathered): Promise<AthenaQueryReport> {
  const aws = await ctx.aws();
  const athena = await aws.write().client('athena');
  const reader = await aws.read.client('athena');
  const { StartQueryExecutionCommand, GetQueryExecutionCommand, StopQueryExecutionCommand } = await import('@aws-sdk/client-athena');
  const started = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: g.plan.query,
      QueryExecutionContext: { Database: g.plan.database },
      WorkGroup: g.config.workgroup,
      ResultConfiguration: { OutputLocation: g.plan.outputLocation, EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } },
      ClientRequestToken: randomUUID(),
    }),
    { abortSignal: ctx.signal },
  );
  const id = started.QueryExecutionId!;
  ctx.out.info(`athena: query ${id} started in workgroup ${g.config.workgroup}`);
  let wait = POLL_FIRST_MS;
  let last = '';
  for (;;) {
    if (ctx.signal.aborted) {
      // the query would run on (and be billed) without us: stop it first, then exit 130
      try {
        await (await aws.write({ side: true }).client('athena')).send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
        ctx.out.warn(`athena: query ${id} stopped (StopQueryExecution)`);
      } catch (err) {
        ctx.out.warn(`athena: could not stop query ${id}: ${(err as Error).message}; stop it in the Athena console`);
      }
      throw ctx.signal.reason;
    }
    let q;
    try {
      q = (await reader.send(new GetQueryExecutionCommand({ QueryExecutionId: id }), { abortSignal: ctx.signal })).QueryExecution;
    } catch (err) {
      if (ctx.signal.aborted) continue;
      throw err;
    }
    const state = q?.Status?.State ?? 'UNKNOWN';
    const scanned = q?.Statistics?.DataScannedInBytes ?? 0;
    if (state !== last) ctx.out.debug(`athena: query ${id} ${state}${scanned ? `, ${formatSize(scanned)} scanned` : ''}`);
    last = state;
    if (state === 'SUCCEEDED') {
      const report: AthenaQueryReport = {
        queryId: id,
        state,
        workgroup: g.config.workgroup,
        database: g.plan.database,
        dataScannedBytes: scanned,
        cost: (Math.max(scanned, 10 * 1024 ** 2) / 1024 ** 4) * g.config.pricePerTB,
        queueMs: q?.Statistics?.QueryQueueTimeInMillis ?? 0,
        engineMs: q?.Statistics?.EngineExecutionTimeInMillis ?? 0,
        resultLocation: q?.ResultConfiguration?.OutputLocation ?? `${g.plan.outputLocation}${id}.csv`,
      };
      ctx.out.info(`athena: query ${id} succeeded in ${(report.engineMs / 1000).toFixed(1)} s (queued ${(report.queueMs / 1000).toFixed(1)} s), scanned ${formatSize(scanned)}, about ${formatCost(report.cost)}`);
      return report;
    }
    if (state === 'FAILED' || state === 'CANCELLED') {
      const reason = q?.Status?.StateChangeReason ?? q?.Status?.AthenaError?.ErrorMessage ?? 'no reason given';
      throw new RetailctlError('ATHENA_QUERY', `athena: query ${id} ${state.toLowerCase()}: ${reason}`, {
        exitCode: ExitCode.Failure,
        hint: state === 'CANCELLED' ? 'someone or something stopped the query; rerun to run it again' : 'see the query in the Athena console (Recent queries); --dry-run prints the SQL',
        data: { athena: { queryId: id, state, reason } },
      });
    }
    // a stop ends the wait at once; the loop's next turn stops the query
    await sleep(wait, ctx.signal).catch(() => undefined);
    wait = Math.min(POLL_MAX_MS, Math.round(wait * 1.5));
  }
}

/** The result object's records, chunk by chunk (`until` ends the read early). */
async function* resultRecords(ctx: CommandContext, location: string, until?: (r: ResultRecord) => boolean): AsyncGenerator<ResultRecord> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const s3 = await (await ctx.aws()).read.client('s3');
  const { bucket, key } = parseS3('the query result', location);
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: ctx.signal });
  const body = res.Body as Readable;
  const parser = new ResultParser();
  try {
    for await (const chunk of body) {
      ctx.signal.throwIfAborted();
      for (const r of parser.push(chunk as Buffer)) {
        if (until?.(r)) return;
        yield r;
      }
    }
    for (const r of parser.end()) {
      if (until?.(r)) return;
      yield r;
    }
  } catch (err) {
    if (err instanceof RetailctlError || ctx.signal.aborted) throw err;
    throw new RetailctlError('ATHENA_RESULT', `athena: the query result ${shown(location)} could not be read: ${(err as Error).message}`, { exitCode: ExitCode.Failure, hint: 'rerun; the query result is in the output location for a look', cause: err });
  } finally {
    body.destroy();
  }
}

/** Write the manifests, make the tables, run the query and open its result. */
export async function executeAthena(ctx: CommandContext, g: Gathered, request: AthenaRequest): Promise<AthenaRun> {
  const aws = await ctx.aws();
  const write = aws.write();
  const s3 = await write.client('s3');
  for (const t of g.plan.tables) await putText(s3, t.manifest.url, t.manifest.body, ctx.signal);
  if (g.plan.safety) await putText(s3, g.plan.safety.object.url, g.plan.safety.object.body, ctx.signal);
  for (const t of [...g.plan.tables.map((x) => x.definition), ...(g.plan.safety ? [g.plan.safety.definition] : [])]) {
    const done = await upsertTable(ctx, aws.read, write, g.plan.database, t);
    ctx.out.debug(`athena: table ${g.plan.database}.${t.Name} ${done}`);
  }
  const query = await runQuery(ctx, g);

  // the head of the result: the summary and the marker records come before any row
  const summaries: Extract<ResultRecord, { kind: 'summary' }>[] = [];
  const marks: Extract<ResultRecord, { kind: 'mark' }>[] = [];
  for await (const r of resultRecords(ctx, query.resultLocation, (x) => x.kind === 'row')) {
    if (r.kind === 'summary') summaries.push(r);
    else if (r.kind === 'mark') marks.push(r);
  }
  const { summary, rows } = summaryOf(summaries, g.sources);
  const groups = new Map(summaries.filter((s) => s.class === '#rows').map((s) => [s.channel, s.count]));
  const badGroups = new Set(marks.filter((m) => m.class === '#bad').map((m) => m.channel));
  const files = new Map(g.sources.map((s) => [s.name, s.objects.length === 1 ? s.objects[0]!.url : `${s.objects.length} objects (${s.objects[0]?.url ?? 'none'} …)`]));
  const errors = markErrors(marks, files);
  const count = Object.entries(summary.byClass).reduce((n, [c, k]) => n + (c === 'ok' && !request.all ? 0 : k), 0);
  const sources = g.sources.map((s) => {
    const keys = (groups.get(s.name) ?? 0) - (badGroups.has(s.name) ? 1 : 0);
    return { name: s.name, role: s.role, keys, rows: rows.get(s.name) ?? 0 };
  });
  const stats: SourceStats[] = g.sources.map((s) => ({ name: s.name, rows: rows.get(s.name) ?? 0, files: s.objects.map((o) => ({ shown: o.url, rows: 0, ...(o.modified ? { modified: o.modified } : {}) })) }));

  /** Every drift row as it comes, its repeats expanded. */
  async function* rowsOf(pace?: Pace): AsyncGenerator<ResultRow> {
    let n = 0;
    for await (const r of resultRecords(ctx, query.resultLocation)) {
      if (r.kind !== 'row') continue;
      for (let k = 0; k < r.count; k++) {
        if ((++n & 0xfff) === 0 && pace?.due()) await pace.turn();
        yield r.row;
      }
    }
  }
  let top: ResultRow[] | undefined;
  /** A bounded selection of the most severe rows, as the local engine's top(). */
  const selector = (k: number) => {
    let best: ResultRow[] = [];
    return {
      add(row: ResultRow) {
        if (row.class === 'ok') return;
        best.push(row);
        if (best.length >= k * 8) best = best.sort(bySeverityFast).slice(0, k * 4);
      },
      result: () => best.sort(bySeverityFast).slice(0, k),
    };
  };
  const result: ReconcileResult = {
    summary,
    count,
    async topPaced(k, pace) {
      if (top && top.length >= Math.min(k, 10)) return top.slice(0, k);
      const s = selector(k);
      for await (const row of rowsOf(pace)) s.add(row);
      return s.result();
    },
    async rowsPaced(pace) {
      const all: ResultRow[] = [];
      for await (const row of rowsOf(pace)) all.push(row);
      return sortPaced(all, bySeverityFast, pace);
    },
    async *chunks(format: RowFormat, pace?: Pace) {
      const out = new ByteWriter(2 * CHUNK);
      const lines = new LineJoiner(format, out);
      const s = selector(10);
      for await (const row of rowsOf(pace)) {
        s.add(row);
        lines.next();
        out.text(rowLine(row, format));
        if (out.n >= CHUNK) yield out.take();
      }
      lines.end();
      yield out.take();
      top = s.result();
    },
  };
  return { result, errors, stats, sources, query };
}
