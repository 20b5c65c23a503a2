import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InventoryConfig } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { STDOUT } from '../io/paths.js';
import { rowFormatOf, writeFileAtomic, writeRowsFile } from '../io/rows.js';
import { sanitizeText, shown } from '../util/sanitize.js';
import { DelimitedError, DelimitedReader } from './delimited.js';
import { checkRowCountsFile, checkSources, sourceLimits, type SourceStats } from './freshness.js';
import { Pace, PacedSink } from './pace.js';
import { checkInputFile, checkOutputs, readPreviousResults } from './preflight.js';
import { findFiles } from './files.js';
import { checkNotEmpty, readSource, storeSink, type RowError, type SourceSpec } from './read.js';
import type { ParallelRead } from './parallel.js';
import type { AthenaRun } from './athena-run.js';
import { badRowCount } from './model.js';
import { InventoryStore, reconcilePaced, RESULT_COLUMNS, type ReconcileResult, type ResultRow } from './reconcile.js';
import { checkPublishTarget, newRunId, parsePublishTarget, toEvent, type DriftEvent, type PublishResult, type PublishTarget, type TargetIdentity } from './publish.js';
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
  /** `--threads`: overrides inventory.threads. */
  threads?: number;
  /** `--engine`: overrides inventory.engine (default local). */
  engine?: 'local' | 'athena';
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
  // the values themselves go to the parallel engine's threads
  return Object.assign((sku: string) => values.get(sku) ?? 0, { values });
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

export { RESULT_COLUMNS };

/** Everything checked before any source is read. */
interface Prepared {
  loaded: Awaited<ReturnType<CommandContext['config']>>;
  config: InventoryConfig;
  sources: SourceSpec[];
  previous?: Awaited<ReturnType<typeof readPreviousResults>>;
  target?: PublishTarget;
  identity?: TargetIdentity;
  safetyStock: number | ((sku: string) => number);
  /** `-` writes rows (or the plan) to stdout: the summary then goes to stderr. */
  stdoutTaken: boolean;
}

/** Before any source is read: every output can be written, every extra input is what it should be, the publish target exists. */
async function prepare(ctx: CommandContext, request: ReconcileRequest): Promise<Prepared> {
  const loaded = await ctx.config();
  const config = loaded.config.inventory;
  if (!config) throw new RetailctlError('INVENTORY_CONFIG', 'the config has no `inventory:` section', { exitCode: ExitCode.Usage, hint: 'see examples/retailctl.yaml' });
  const sources = specs(config, request.sources);
  const cwd = ctx.cwd;
  await checkOutputs({ out: request.out, errors: request.errors, planOut: ctx.options.planOut }, { cwd, json: ctx.options.json, inputs: await localInputs(sources, loaded.resolve, cwd) });
  const previous = request.since ? await readPreviousResults(path.resolve(cwd, request.since), request.since) : undefined;
  const target = request.publish ? parsePublishTarget(request.publish) : undefined;
  const planOut = ctx.options.planOut;
  if (planOut !== undefined && !target) throw new RetailctlError('USAGE', '--plan-out: inventory reconcile writes to AWS only with --publish: give --publish eventbridge:<bus> or sqs:<queue-url>, or leave --plan-out out', { exitCode: ExitCode.Usage });
  const safetyStock = await safetyStockOf(config, loaded.resolve);
  // the shrunk-source check needs this run's row counts kept for the next one
  if (!ctx.options.dryRun) await checkRowCountsFile(cwd);
  // a bus or queue that is not there is exit 2 before any source is read, not a failed send after the whole run (a read call)
  const identity = target && request.publish ? await checkPublishTarget(target, request.publish, (await ctx.aws()).read, ctx.signal) : undefined;
  const stdoutTaken = request.out === STDOUT || request.errors === STDOUT || planOut === STDOUT;
  return { loaded, config, sources, previous, target, identity, safetyStock, stdoutTaken };
}

