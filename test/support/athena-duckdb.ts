/**
 * Runs an Athena query (Trino SQL, written so that DuckDB runs it too) on DuckDB over the data files of
 * Glue tables, and writes its result the way Athena writes query results (test support only).
 *
 * Each table's files are read here as Athena's SerDes read them, then handed to DuckDB:
 * - OpenCSVSerde (CSV/TSV): one row per line (LF, CRLF or CR; a UTF-8 BOM at the start of a file is
 *   dropped); `skip.header.line.count` lines skipped per file; columns by position; a short row gets
 *   NULL for the missing columns, extra fields are ignored, a blank line is a row of NULLs; RFC 4180
 *   quoting (`"a ""b"""` is `a "b"`). The backslash escapeChar is not emulated, and a line break inside
 *   a quoted field ends the row (Athena reads line by line too; it may refuse such a row instead).
 * - JsonSerDe (JSON Lines): a column is the value of its key (`mapping.<column>`, else its own name;
 *   compared ignoring case unless `case.insensitive` is FALSE) as text: a string's content, a number's
 *   JSON text as written, true/false, an object's or array's JSON text (compact); missing or null is
 *   NULL. A line that is not a JSON object is a row of NULLs; blank lines are skipped.
 * - `.gz` files are gunzipped.
 * Columns of type string are VARCHAR; other primitive types are cast with TRY_CAST (NULL when the
 * text does not parse, where Athena may fail the query instead).
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';

export interface GlueTable {
  database: string;
  table: import('@aws-sdk/client-glue').TableInput;
  /** Local paths of the data files, .gz allowed. */
  files: string[];
}

/** The macros that bridge Trino functions DuckDB lacks, e.g. regexp_like(s, p) := regexp_matches(s, p). */
export const DIALECT_BRIDGE: string[] = [
  // Trino's regexp_like is true when the pattern matches anywhere in the string, as regexp_matches
  'CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p)',
];

export const OPEN_CSV_SERDE = 'org.apache.hadoop.hive.serde2.OpenCSVSerde';
export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
const DATA_SCHEMA = '__athena_data';

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The DuckDB type of a Hive column type (string → VARCHAR); undefined: read as VARCHAR. */
function duckType(hiveType: string | undefined): string | undefined {
  const t = (hiveType ?? 'string').trim().toLowerCase();
  if (t === 'string' || /^(var)?char\(\d+\)$/.test(t)) return undefined;
  const simple: Record<string, string> = { tinyint: 'TINYINT', smallint: 'SMALLINT', int: 'INTEGER', integer: 'INTEGER', bigint: 'BIGINT', float: 'FLOAT', double: 'DOUBLE', boolean: 'BOOLEAN', date: 'DATE', timestamp: 'TIMESTAMP' };
  if (simple[t]) return simple[t];
  const decimal = /^decimal\((\d+)\s*,\s*(\d+)\)$/.exec(t);
  if (decimal) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
  if (t === 'decimal') return 'DECIMAL(10, 0)';
  throw new Error(`NOT_SUPPORTED: column type ${hiveType} is not supported by the Athena shim`);
}

/** The lines of a file (gunzipped when it ends in .gz), as Hadoop's line reader splits them. */
function linesOf(file: string): AsyncIterable<string> {
  let stream: Readable = createReadStream(file);
  if (file.endsWith('.gz')) stream = stream.pipe(createGunzip());
  return readline.createInterface({ input: stream, crlfDelay: Infinity });
}

/** One CSV line split as OpenCSVSerde splits it, with RFC 4180 quoting (a doubled quote inside quotes is one quote). */
export function splitCsvLine(line: string, separator: string, quote: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === quote) {
        if (line[i + 1] === quote) {
          current += quote;
          i++;
        } else quoted = false;
      } else current += ch;
    } else if (ch === quote) quoted = true;
    else if (ch === separator) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields;
}

type Json =
  | { t: 'string'; v: string }
  | { t: 'number'; raw: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'object'; entries: [string, Json][] }
  | { t: 'array'; items: Json[] };

