import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InventoryConfig } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { writeRowsFile } from '../io/rows.js';
import { DelimitedReader } from './delimited.js';
import { checkSources, sourceLimits, type SourceStats } from './freshness.js';
import { readSource, type RowError, type SourceSpec } from './read.js';
import { InventoryStore, reconcile, type ResultRow } from './reconcile.js';
import { newRunId, parsePublishTarget, publishEvents, toEvent, type PublishResult } from './publish.js';
import { renderSummary } from './render.js';
import { compareWithPrevious, type ChangedRow } from './since.js';

export interface ReconcileRequest {
  /** `--source name=path` overrides. */
  sources: string[];
  /** `--since`: the previous run's results (a JSON array written with --out results.json). */
  since?: string;
  /** `--publish eventbridge:<bus>` or `sqs:<queue-url>`. */
  publish?: string;
  out?: string;
  all: boolean;
  errors?: string;
  maxErrors: number;
  duplicates: 'error' | 'sum';
}

/** Errors shown on the terminal; all of them go to `--errors`. */
const SHOWN_ERRORS = 20;

function specs(config: InventoryConfig, overrides: string[]): SourceSpec[] {
  const paths: Record<string, string[]> = {};
  for (const o of overrides) {
    const m = /^([^=]+)=(.+)$/.exec(o);
    if (!m) throw new RetailctlError('USAGE', `--source: "${o}" is not name=path`, { exitCode: ExitCode.Usage, hint: 'e.g. --source web=exports/web-2026-11-27.csv.gz' });
    if (!config.sources[m[1]!]) throw new RetailctlError('USAGE', `--source: no source named "${m[1]}" in inventory.sources (it has ${Object.keys(config.sources).join(', ')})`, { exitCode: ExitCode.Usage });
    (paths[m[1]!] ??= []).push(m[2]!);
  }
  const out = Object.entries(config.sources).map(([name, s]) => ({
    name,
    role: s.role,
    paths: paths[name] ?? (Array.isArray(s.path) ? s.path : [s.path]),
    columns: s.columns,
    ...(s.format ? { format: s.format } : {}),
    locationMap: { ...(config.locationMap ?? {}), ...(s.locationMap ?? {}) },
    limits: sourceLimits(s), // allowEmpty, maxAge, maxShrink (freshness.ts)
  }));
  for (const role of ['warehouse', 'channel'] as const) {
    if (!out.some((s) => s.role === role)) throw new RetailctlError('INVENTORY_CONFIG', `inventory.sources needs at least one ${role} source`, { exitCode: ExitCode.Usage });
  }
  return out;
}

async function safetyStockOf(config: InventoryConfig, resolve: (p: string) => string): Promise<number | ((sku: string) => number)> {
  if (typeof config.safetyStock === 'number') return config.safetyStock;
  const file = resolve(config.safetyStock.file);
  const values = new Map<string, number>();
  let header: string[] | undefined;
  const reader = new DelimitedReader(file.endsWith('.tsv') ? '\t' : ',', (fields, line) => {
    if (!header) {
      header = fields;
      if (!header.includes('sku') || !header.includes('safetyStock')) throw new RetailctlError('INVENTORY_CONFIG', `${config.safetyStock && typeof config.safetyStock === 'object' ? config.safetyStock.file : file}: needs columns "sku" and "safetyStock" (has ${header.join(', ')})`, { exitCode: ExitCode.Usage });
      return;
    }
    const n = Number(fields[header.indexOf('safetyStock')]);
    if (!Number.isInteger(n) || n < 0) throw new RetailctlError('INVENTORY_CONFIG', `${file}:${line}: safetyStock must be a whole number ≥ 0`, { exitCode: ExitCode.Usage });
    values.set(fields[header.indexOf('sku')]!, n);
  });
  reader.push(await readFile(file));
  reader.end();
  return (sku) => values.get(sku) ?? 0;
}