/** The sources as read: in one store (one thread), or in the partitions of the parallel engine's threads. */
type Inputs = { store: InventoryStore; parallel?: undefined; athena?: undefined } | { store?: undefined; parallel: ParallelRead; athena?: undefined } | { store?: undefined; parallel?: undefined; athena: AthenaRun };

/** Where a row error is: file and line, or the file alone (Athena counts bad rows without line numbers). */
function where(e: RowError): string {
  return e.line > 0 ? `${e.file}:${e.line}` : e.file;
}

/** Read every source, warehouse first; bad rows over --max-errors are exit 2. */
async function readAll(ctx: CommandContext, request: ReconcileRequest, p: Prepared, pace: Pace, toStdout: { stdout: PacedSink }) {
  // One source after the other, warehouse first: keys get ids in the warehouse's order, and the
  // other exports (usually sorted the same way) then find each next key without a table probe.
  const order = { warehouse: 0, orders: 1, channel: 2 } as const;
  const ordered = [...p.sources].sort((a, b) => order[a.role] - order[b.role]);
  const t = Date.now();
  const { readParallel } = await import('./parallel.js');
  const parallel = await readParallel(ordered, { threads: request.threads ?? p.config.threads, resolve: p.loaded.resolve, cwd: ctx.cwd, now: ctx.now(), signal: ctx.signal, duplicates: request.duplicates, debug: (line) => ctx.out.debug(line) });
  let inputs: Inputs;
  let errors: RowError[];
  let read: SourceStats[];
  if (parallel) {
    inputs = { parallel };
    ({ errors, stats: read } = parallel);
    ctx.out.debug(`read ${ordered.length} sources on ${parallel.threads} threads in ${Date.now() - t} ms`);
  } else {
    errors = [];
    const onError = (e: RowError) => errors.push(e);
    const aws = p.sources.some((s) => s.paths.some((x) => x.startsWith('s3://'))) ? () => ctx.aws().then((a) => a.read) : undefined;
    const store = new InventoryStore();
    inputs = { store };
    read = [];
    for (const spec of ordered) {
      const t = Date.now();
      const source = store.addSource(spec.name, spec.role);
      read.push(await readSource(spec, { resolve: p.loaded.resolve, aws, signal: ctx.signal, cwd: ctx.cwd, now: ctx.now() }, storeSink(store, source, request.duplicates, onError)));
      pace.check();
      ctx.out.debug(`read ${spec.name} (${spec.role}): ${source.size.toLocaleString('en-US')} keys in ${Date.now() - t} ms`);
    }
  }
  try {
    return { inputs, errors, sourceCheck: await checkRead(ctx, request, p, read, errors, pace, toStdout) };
  } catch (err) {
    await inputs.parallel?.close(); // the threads end with the run, whatever stops it here
    throw err;
  }
}

/** What was read, checked: fresh enough sources, --errors written, bad rows within --max-errors. */
async function checkRead(ctx: CommandContext, request: ReconcileRequest, p: Prepared, read: SourceStats[], errors: RowError[], pace: Pace, toStdout: { stdout: PacedSink }) {
  // --- source freshness (freshness.ts): stale or shrunk sources are refused (exit 5) before anything is written
  const sourceCheck = await checkSources({ cwd: ctx.cwd, configFile: p.loaded.absolutePath, now: ctx.now(), sources: p.sources, stats: read });
  if (request.errors) await writeRowsFile(request.errors === STDOUT ? STDOUT : path.resolve(ctx.cwd, request.errors), stoppable(errors, pace), ['source', 'file', 'line', 'reason'], toStdout);
  const bad = badRowCount(errors);
  if (bad > request.maxErrors) {
    throw new RetailctlError('INVENTORY_INPUT', `${bad} bad row${bad === 1 ? '' : 's'} in the inputs (--max-errors ${request.maxErrors})`, {
      exitCode: ExitCode.Usage,
      details: [...errors.slice(0, SHOWN_ERRORS).map((e) => `${e.source}: ${where(e)}: ${e.reason}`), ...(errors.length > SHOWN_ERRORS ? [`… and ${errors.length - SHOWN_ERRORS} more${request.errors ? ` (all in ${request.errors === STDOUT ? 'the rows on stdout' : request.errors})` : ' (--errors <file> lists all)'}`] : [])],
      hint: 'fix the exports, or allow some with --max-errors N (bad rows are then left out)',
      data: { errors: errors.slice(0, 1000), errorCount: bad },
      locations: errors.slice(0, SHOWN_ERRORS).filter((e) => e.line > 0).map((e) => ({ file: e.file, line: e.line, message: `${e.source}: ${e.reason}` })),
      locationCount: errors.filter((e) => e.line > 0).length,
    });
  }
  for (const e of errors.slice(0, SHOWN_ERRORS)) ctx.out.warn(`skipped ${e.source}: ${where(e)}: ${e.reason}`);
  return sourceCheck;
}

