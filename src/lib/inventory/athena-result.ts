/**
 * Reading back the result of the Athena reconciliation query (plan.ts): the CSV Athena writes to
 * the output location (a header; every value in double quotes; NULL as an empty field), streamed
 * record by record. Summary records come first, then the marker records (bad rows, duplicate
 * keys), then the drift rows class by class. Pure parsing: the bytes come from the caller.
 */
import { DelimitedReader } from './delimited.js';
import type { RowError } from './model.js';
import { CLASSES, mergeSummaries, type DriftClass, type ResultRow, type Summary } from './reconcile.js';
import { MARK, RESULT_FIELDS } from './athena-plan.js';

export type ResultRecord =
  | { kind: 'summary'; class: string; channel: string; count: number; units: number | null; value: number | null }
  | { kind: 'mark'; class: string; sku: string | null; location: string | null; channel: string; count: number }
  | { kind: 'row'; row: ResultRow; count: number };

const DRIFT = new Set<string>(CLASSES);
const MARKS = new Set<string>(Object.values(MARK));

/** A number column: empty is NULL. */
function num(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`not a number: ${text.slice(0, 40)}`);
  return n;
}

/** One record of the result as a ResultRow (the field order and optional price of the local engine's rows). */
function rowOf(f: Record<(typeof RESULT_FIELDS)[number], string>): ResultRow {
  const row: ResultRow = {
    sku: f.sku,
    location: f.location,
    channel: f.channel,
    onHand: num(f.onhand),
    reserved: num(f.reserved),
    safetyStock: num(f.safetystock) ?? 0,
    expected: num(f.expected),
    actual: num(f.actual),
    delta: num(f.delta),
    class: f.class as DriftClass,
  };
  const price = num(f.price);
  if (price !== null) Object.assign(row, { price, valueAtRisk: num(f.valueatrisk) ?? 0 });
  return row;
}

/** Parse result bytes as they arrive; `records` yields what each chunk completed. */
export class ResultParser {
  readonly #reader: DelimitedReader;
  #columns: number[] | undefined;
  #ready: ResultRecord[] = [];

  constructor() {
    this.#reader = new DelimitedReader(',', (fields, line) => {
      if (!this.#columns) {
        const at = RESULT_FIELDS.map((name) => fields.indexOf(name));
        const missing = RESULT_FIELDS.filter((_, k) => at[k]! < 0);
        if (missing.length) throw new Error(`the query result has no column ${missing.join(', ')} (line ${line})`);
        this.#columns = at;
        return;
      }
      const f = Object.fromEntries(RESULT_FIELDS.map((name, k) => [name, fields[this.#columns![k]!] ?? ''])) as Record<(typeof RESULT_FIELDS)[number], string>;
      const count = num(f.n) ?? 0;
      if (f.summary === '1') {
        this.#ready.push({ kind: 'summary', class: f.class, channel: f.channel, count, units: num(f.units), value: num(f.value) });
      } else if (MARKS.has(f.class)) {
        this.#ready.push({ kind: 'mark', class: f.class, sku: f.sku || null, location: f.location || null, channel: f.channel, count: num(f.units) ?? 0 });
      } else if (DRIFT.has(f.class)) {
        this.#ready.push({ kind: 'row', row: rowOf(f), count });
      } else {
        throw new Error(`unexpected class ${JSON.stringify(f.class.slice(0, 40))} in the query result (line ${line})`);
      }
    });
  }

  push(chunk: Uint8Array): ResultRecord[] {
    this.#reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return this.#take();
  }

  end(): ResultRecord[] {
    this.#reader.end();
    if (!this.#columns) throw new Error('the query result is empty (no header)');
    return this.#take();
  }

  #take(): ResultRecord[] {
    const out = this.#ready;
    this.#ready = [];
    return out;
  }
}

/** What the marker records say about the inputs: bad rows and repeated keys per source, as row errors with a count. */
export function markErrors(marks: readonly Extract<ResultRecord, { kind: 'mark' }>[], files: ReadonlyMap<string, string>): RowError[] {
  const errors: RowError[] = [];
  for (const m of marks) {
    const file = files.get(m.channel) ?? m.channel;
    if (m.class === MARK.bad) {
      errors.push({ source: m.channel, file, line: 0, count: m.count, reason: `${m.count} row${m.count === 1 ? '' : 's'} with an empty sku or location or a quantity that is not a whole number (Athena gives no line numbers)` });
    } else if (m.class === MARK.duplicate) {
      errors.push({ source: m.channel, file, line: 0, count: m.count, reason: `duplicate sku/location ${m.sku} @ ${m.location} (listed ${m.count + 1} times in this source); use --duplicates sum to add them up` });
    }
  }
  return errors;
}

/** The summary (as the local engine gives it) and the rows read per source, from the summary records. */
export function summaryOf(records: readonly Extract<ResultRecord, { kind: 'summary' }>[], sources: readonly { name: string; role: string }[]): { summary: Summary; rows: Map<string, number> } {
  const summary: Summary = { byClass: Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>, byChannel: {}, units: {}, valueAtRisk: {} };
  for (const s of sources) if (s.role === 'channel') summary.byChannel[s.name] = { ok: 0 };
  const rawValue: Partial<Record<DriftClass, number>> = {};
  const rows = new Map<string, number>(sources.map((s) => [s.name, 0]));
  for (const r of records) {
    if (r.class === MARK.rows) {
      rows.set(r.channel, r.units ?? 0);
      continue;
    }
    if (!DRIFT.has(r.class)) continue;
    const cls = r.class as DriftClass;
    summary.byClass[cls] += r.count;
    const ch = (summary.byChannel[r.channel] ??= {});
    ch[cls] = (ch[cls] ?? 0) + r.count;
    if (cls === 'ok') continue;
    summary.units[cls] = (summary.units[cls] ?? 0) + (r.units ?? 0);
    if (r.value !== null) rawValue[cls] = (rawValue[cls] ?? 0) + r.value;
  }
  return { summary: mergeSummaries([{ summary, rawValue }], sources.map((s) => s.name)), rows };
}