export const RESULT_COLUMNS = ['class', 'sku', 'location', 'channel', 'onHand', 'reserved', 'safetyStock', 'expected', 'actual', 'delta', 'price', 'valueAtRisk'];

/** `retailctl inventory reconcile`: read every source, reconcile, report, exit 5 on a failOn class. */
export async function inventoryReconcile(ctx: CommandContext, request: ReconcileRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const config = loaded.config.inventory;
  if (!config) throw new RetailctlError('INVENTORY_CONFIG', 'the config has no `inventory:` section', { exitCode: ExitCode.Usage, hint: 'see examples/retailctl.yaml' });
  const sources = specs(config, request.sources);
  const safetyStock = await safetyStockOf(config, loaded.resolve);
  const errors: RowError[] = [];
  const onError = (e: RowError) => errors.push(e);
  const aws = sources.some((s) => s.paths.some((p) => p.startsWith('s3://'))) ? () => ctx.aws().then((a) => a.read) : undefined;

  const started = Date.now();
  const store = new InventoryStore();
  // One source after the other, warehouse first: keys get ids in the warehouse's order, and the
  // other exports (usually sorted the same way) then find each next key without a table probe.
  const order = { warehouse: 0, orders: 1, channel: 2 } as const;
  const read: SourceStats[] = [];
  for (const spec of [...sources].sort((a, b) => order[a.role] - order[b.role])) {
    const t = Date.now();
    const source = store.addSource(spec.name, spec.role);
    read.push(await readSource(spec, { resolve: loaded.resolve, aws, signal: ctx.signal, cwd: ctx.cwd }, { store, source, duplicates: request.duplicates, onError }));
    ctx.out.debug(`read ${spec.name} (${spec.role}): ${source.size.toLocaleString('en-US')} keys in ${Date.now() - t} ms`);
  }
  // --- source freshness (freshness.ts): stale or shrunk sources are refused (exit 5) before anything is written
  const sourceCheck = await checkSources({ cwd: ctx.cwd, configFile: loaded.absolutePath, now: ctx.now(), sources, stats: read });
  const cwd = ctx.cwd;
  if (request.errors) await writeRowsFile(path.resolve(cwd, request.errors), errors, ['source', 'file', 'line', 'reason']);
  if (errors.length > request.maxErrors) {
    throw new RetailctlError('INVENTORY_INPUT', `${errors.length} bad row${errors.length === 1 ? '' : 's'} in the inputs (--max-errors ${request.maxErrors})`, {
      exitCode: ExitCode.Usage,
      details: [...errors.slice(0, SHOWN_ERRORS).map((e) => `${e.source}: ${e.file}:${e.line}: ${e.reason}`), ...(errors.length > SHOWN_ERRORS ? [`… and ${errors.length - SHOWN_ERRORS} more${request.errors ? ` (all in ${request.errors})` : ' (--errors <file> lists all)'}`] : [])],
      hint: 'fix the exports, or allow some with --max-errors N (bad rows are then left out)',
      data: { errors: errors.slice(0, 1000), errorCount: errors.length },
    });
  }
  for (const e of errors.slice(0, SHOWN_ERRORS)) ctx.out.warn(`skipped ${e.source}: ${e.file}:${e.line}: ${e.reason}`);

  const reconcileStarted = Date.now();
  const result = reconcile(store, { safetyStock, tolerance: config.tolerance.units, keepOk: request.all });
  ctx.out.debug(`reconciled ${store.keys.size.toLocaleString('en-US')} sku/location keys across ${store.sources.filter((s) => s.role === 'channel').length} channels in ${Date.now() - reconcileStarted} ms`);
  const summary = result.summary;
  // every row object is built only when something reads them all
  const needRows = Boolean(request.since || request.publish);
  const rows = needRows ? result.rows : [];
  let drift: (ResultRow | ChangedRow)[] = request.all ? rows.filter((r) => r.class !== 'ok') : rows;
  let changes: Record<string, number> | undefined;
  if (request.since) {
    const previous = await readPrevious(path.resolve(cwd, request.since), request.since);
    drift = compareWithPrevious(rows, previous);
    changes = { new: 0, persisting: 0, resolved: 0 };
    for (const r of drift as ChangedRow[]) changes[r.change] = (changes[r.change] ?? 0) + 1;
  }
  const columns = request.since ? [...RESULT_COLUMNS, 'change', 'previousClass'] : RESULT_COLUMNS;
  if (request.out) {
    // without --since/--publish the rows are written as they are built, class by class, never all in memory
    const toWrite: Iterable<object> = needRows ? (request.all ? [...rows, ...drift.filter((r) => (r as ChangedRow).change === 'resolved')] : drift) : result.stream();
    await writeRowsFile(path.resolve(cwd, request.out), toWrite, columns);
  }
  const failing = config.failOn.filter((c) => summary.byClass[c] > 0);

  let published: (PublishResult & { target: string; runId: string; events: number; dryRun: boolean }) | undefined;
  if (request.publish) {
    const target = parsePublishTarget(request.publish);
    const runId = newRunId(ctx.now());
    const events = drift.filter((r) => (r as ChangedRow).change !== 'resolved').map((r) => toEvent(r, runId));
    if (ctx.options.dryRun) {
      published = { target: request.publish, runId, events: events.length, dryRun: true, sent: 0, failed: [], calls: 0 };
      ctx.out.info(`--dry-run: ${events.length} events would be sent to ${request.publish} in ${Math.ceil(events.length / 10)} calls; none sent`);
    } else {
      await ctx.confirm(`Publish ${events.length} drift events to ${request.publish}?`);
      const result = await publishEvents(events, target, (await ctx.aws()).write(), ctx.signal);
      published = { ...result, target: request.publish, runId, events: events.length, dryRun: false };
    }
  }
  const data = {
    summary,
    failOn: config.failOn,
    failing,
    rows: needRows ? drift.length : result.count,
    badRows: errors.length,
    sources: store.sources.map((t) => ({ name: t.name, role: t.role, keys: t.size })),
    top: needRows ? drift.filter((r) => (r as ChangedRow).change !== 'resolved' && r.class !== 'ok').slice(0, 10) : result.top(10),
    changes: changes ?? null,
    published: published ?? null,
    out: request.out ?? null,
    elapsedMs: Date.now() - started,
  };
  let text = renderSummary(summary, needRows ? drift.filter((r) => (r as ChangedRow).change !== 'resolved') : result.top(10), failing, ctx.out);
  if (changes) text += `\nsince ${request.since}: ${changes.new} new, ${changes.persisting} persisting, ${changes.resolved} resolved`;
  if (published && !published.dryRun) text += `\npublished ${published.sent} of ${published.events} events to ${published.target} in ${published.calls} calls (run ${published.runId})${published.failed.length ? `; ${published.failed.length} FAILED after retries` : ''}`;
  const exitCode = published?.failed.length ? ExitCode.PartialFailure : failing.length ? ExitCode.CheckFailed : ExitCode.Ok;
  // --- source freshness: this run's row counts are the next run's baseline (not a dry run's)
  if (!ctx.options.dryRun) {
    const problem = await sourceCheck.record();
    if (problem) ctx.out.warn(problem);
  }
  return { exitCode, data, text };
}

export type { ResultRow };

async function readPrevious(file: string, shown: string): Promise<ResultRow[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new RetailctlError('USAGE', `--since ${shown}: cannot read it as JSON: ${(err as Error).message}`, { exitCode: ExitCode.Usage, hint: 'pass the file an earlier run wrote with --out results.json' });
  }
  if (!Array.isArray(doc)) throw new RetailctlError('USAGE', `--since ${shown}: expected a JSON array of result rows (written with --out results.json)`, { exitCode: ExitCode.Usage });
  return (doc as (ResultRow & { change?: string })[]).filter((r) => r.change !== 'resolved');
}