/** Reconcile, compare with --since, write --out; the drift rows and the top ones for the summary. */
async function reconcileAndWrite(ctx: CommandContext, request: ReconcileRequest, p: Prepared, inputs: Inputs, pace: Pace, toStdout: { stdout: PacedSink }) {
  const reconcileStarted = Date.now();
  const options = { safetyStock: p.safetyStock, tolerance: p.config.tolerance.units, keepOk: request.all };
  const values = typeof p.safetyStock === 'function' ? (p.safetyStock as { values?: Map<string, number> }).values : undefined;
  const result: ReconcileResult = inputs.athena ? inputs.athena.result : inputs.parallel ? await inputs.parallel.reconcile({ ...options, keepOk: options.keepOk, safetyValues: values ? [...values] : undefined }, pace) : await reconcilePaced(inputs.store, options, pace);
  if (!inputs.athena) {
    const keyCount = inputs.parallel ? inputs.parallel.keys : inputs.store.keys.size;
    ctx.out.debug(`reconciled ${keyCount.toLocaleString('en-US')} sku/location keys across ${p.sources.filter((s) => s.role === 'channel').length} channels in ${Date.now() - reconcileStarted} ms`);
  }
  // every row object is built only when something reads them all
  const needRows = Boolean(request.since || request.publish);
  const rowsStarted = Date.now();
  const rows = needRows ? await result.rowsPaced(pace) : [];
  if (needRows) ctx.out.debug(`built ${rows.length.toLocaleString('en-US')} result rows, most severe first, in ${Date.now() - rowsStarted} ms`);
  let drift: (ResultRow | ChangedRow)[] = request.all ? rows.filter((r) => r.class !== 'ok') : rows;
  let changes: Record<string, number> | undefined;
  if (p.previous) {
    drift = compareWithPrevious(rows, p.previous);
    changes = { new: 0, persisting: 0, resolved: 0 };
    for (const r of drift as ChangedRow[]) changes[r.change] = (changes[r.change] ?? 0) + 1;
  }
  const columns = request.since ? [...RESULT_COLUMNS, 'change', 'previousClass'] : RESULT_COLUMNS;
  if (request.out) {
    const target = request.out === STDOUT ? STDOUT : path.resolve(ctx.cwd, request.out);
    if (needRows) await writeRowsFile(target, stoppable(request.all ? [...rows, ...drift.filter((r) => (r as ChangedRow).change === 'resolved')] : drift, pace), columns, toStdout);
    // without --since/--publish the rows are written straight from the compact results, class by class, never all in memory
    else await writeFileAtomic(target, result.chunks(rowFormatOf(request.out), pace), toStdout);
  }
  const top = needRows ? firstDrift(drift, 10) : await result.topPaced(10, pace);
  return { summary: result.summary, drift, changes, top, needRows, count: needRows ? drift.length : result.count };
}

