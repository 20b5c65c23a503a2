/**
 * The Markdown a run appends to GitHub's step summary, built from the command's `--json` document
 * (the same document `--json` prints, whether or not `--json` was given). Commands with a shape of
 * their own get their own tables; any other command gets a generic one. Every value from the
 * document is escaped: a sku or a record name cannot add a column, a line, a link or HTML.
 */
import { mdTable, mdText } from '../util/markdown.js';

export { mdTable, mdText };

/** Rows shown in a table of items (drift rows, targets, failures). */
export const TOP_ROWS = 10;

export interface SummaryInput {
  /** `cdn failover`; `` when no command was reached. */
  command: string;
  document: Record<string, unknown>;
  exitCode: number;
  /** The error's detail lines, for a failed run. */
  details?: readonly string[];
}

type Doc = Record<string, unknown>;

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Doc[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** The whole summary for one run, ending in a blank line (summaries of several steps follow each other). */
export function stepSummary(input: SummaryInput): string {
  const { command, document: doc, exitCode } = input;
  const parts: string[] = [`### retailctl ${mdText(command || '(no command)')}`];
  const error = isObject(doc.error) ? doc.error : undefined;
  // a dry run, a plan file written, or a plan refused before anything was sent
  const planned = doc.dryRun === true || (doc.plan !== undefined && doc.applied !== true && doc.noop !== true);
  if (error) parts.push(`**Failed** (exit ${exitCode}): ${mdText(error.code)}: ${mdText(error.message, 1000)}`);
  else if (doc.noop === true) parts.push(`**Nothing to do** (exit ${exitCode})`);
  else if (planned) parts.push(`**Planned, not applied**${doc.dryRun === true ? ' (--dry-run)' : ''} (exit ${exitCode})`);
  else parts.push(`**${exitCode === 0 ? 'Done' : 'Finished with problems'}** (exit ${exitCode})`);
  if (input.details?.length) parts.push(input.details.slice(0, TOP_ROWS).map((d) => `- ${mdText(d, 500)}`).join('\n'));
  if (error && isObject(error) && typeof error.hint === 'string') parts.push(`Hint: ${mdText(error.hint, 500)}`);
  // `apply` reports as the command that made the plan would
  const section = command === 'apply' && typeof doc.kind === 'string' ? KIND_SECTIONS[doc.kind] : SECTIONS[command];
  const body = (section ?? generic)(doc);
  parts.push(...body.filter(Boolean));
  return `${parts.join('\n\n')}\n\n`;
}

const SECTIONS: Record<string, (doc: Doc) => string[]> = {
  'cdn failover': cdn,
  'cdn failback': cdn,
  'cdn shift': cdn,
  prescale,
  'prescale restore': restore,
  'images migrate': images,
  'inventory reconcile': inventory,
};

/** A plan file's kind → the section of the command that made it. */
const KIND_SECTIONS: Record<string, (doc: Doc) => string[]> = {
  'cdn.failover': cdn,
  'cdn.failback': cdn,
  'cdn.shift': cdn,
  'prescale.schedule': prescale,
  'prescale.raise': prescale,
  'prescale.restore': restore,
  'images.migrate': images,
  'inventory.publish': published,
};

/** An applied inventory.publish plan: what was sent, and what failed. */
function published(doc: Doc): string[] {
  const p = isObject(doc.published) ? doc.published : undefined;
  if (!p) return generic(doc);
  const failed = objects(p.failed);
  const out = [mdTable(['target', 'run', 'events', 'sent', 'calls', 'failed'], [[p.target, p.runId, p.events, p.sent, p.calls, failed.length]])];
  if (failed.length) out.push(mdTable(['idempotencyKey', 'error'], failed.slice(0, TOP_ROWS).map((f) => [f.idempotencyKey, f.error])));
  return out;
}

/** CDN: traffic before → after, the record sets, the change. */
function cdn(doc: Doc): string[] {
  const plan = isObject(doc.plan) ? doc.plan : undefined;
  if (!plan) return generic(doc);
  const out = [mdTable(['group', 'routing', 'traffic before', 'traffic after', 'change'], [[plan.group, plan.routing, plan.trafficBefore, plan.trafficAfter, doc.changeId ? `${String(doc.changeId)} (${String(doc.status ?? '')})` : plan.noop ? 'nothing to do' : 'not sent']])];
  const sets: unknown[][] = [];
  for (const record of objects(plan.records)) {
    const after = new Map(objects(record.after).map((s) => [s.setIdentifier, s]));
    for (const before of objects(record.before)) sets.push([`${String(record.name)} ${String(record.type)}`, before.setIdentifier, before.target, before.routing, after.get(before.setIdentifier)?.routing ?? 'removed']);
  }
  if (sets.length) out.push(mdTable(['record', 'set', 'target', 'before', 'after'], sets.slice(0, TOP_ROWS * 2)));
  out.push(list('Refused', plan.refusals), list('Warnings', plan.warnings));
  return out;
}

/** Prescale: the window, and each target's capacity and the times it changes. */
function prescale(doc: Doc): string[] {
  const plan = isObject(doc.plan) ? doc.plan : undefined;
  if (!plan) return generic(doc);
  const out: string[] = [];
  const window = isObject(plan.window) ? plan.window : undefined;
  if (window) {
    const at = (k: string) => (isObject(window[k]) ? `${String(window[k].local).replace('T', ' ')} (${String(window[k].utc)})` : '');
    out.push(mdTable(['campaign', 'time zone', 'ready by', 'send at', 'back down at'], [[plan.campaign, window.timezone, at('readyBy'), at('sendAt'), at('endsAt')]]));
  }
  const results = new Map(objects(doc.results).map((r) => [r.key, r]));
  const range = (v: unknown) => (isObject(v) ? `${String(v.min)}/${String(v.max)}` : '');
  const time = (v: unknown) => (isObject(v) ? String(v.utc ?? '') : '');
  const targets = objects(plan.targets);
  const rows = targets.map((t) => {
    const ref = isObject(t.ref) ? t.ref : {};
    const result = results.get(ref.key);
    return [ref.label ?? ref.key, range(t.baseline), range(t.planned), isObject(t.up) ? time(t.up) : plan.mode === 'now' ? 'now' : '', time(t.drain) || time(t.down), time(t.down), result ? (result.status ?? '') : doc.applied === true ? '' : 'planned'];
  });
  if (rows.length) out.push(mdTable(['target', 'baseline min/max', 'planned min/max', 'up at (UTC)', 'down at (UTC)', 'baseline back at (UTC)', 'result'], rows.slice(0, TOP_ROWS * 3)));
  if (targets.length > TOP_ROWS * 3) out.push(`… and ${targets.length - TOP_ROWS * 3} more targets`);
  if (isObject(plan.cost) && typeof plan.cost.usd === 'number') out.push(`Estimated provisioned-concurrency cost: $${plan.cost.usd.toFixed(2)}`);
  out.push(list('Refused', plan.refusals), list('Warnings', plan.warnings));
  return out;
}

/** Prescale restore: each target's capacity now and what it goes back to. */
function restore(doc: Doc): string[] {
  const plan = isObject(doc.plan) ? doc.plan : undefined;
  if (!plan || !Array.isArray(plan.steps)) return generic(doc);
  const results = new Map(objects(doc.results).map((r) => [r.label ?? r.target, r]));
  const range = (v: unknown) => (isObject(v) ? `${String(v.min)}/${String(v.max)}` : '');
  const steps = objects(plan.steps);
  return [
    mdTable(['target', 'registered min/max', 'restore to min/max', 'result'], steps.slice(0, TOP_ROWS * 3).map((s) => [s.target, range(s.registered), range(s.restoreTo) || 'unchanged', results.get(s.target)?.status ?? (doc.applied === true ? '' : 'planned')])),
  ];
}

/** Images: counts (planned or done), failures. */
function images(doc: Doc): string[] {
  const plan = isObject(doc.plan) ? doc.plan : undefined;
  const counts = isObject(plan?.counts) ? plan.counts : isObject(doc.counts) ? doc.counts : undefined;
  if (!counts) return generic(doc);
  const bucket = plan?.bucket ?? doc.bucket;
  const prefix = plan?.prefix ?? doc.prefix ?? '';
  const out = [`Bucket: ${mdText(`s3://${String(bucket)}/${String(prefix)}`)}`, mdTable(Object.keys(counts), [Object.values(counts)])];
  const audit = isObject(doc.audit) ? doc.audit : undefined;
  if (audit) out.push(mdTable(['catalogue rows without an image', 'images no row references'], [[audit.missingImages, audit.unreferencedImages]]));
  const failed = objects(doc.failed);
  if (failed.length) out.push(mdTable(['failed source', 'key', 'reason'], failed.slice(0, TOP_ROWS).map((f) => [f.source, f.key, f.reason])));
  return out;
}

/** Inventory: drift per class × channel, and the most severe rows. */
function inventory(doc: Doc): string[] {
  const summary = isObject(doc.summary) ? doc.summary : undefined;
  if (!summary || !isObject(summary.byClass)) return generic(doc);
  const byChannel = isObject(summary.byChannel) ? summary.byChannel : {};
  const channels = Object.keys(byChannel);
  const byClass = summary.byClass;
  const classes = Object.keys(byClass);
  const failing = new Set(Array.isArray(doc.failing) ? doc.failing.map(String) : []);
  const cell = (channel: string, cls: string) => (isObject(byChannel[channel]) ? (byChannel[channel][cls] ?? 0) : 0);
  const out = [
    mdTable(['class', ...channels, 'total'], classes.map((cls) => [failing.has(cls) ? `${cls} (fails the run)` : cls, ...channels.map((ch) => cell(ch, cls)), byClass[cls]])),
  ];
  const top = objects(doc.top);
  if (top.length) {
    out.push(`Top ${Math.min(top.length, TOP_ROWS)} rows, most severe first:`);
    out.push(mdTable(['class', 'sku', 'location', 'channel', 'expected', 'actual', 'delta'], top.slice(0, TOP_ROWS).map((r) => [r.class, r.sku, r.location, r.channel, r.expected, r.actual, r.delta])));
  }
  if (typeof doc.badRows === 'number' && doc.badRows > 0) out.push(`Bad rows left out: ${doc.badRows}`);
  if (isObject(doc.published)) out.push(`Published ${mdText(doc.published.sent)} of ${mdText(doc.published.events)} events to ${mdText(doc.published.target)}${doc.published.dryRun ? ' (--dry-run: none sent)' : ''}`);
  return out;
}

/** Any other command: its scalar fields, and the first rows of each list of objects. */
function generic(doc: Doc): string[] {
  const out: string[] = [];
  const scalars = Object.entries(doc).filter(([k, v]) => k !== 'ok' && k !== 'error' && (v === null || typeof v !== 'object'));
  if (scalars.length) out.push(mdTable(['field', 'value'], scalars.slice(0, 20)));
  for (const [key, value] of Object.entries(doc)) {
    const items = objects(value);
    if (!items.length) continue;
    const columns = [...new Set(items.slice(0, TOP_ROWS).flatMap((i) => Object.keys(i).filter((k) => i[k] === null || typeof i[k] !== 'object')))].slice(0, 6);
    if (!columns.length) continue;
    out.push(`${mdText(key)}${items.length > TOP_ROWS ? ` (first ${TOP_ROWS} of ${items.length})` : ''}:`);
    out.push(mdTable(columns, items.slice(0, TOP_ROWS).map((i) => columns.map((c) => i[c]))));
  }
  return out;
}

function list(title: string, items: unknown): string {
  if (!Array.isArray(items) || !items.length) return '';
  return `${title}:\n${items.slice(0, TOP_ROWS).map((i) => `- ${mdText(i, 500)}`).join('\n')}`;
}
