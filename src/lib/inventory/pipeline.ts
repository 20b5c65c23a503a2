import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InventoryConfig } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { STDOUT } from '../io/paths.js';
import { writeRowsFile } from '../io/rows.js';
import { sanitizeText, shown } from '../util/sanitize.js';
import { DelimitedError, DelimitedReader } from './delimited.js';
import { checkRowCountsFile, checkSources, sourceLimits, type SourceStats } from './freshness.js';
import { Pace, PacedSink } from './pace.js';
import { checkInputFile, checkOutputs, readPreviousResults } from './preflight.js';
import { findFiles } from './files.js';
import { readSource, type RowError, type SourceSpec } from './read.js';
import { InventoryStore, reconcilePaced, type ResultRow } from './reconcile.js';
import { checkPublishTarget, newRunId, parsePublishTarget, publishEvents, toEvent, type DriftEvent, type PublishResult } from './publish.js';
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
  // a Map and Object.hasOwn: a name like "constructor" or "__proto__" is just a name that is not there
  const paths = new Map<string, string[]>();
  for (const o of overrides) {
    const m = /^([^=]+)=(.+)$/.exec(o);
    if (!m) throw new RetailctlError('USAGE', `--source: "${o}" is not name=path`, { exitCode: ExitCode.Usage, hint: 'e.g. --source web=exports/web-2026-11-27.csv.gz' });
    const name = m[1]!;
    if (!Object.hasOwn(config.sources, name)) throw new RetailctlError('USAGE', `--source: no source named "${shown(name)}" in inventory.sources (it has ${Object.keys(config.sources).join(', ')})`, { exitCode: ExitCode.Usage });
    const list = paths.get(name);
    if (list) list.push(m[2]!);
    else paths.set(name, [m[2]!]);
  }
  const out = Object.entries(config.sources).map(([name, s]) => ({
    name,
    role: s.role,
    paths: paths.get(name) ?? (Array.isArray(s.path) ? s.path : [s.path]),
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

/** Where `inventory.safetyStock.file` is named in messages. */
const SAFETY_FILE = 'inventory.safetyStock.file';

async function safetyStockOf(config: InventoryConfig, resolve: (p: string) => string): Promise<number | ((sku: string) => number)> {
  if (typeof config.safetyStock === 'number') return config.safetyStock;
  const given = config.safetyStock.file;
  const file = resolve(given);
  const hint = `fix ${SAFETY_FILE} in the config: a CSV (or .tsv) file with columns sku,safetyStock`;
  await checkInputFile(file, SAFETY_FILE, given, hint);
  const values = new Map<string, number>();
  let header: string[] | undefined;
  const reader = new DelimitedReader(file.endsWith('.tsv') ? '\t' : ',', (fields, line) => {
    if (!header) {
      header = fields;
      if (!header.includes('sku') || !header.includes('safetyStock')) throw new RetailctlError('INVENTORY_CONFIG', `${SAFETY_FILE} ${shown(given)}: needs columns "sku" and "safetyStock" (has ${header.map((h) => shown(h, 60)).join(', ')})`, { exitCode: ExitCode.Usage, hint });
      return;
    }
    const n = Number(fields[header.indexOf('safetyStock')]);
    if (!Number.isInteger(n) || n < 0) throw new RetailctlError('INVENTORY_CONFIG', `${shown(given)}:${line}: safetyStock must be a whole number ≥ 0`, { exitCode: ExitCode.Usage, hint });
    values.set(fields[header.indexOf('sku')]!, n);
  });
  try {
    reader.push(await readFile(file));
    reader.end();
  } catch (err) {
    if (err instanceof DelimitedError) throw new RetailctlError('INVENTORY_CONFIG', `${shown(given)}:${err.line}: ${err.reason}`, { exitCode: ExitCode.Usage, hint });
    throw err;
  }
  if (!header) throw new RetailctlError('INVENTORY_CONFIG', `${SAFETY_FILE} ${shown(given)}: is empty (it needs a header row sku,safetyStock)`, { exitCode: ExitCode.Usage, hint });
  return (sku) => values.get(sku) ?? 0;
}

/** The local files each source reads (absolute; s3:// sources have none), to keep outputs off them. */
async function localInputs(sources: SourceSpec[], resolve: (p: string) => string, cwd: string): Promise<Map<string, string[]>> {
  const inputs = new Map<string, string[]>();
  for (const spec of sources) {
    const local = spec.paths.filter((p) => !p.startsWith('s3://'));
    inputs.set(spec.name, (await findFiles(spec.name, local, { resolve, cwd })).map((f) => f.file));
  }
  return inputs;
}

/** `rows`, stopping with the run's abort reason once it is stopped (the writer gives the event loop its turns). */
function* stoppable<T>(rows: Iterable<T>, pace: Pace): Generator<T> {
  let n = 0;
  for (const row of rows) {
    if ((++n & 0xfff) === 0) pace.check();
    yield row;
  }
}

export const RESULT_COLUMNS = ['class', 'sku', 'location', 'channel', 'onHand', 'reserved', 'safetyStock', 'expected', 'actual', 'delta', 'price', 'valueAtRisk'];

/** `retailctl inventory reconcile`: read every source, reconcile, report, exit 5 on a failOn class. */
export async function inventoryReconcile(ctx: CommandContext, request: ReconcileRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const config = loaded.config.inventory;
  if (!config) throw new RetailctlError('INVENTORY_CONFIG', 'the config has no `inventory:` section', { exitCode: ExitCode.Usage, hint: 'see examples/retailctl.yaml' });
  const sources = specs(config, request.sources);
  const cwd = ctx.cwd;

  // Before any source is read: every output can be written, every extra input is what it should be.
  await checkOutputs({ out: request.out, errors: request.errors }, { cwd, json: ctx.options.json, inputs: await localInputs(sources, loaded.resolve, cwd) });
  const previous = request.since ? await readPreviousResults(path.resolve(cwd, request.since), request.since) : undefined;
  const target = request.publish ? parsePublishTarget(request.publish) : undefined;
  const safetyStock = await safetyStockOf(config, loaded.resolve);
  // the shrunk-source check needs this run's row counts kept for the next one
  if (!ctx.options.dryRun) await checkRowCountsFile(cwd);
  // a bus or queue that is not there is exit 2 before any source is read, not a failed send after the whole run (a read call)
  if (target && request.publish) await checkPublishTarget(target, request.publish, (await ctx.aws()).read, ctx.signal);
  /** `-` writes rows to stdout: the summary then goes to stderr. */
  const stdoutTaken = request.out === STDOUT || request.errors === STDOUT;
  // rows are data (written as they are) unless stdout is a terminal: then control characters in a
  // sku must not drive it, so they are shown escaped like every other printed value
  const toStdout = { stdout: new PacedSink(ctx.out.rawStdout, ctx.out.rawStdout.isTTY ? (chunk) => sanitizeText(chunk) : undefined) };
  // Ctrl-C / SIGTERM: every long loop below gives the event loop a turn at least every 50 ms and stops there
  const pace = new Pace(ctx.signal);

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
    read.push(await readSource(spec, { resolve: loaded.resolve, aws, signal: ctx.signal, cwd: ctx.cwd, now: ctx.now() }, { store, source, duplicates: request.duplicates, onError }));
    pace.check();
    ctx.out.debug(`read ${spec.name} (${spec.role}): ${source.size.toLocaleString('en-US')} keys in ${Date.now() - t} ms`);
  }
  // --- source freshness (freshness.ts): stale or shrunk sources are refused (exit 5) before anything is written
  const sourceCheck = await checkSources({ cwd: ctx.cwd, configFile: loaded.absolutePath, now: ctx.now(), sources, stats: read });
  if (request.errors) await writeRowsFile(request.errors === STDOUT ? STDOUT : path.resolve(cwd, request.errors), stoppable(errors, pace), ['source', 'file', 'line', 'reason'], toStdout);
  if (errors.length > request.maxErrors) {
    throw new RetailctlError('INVENTORY_INPUT', `${errors.length} bad row${errors.length === 1 ? '' : 's'} in the inputs (--max-errors ${request.maxErrors})`, {
      exitCode: ExitCode.Usage,
      details: [...errors.slice(0, SHOWN_ERRORS).map((e) => `${e.source}: ${e.file}:${e.line}: ${e.reason}`), ...(errors.length > SHOWN_ERRORS ? [`… and ${errors.length - SHOWN_ERRORS} more${request.errors ? ` (all in ${request.errors === STDOUT ? 'the rows on stdout' : request.errors})` : ' (--errors <file> lists all)'}`] : [])],
      hint: 'fix the exports, or allow some with --max-errors N (bad rows are then left out)',
      data: { errors: errors.slice(0, 1000), errorCount: errors.length },
    });
  }
  for (const e of errors.slice(0, SHOWN_ERRORS)) ctx.out.warn(`skipped ${e.source}: ${e.file}:${e.line}: ${e.reason}`);

  const reconcileStarted = Date.now();
  const result = await reconcilePaced(store, { safetyStock, tolerance: config.tolerance.units, keepOk: request.all }, pace);
  ctx.out.debug(`reconciled ${store.keys.size.toLocaleString('en-US')} sku/location keys across ${store.sources.filter((s) => s.role === 'channel').length} channels in ${Date.now() - reconcileStarted} ms`);
  const summary = result.summary;
  // every row object is built only when something reads them all
  const needRows = Boolean(request.since || request.publish);
  const rowsStarted = Date.now();
  const rows = needRows ? await result.rowsPaced(pace) : [];
  if (needRows) ctx.out.debug(`built ${rows.length.toLocaleString('en-US')} result rows, most severe first, in ${Date.now() - rowsStarted} ms`);
  let drift: (ResultRow | ChangedRow)[] = request.all ? rows.filter((r) => r.class !== 'ok') : rows;
  let changes: Record<string, number> | undefined;
  if (previous) {
    drift = compareWithPrevious(rows, previous);
    changes = { new: 0, persisting: 0, resolved: 0 };
    for (const r of drift as ChangedRow[]) changes[r.change] = (changes[r.change] ?? 0) + 1;
  }
  const columns = request.since ? [...RESULT_COLUMNS, 'change', 'previousClass'] : RESULT_COLUMNS;
  if (request.out) {
    // without --since/--publish the rows are written as they are built, class by class, never all in memory
    const toWrite: Iterable<object> = needRows ? stoppable(request.all ? [...rows, ...drift.filter((r) => (r as ChangedRow).change === 'resolved')] : drift, pace) : result.stream(pace);
    await writeRowsFile(request.out === STDOUT ? STDOUT : path.resolve(cwd, request.out), toWrite, columns, toStdout);
  }
  const failing = config.failOn.filter((c) => summary.byClass[c] > 0);
  const top = needRows ? drift.filter((r) => (r as ChangedRow).change !== 'resolved' && r.class !== 'ok').slice(0, 10) : await result.topPaced(10, pace);

  let published: (PublishResult & { target: string; runId: string; events: number; dryRun: boolean }) | undefined;
  if (request.publish && target) {
    pace.check();
    const runId = newRunId(ctx.now());
    const events: DriftEvent[] = [];
    let n = 0;
    for (const r of drift) {
      if ((r as ChangedRow).change !== 'resolved') events.push(toEvent(r, runId));
      if ((++n & 0xfff) === 0 && pace.due()) await pace.turn();
    }
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
    top,
    changes: changes ?? null,
    published: published ?? null,
    out: request.out ?? null,
    elapsedMs: Date.now() - started,
  };
  let text = renderSummary(summary, needRows ? drift.filter((r) => (r as ChangedRow).change !== 'resolved') : top, failing, ctx.out);
  if (changes) text += `\nsince ${request.since}: ${changes.new} new, ${changes.persisting} persisting, ${changes.resolved} resolved`;
  if (published && !published.dryRun) text += `\npublished ${published.sent} of ${published.events} events to ${published.target} in ${published.calls} calls (run ${published.runId})${published.failed.length ? `; ${published.failed.length} FAILED after retries` : ''}`;
  const exitCode = published?.failed.length ? ExitCode.PartialFailure : failing.length ? ExitCode.CheckFailed : ExitCode.Ok;
  // --- source freshness: this run's row counts are the next run's baseline (not a dry run's)
  if (!ctx.options.dryRun) {
    const problem = await sourceCheck.record();
    if (problem) ctx.out.warn(problem);
  }
  // with --out - stdout holds only the rows: the summary is a message on stderr
  if (stdoutTaken && !ctx.options.json) {
    ctx.out.info(`summary (the rows are on stdout):\n${text}`);
    return { exitCode, data };
  }
  return { exitCode, data, text };
}

export type { ResultRow };