/** The first `k` rows that are drift now (not ok, not resolved since the last run): the summary's top rows, without a pass over millions. */
function firstDrift(rows: readonly (ResultRow | ChangedRow)[], k: number): (ResultRow | ChangedRow)[] {
  const top: (ResultRow | ChangedRow)[] = [];
  for (let i = 0; i < rows.length && top.length < k; i++) {
    const r = rows[i]!;
    if ((r as ChangedRow).change !== 'resolved' && r.class !== 'ok') top.push(r);
  }
  return top;
}

type Published = PublishResult & { target: string; runId: string; events: number; dryRun: boolean; planFile?: string; digest?: string; expiresAt?: string };

/** `--publish`: the drift events through the one apply step (plan file, dry run, confirmation, send). */
async function publishDrift(ctx: CommandContext, publish: string, p: Prepared, drift: readonly (ResultRow | ChangedRow)[], pace: Pace): Promise<{ published: Published; text?: string }> {
  pace.check();
  const runId = newRunId(ctx.now());
  const events: DriftEvent[] = [];
  let n = 0;
  for (const r of drift) {
    if ((r as ChangedRow).change !== 'resolved') events.push(toEvent(r, runId));
    if ((++n & 0xfff) === 0 && pace.due()) await pace.turn();
  }
  const { inventoryPublishKind, publishPlan, publishPreconditions, renderPublishPlan } = await import('./kind.js');
  const { runPlan } = await import('../plan/step.js');
  const plan = publishPlan(publish, runId, events);
  const outcome = await runPlan(ctx, inventoryPublishKind, { kind: plan.kind, plan, preconditions: publishPreconditions(p.target!, p.identity ?? null), text: renderPublishPlan(plan), noop: events.length === 0 });
  const none = { target: publish, runId, events: events.length, sent: 0, failed: [], calls: 0 };
  if (ctx.options.planOut !== undefined) {
    // the events as they would be sent, in a plan file for `retailctl apply`; nothing is sent
    const doc = outcome.data as { digest?: string; expiresAt?: string };
    return { published: { ...none, dryRun: false, planFile: ctx.options.planOut, digest: doc.digest, expiresAt: doc.expiresAt }, text: outcome.text };
  }
  if (ctx.options.dryRun) {
    ctx.out.info(`--dry-run: ${events.length} events would be sent to ${publish} in ${Math.ceil(events.length / 10)} calls; none sent`);
    return { published: { ...none, dryRun: true } };
  }
  return { published: outcome.data.published as Published, text: outcome.text };
}

/** `retailctl inventory reconcile`: read every source, reconcile, report, exit 5 on a failOn class. */
export async function inventoryReconcile(ctx: CommandContext, request: ReconcileRequest): Promise<CommandResult> {
  const p = await prepare(ctx, request);
  // rows are data (written as they are) unless stdout is a terminal: then control characters in a
  // sku must not drive it, so they are shown escaped like every other printed value
  const toStdout = { stdout: new PacedSink(ctx.out.rawStdout, ctx.out.rawStdout.isTTY ? (chunk) => sanitizeText(chunk) : undefined) };
  // Ctrl-C / SIGTERM: every long loop below gives the event loop a turn at least every 50 ms and stops there
  const pace = new Pace(ctx.signal);
  const started = Date.now();
  if ((request.engine ?? p.config.engine) === 'athena') return reconcileOnAthena(ctx, request, p, pace, toStdout, started);
  const { inputs, errors, sourceCheck } = await readAll(ctx, request, p, pace, toStdout);
  try {
    return await finish(ctx, request, p, inputs, errors, sourceCheck, pace, toStdout, started);
  } finally {
    await inputs.parallel?.close();
  }
}