/** A JSON parser that keeps numbers as written (JSON.parse would turn 1.50 into 1.5 and round big integers). */
export function parseJson(text: string): Json {
  let i = 0;
  const fail = (): never => {
    throw new Error(`malformed JSON at ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      i++;
    }
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): Json => {
    ws();
    const ch = text[i];
    if (ch === '"') return { t: 'string', v: str() };
    if (ch === '{') {
      i++;
      const entries: [string, Json][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { t: 'object', entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const key = str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        entries.push([key, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { t: 'object', entries };
        } else fail();
      }
    }
    if (ch === '[') {
      i++;
      const items: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'array', items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return { t: 'array', items };
        } else fail();
      }
    }
    for (const [word, v] of [['true', { t: 'bool', v: true }], ['false', { t: 'bool', v: false }], ['null', { t: 'null' }]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail();
    i += m[0].length;
    return { t: 'number', raw: m[0] };
  };
  const doc = value();
  ws();
  if (i !== text.length) fail();
  return doc;
}

function jsonText(v: Json): string {
  switch (v.t) {
    case 'string':
      return JSON.stringify(v.v);
    case 'number':
      return v.raw;
    case 'bool':
      return String(v.v);
    case 'null':
      return 'null';
    case 'array':
      return `[${v.items.map(jsonText).join(',')}]`;
    case 'object':
      return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(',')}}`;
  }
}

/** A JSON value as JsonSerDe gives it to a string column. */
function columnText(v: Json | undefined): string | null {
  if (v === undefined || v.t === 'null') return null;
  if (v.t === 'string') return v.v;
  return jsonText(v);
}

function appendRow(appender: DuckDBAppender, values: (string | null | undefined)[], width: number): void {
  for (let c = 0; c < width; c++) {
    const v = values[c];
    if (v === undefined || v === null) appender.appendNull();
    else appender.appendVarchar(v);
  }
  appender.endRow();
}

async function loadCsv(appender: DuckDBAppender, t: GlueTable, width: number): Promise<void> {
  const params = t.table.StorageDescriptor?.SerdeInfo?.Parameters ?? {};
  const separator = params.separatorChar ?? ',';
  const quote = params.quoteChar ?? '"';
  const skip = Number(t.table.Parameters?.['skip.header.line.count'] ?? '0') || 0;
  for (const file of t.files) {
    let n = 0;
    for await (const raw of linesOf(file)) {
      const line = n === 0 ? raw.replace(/^\uFEFF/, '') : raw;
      n++;
      if (n <= skip) continue;
      appendRow(appender, line === '' ? [] : splitCsvLine(line, separator, quote), width);
    }
  }
}

async function loadJson(appender: DuckDBAppender, t: GlueTable, columns: string[]): Promise<void> {
  const params = t.table.StorageDescriptor?.SerdeInfo?.Parameters ?? {};
  const caseInsensitive = (params['case.insensitive'] ?? 'TRUE').toUpperCase() !== 'FALSE';
  const fold = (k: string) => (caseInsensitive ? k.toLowerCase() : k);
  const keys = columns.map((c) => fold(params[`mapping.${c}`] ?? c));
  for (const file of t.files) {
    let n = 0;
    for await (const raw of linesOf(file)) {
      const line = n === 0 ? raw.replace(/^\uFEFF/, '') : raw;
      n++;
      if (line.trim() === '') continue;
      let doc: Json | undefined;
      try {
        doc = parseJson(line);
      } catch {
        doc = undefined;
      }
      if (doc?.t !== 'object') {
        // ignore.malformed.json: a row of NULLs (without it Athena fails the query; the shim is lenient)
        appendRow(appender, [], columns.length);
        continue;
      }
      const byKey = new Map<string, Json>();
      for (const [k, v] of doc.entries) byKey.set(fold(k), v);
      appendRow(appender, keys.map((k) => columnText(byKey.get(k))), columns.length);
    }
  }
}

async function createTable(connection: DuckDBConnection, t: GlueTable, index: number): Promise<void> {
  const name = t.table.Name;
  if (!name) throw new Error('a Glue table without a Name');
  const columns = t.table.StorageDescriptor?.Columns ?? [];
  if (columns.length === 0) throw new Error(`Table ${t.database}.${name} has no columns`);
  const names = columns.map((c) => c.Name ?? '');
  const serde = t.table.StorageDescriptor?.SerdeInfo?.SerializationLibrary;
  if (serde !== OPEN_CSV_SERDE && serde !== JSON_SERDE) throw new Error(`HIVE_UNSUPPORTED_FORMAT: the Athena shim cannot read SerDe ${serde ?? '(none)'} of ${t.database}.${name}`);
  const data = `t${index}`;
  await connection.run(`CREATE TABLE ${ident(DATA_SCHEMA)}.${ident(data)} (${names.map((c) => `${ident(c)} VARCHAR`).join(', ')})`);
  const appender = await connection.createAppender(data, DATA_SCHEMA);
  try {
    if (serde === OPEN_CSV_SERDE) await loadCsv(appender, t, names.length);
    else await loadJson(appender, t, names);
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  const select = columns.map((c) => {
    const type = duckType(c.Type);
    return type ? `TRY_CAST(${ident(c.Name!)} AS ${type}) AS ${ident(c.Name!)}` : ident(c.Name!);
  });
  await connection.run(`CREATE SCHEMA IF NOT EXISTS ${ident(t.database)}`);
  await connection.run(`CREATE VIEW ${ident(t.database)}.${ident(name)} AS SELECT ${select.join(', ')} FROM ${ident(DATA_SCHEMA)}.${ident(data)}`);
}

/** Run `sql` on DuckDB with a view per table; write its result as Athena writes query results to `out`; throws Error(message) when DuckDB refuses the SQL. */
export async function runOnDuckDB(options: { tables: GlueTable[]; sql: string; out: string }): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  try {
    const connection = await instance.connect();
    try {
      await connection.run(`CREATE SCHEMA ${ident(DATA_SCHEMA)}`);
      for (const [i, t] of options.tables.entries()) await createTable(connection, t, i);
      for (const statement of DIALECT_BRIDGE) await connection.run(statement);
      await mkdir(path.dirname(options.out), { recursive: true });
      const sql = options.sql.replace(/[\s;]+$/, '');
      try {
        await connection.run(`COPY (${sql}\n) TO ${literal(options.out)} (HEADER, FORCE_QUOTE *)`);
      } catch (err) {
        throw new Error((err as Error).message);
      }
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