/** `--engine athena`: the plan (all --dry-run shows), then the query, then the same report as the local engine's. */
async function reconcileOnAthena(ctx: CommandContext, request: ReconcileRequest, p: Prepared, pace: Pace, toStdout: { stdout: PacedSink }, started: number): Promise<CommandResult> {
  if (request.threads !== undefined) throw new RetailctlError('USAGE', '--threads: the athena engine reconciles on Athena, not on this machine\'s threads; leave --threads out', { exitCode: ExitCode.Usage });
  const { executeAthena, gatherAthena, renderAthenaPlan } = await import('./athena-run.js');
  const gathered = await gatherAthena(ctx, p.sources, p.config, p.safetyStock, { duplicates: request.duplicates, all: request.all });
  if (ctx.options.dryRun) {
    const { plan } = gathered;
    const data = { engine: 'athena', dryRun: true, workgroup: gathered.config.workgroup, database: plan.database, outputLocation: plan.outputLocation, scanBytes: plan.scanBytes, estimatedCost: plan.estimatedCost, tables: plan.tables.map((t) => ({ source: t.source, table: t.definition.Name, objects: t.manifest.body.trim().split('\n').length, bytes: t.bytes })), ddl: plan.ddl, query: plan.query };
    return { exitCode: ExitCode.Ok, data, text: renderAthenaPlan(gathered) };
  }
  const run = await executeAthena(ctx, gathered, { duplicates: request.duplicates, all: request.all });
  for (const spec of p.sources) {
    const stats = run.stats.find((s) => s.name === spec.name)!;
    checkNotEmpty(spec, stats, gathered.sources.find((s) => s.name === spec.name)!.objects.map((o) => ({ file: o.url, shown: o.url })));
  }
  const sourceCheck = await checkRead(ctx, request, p, run.stats, run.errors, pace, toStdout);
  return finish(ctx, request, p, { athena: run }, run.errors, sourceCheck, pace, toStdout, started);
}

/** Reconcile, write, publish and report what was read. */
async function finish(ctx: CommandContext, request: ReconcileRequest, p: Prepared, inputs: Inputs, errors: RowError[], sourceCheck: Awaited<ReturnType<typeof checkSources>>, pace: Pace, toStdout: { stdout: PacedSink }, started: number): Promise<CommandResult> {
  const r = await reconcileAndWrite(ctx, request, p, inputs, pace, toStdout);
  const failing = p.config.failOn.filter((c) => r.summary.byClass[c] > 0);
  const publishing = request.publish ? await publishDrift(ctx, request.publish, p, r.drift, pace) : undefined;
  const published = publishing?.published;
  const data = {
    summary: r.summary,
    failOn: p.config.failOn,
    failing,
    rows: r.count,
    badRows: badRowCount(errors),
    sources: inputs.athena ? inputs.athena.sources : inputs.parallel ? inputs.parallel.sources : inputs.store.sources.map((t) => ({ name: t.name, role: t.role, keys: t.size })),
    ...(inputs.athena ? { engine: 'athena', athena: inputs.athena.query } : { engine: 'local' }),
    top: r.top,
    changes: r.changes ?? null,
    published: published ?? null,
    out: request.out ?? null,
    elapsedMs: Date.now() - started,
  };
  let text = renderSummary(r.summary, r.top, failing, ctx.out);
  if (r.changes) text += `\nsince ${request.since}: ${r.changes.new} new, ${r.changes.persisting} persisting, ${r.changes.resolved} resolved`;
  if (publishing?.text) text += `\n${publishing.text}`;
  const exitCode = published?.failed.length ? ExitCode.PartialFailure : failing.length ? ExitCode.CheckFailed : ExitCode.Ok;
  // --- source freshness: this run's row counts are the next run's baseline (not a dry run's)
  if (!ctx.options.dryRun) {
    const problem = await sourceCheck.record();
    if (problem) ctx.out.warn(problem);
  }
  // with --out - stdout holds only the rows (with --plan-out -, the plan): the summary is a message on stderr
  if (p.stdoutTaken && !ctx.options.json) {
    ctx.out.info(`summary (the ${ctx.options.planOut === STDOUT ? 'plan is' : 'rows are'} on stdout):\n${text}`);
    return { exitCode, data };
  }
  return { exitCode, data, text };
}

export type { ResultRow };
