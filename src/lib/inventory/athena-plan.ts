/**
 * `inventory reconcile --engine athena`, the pure part: from the sources as listed (their objects,
 * sizes and headers) to one Glue table per source and the one query that reconciles them on
 * Amazon Athena (Trino SQL), with the DDL and the bytes it will scan for `--dry-run`. No I/O.
 *
 * The query implements the local engine's model (reconcile.ts) row for row:
 * - every value is read as text and parsed as the local readers parse it: sku and location trimmed,
 *   the location mapped, a quantity an optional sign and 1–16 digits within ±(2^53 − 1), a price
 *   decimal text; a row with an empty sku or location or a quantity that is not a whole number is a
 *   bad row (counted per source: Athena knows no line numbers);
 * - the quantities of one key in one export are summed (`--duplicates sum`) or the repeats are
 *   errors (`error`; Athena cannot tell which row came first, so it keeps the lowest quantity);
 *   several warehouse (or orders) sources add up; the last warehouse source with a price gives it;
 * - expected = max(onHand − reserved − safetyStock, 0); delta = actual − expected; ok within the
 *   tolerance; missing-in-channel only when expected > 0; unknown-sku when no warehouse source
 *   lists the key; one `negative` row per negative quantity in any source;
 * - value at risk as the local engine computes it (price × units, the channel's price first).
 *
 * Each source table is scanned once: the query is a single pipeline (parse → per source and key →
 * a window over each key → one fan-out of output rows → one aggregation with GROUPING SETS that
 * gives both the rows and the summary per class × channel), because Trino inlines a WITH query at
 * every reference and Athena bills every scan.
 */
import { createHash } from 'node:crypto';
import type { Role } from './model.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { CLASSES } from './reconcile.js';

export const OPEN_CSV_SERDE = 'org.apache.hadoop.hive.serde2.OpenCSVSerde';
export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
export const SYMLINK_INPUT = 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat';
export const TEXT_INPUT = 'org.apache.hadoop.mapred.TextInputFormat';
export const TEXT_OUTPUT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

/** The Glue TableInput fields retailctl sets (the SDK's TableInput, reduced to them). */
export interface TableDefinition {
  Name: string;
  Description: string;
  TableType: 'EXTERNAL_TABLE';
  Parameters: Record<string, string>;
  StorageDescriptor: {
    Columns: { Name: string; Type: 'string'; Comment?: string }[];
    Location: string;
    InputFormat: string;
    OutputFormat: string;
    SerdeInfo: { SerializationLibrary: string; Parameters: Record<string, string> };
  };
}

/** One source as found: its objects and (CSV/TSV) the header they share. */
export interface AthenaSource {
  name: string;
  role: Role;
  format: 'csv' | 'tsv' | 'jsonl';
  /** Logical column (sku, location, onHand|reserved|available, price, asOf) → the export's column or key. */
  columns: Record<string, string>;
  locationMap: Record<string, string>;
  objects: { url: string; size: number; modified?: Date }[];
  /** CSV/TSV: the header's column names (trimmed), in order; every object has this header. */
  header?: string[];
}

export interface AthenaOptions {
  database: string;
  /** s3://bucket/prefix/ for results; the manifests and the safety-stock table live under it too. */
  outputLocation: string;
  tablePrefix: string;
  safetyStock: number | Map<string, number>;
  tolerance: number;
  /** `--all`: ok rows too. */
  keepOk: boolean;
  duplicates: 'error' | 'sum';
  pricePerTB: number;
}

export interface AthenaTable {
  source: string;
  definition: TableDefinition;
  /** The symlink manifest: where, and what it lists. */
  manifest: { url: string; body: string };
  /** Bytes of the objects it reads. */
  bytes: number;
}

export interface AthenaPlan {
  kind: 'inventory.athena';
  database: string;
  outputLocation: string;
  tables: AthenaTable[];
  /** The per-SKU safety stock as a table (uploaded as CSV), when it comes from a file. */
  safety?: { definition: TableDefinition; object: { url: string; body: string } };
  /** Hive DDL equivalent to each table definition (what `--dry-run` shows). */
  ddl: string[];
  query: string;
  /** Bytes the query scans: every source object once (the safety table aside). */
  scanBytes: number;
  /** What that scan costs at pricePerTB (Athena bills at least 10 MB per query). */
  estimatedCost: number;
  /** Source names by their index in the query's `so` column. */
  sources: { name: string; role: Role }[];
}

/** The result columns, in order (Trino writes lower-case names). */
export const RESULT_FIELDS = ['class', 'sku', 'location', 'channel', 'onhand', 'reserved', 'safetystock', 'expected', 'actual', 'delta', 'price', 'valueatrisk', 'so', 'n', 'units', 'value', 'summary'] as const;

/** Marker classes of the result (never a drift class): rows read, duplicate keys, bad rows per source. */
export const MARK = { rows: '#rows', duplicate: '#duplicate', bad: '#bad' } as const;

const TB = 1024 ** 4;
const MIN_BILLED = 10 * 1024 ** 2;
const MAX_SAFE = '9007199254740991';
/** Athena's limit on a query string. */
const MAX_QUERY_BYTES = 262_144;

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Glue and Athena table names: lower-case letters, digits and `_`; deterministic for a source name. */
export function tableName(prefix: string, source: string): string {
  const plain = source.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'source';
  const exact = plain === source ? '' : `_${createHash('sha256').update(source).digest('hex').slice(0, 6)}`;
  return `${prefix}${plain}${exact}`;
}

/** `s3://b/p` → `s3://b/p/`. */
function folder(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function quantityColumn(role: Role): 'onHand' | 'reserved' | 'available' {
  return role === 'warehouse' ? 'onHand' : role === 'orders' ? 'reserved' : 'available';
}

/** The mapped (logical) columns a source is read through: sku, location, its quantity, and price when mapped. */
function readColumns(source: AthenaSource): { logical: 'sku' | 'location' | 'qty' | 'price'; from: string }[] {
  const out: { logical: 'sku' | 'location' | 'qty' | 'price'; from: string }[] = [
    { logical: 'sku', from: source.columns.sku! },
    { logical: 'location', from: source.columns.location! },
    { logical: 'qty', from: source.columns[quantityColumn(source.role)]! },
  ];
  if (source.columns.price !== undefined && source.role !== 'orders') out.push({ logical: 'price', from: source.columns.price });
  return out;
}

/** A header name as a Glue column comment: Glue takes up to 255 characters and no control characters. */
function glueComment(text: string): string {
  return [...text.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '?')].slice(0, 255).join('');
}

function tableFor(source: AthenaSource, options: AthenaOptions): AthenaTable {
  const name = tableName(options.tablePrefix, source.name);
  const location = `${folder(options.outputLocation)}tables/${name}/`;
  const delimited = source.format !== 'jsonl';
  const columns = delimited
    ? source.header!.map((h, k) => ({ Name: `c${k}`, Type: 'string' as const, Comment: glueComment(h) }))
    : readColumns(source).map((c) => ({ Name: c.logical, Type: 'string' as const, Comment: glueComment(c.from) }));
  const serde: TableDefinition['StorageDescriptor']['SerdeInfo'] = delimited
    ? { SerializationLibrary: OPEN_CSV_SERDE, Parameters: { separatorChar: source.format === 'tsv' ? '\t' : ',', quoteChar: '"', escapeChar: '\\' } }
    : { SerializationLibrary: JSON_SERDE, Parameters: { 'case.insensitive': 'FALSE', 'ignore.malformed.json': 'TRUE', ...Object.fromEntries(readColumns(source).map((c) => [`mapping.${c.logical}`, c.from])) } };
  const definition: TableDefinition = {
    Name: name,
    Description: `retailctl inventory source ${source.name} (${source.role}); rewritten by every run`,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { EXTERNAL: 'TRUE', classification: delimited ? 'csv' : 'json', 'retailctl.source': source.name, ...(delimited ? { 'skip.header.line.count': '1' } : {}) },
    StorageDescriptor: { Columns: columns, Location: location, InputFormat: SYMLINK_INPUT, OutputFormat: TEXT_OUTPUT, SerdeInfo: serde },
  };
  return { source: source.name, definition, manifest: { url: `${location}manifest`, body: source.objects.map((o) => o.url).join('\n') + '\n' }, bytes: source.objects.reduce((n, o) => n + o.size, 0) };
}

/** The SQL expression of a logical column of source `source` (as text, trimmed). */
/**
 * Whitespace as JavaScript's trim (and so the local engine) defines it: tab, LF, VT, FF, CR, space,
 * no-break space, the Unicode spaces, line and paragraph separators and the BOM. Trino's trim()
 * keeps some of these (no-break spaces, the BOM), so the query trims with this class instead. The
 * pattern is plain to both Trino's and RE2's regular expressions.
 */
const SPACE = '[\\t\\n\\x0B\\f\\r \\x{00A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}]';

/** `text` trimmed as the local engine trims it (two anchored replacements: Trino replaces every match, DuckDB the first). */
export function jsTrim(text: string): string {
  return `regexp_replace(regexp_replace(${text}, '^${SPACE}+', ''), '${SPACE}+$', '')`;
}

function columnText(source: AthenaSource, logical: 'sku' | 'location' | 'qty' | 'price'): string {
  const from = readColumns(source).find((c) => c.logical === logical);
  // a mapped column the export does not have (an optional price): no value, as locally
  const at = from && source.format !== 'jsonl' ? source.header!.indexOf(from.from) : -1;
  if (!from || (source.format !== 'jsonl' && at < 0)) return 'CAST(NULL AS VARCHAR)';
  return jsTrim(ident(source.format === 'jsonl' ? logical : `c${at}`));
}

/** A blank line of a CSV/TSV export (Athena reads it as one empty field): skipped, as the local readers skip it. */
function blankLine(source: AthenaSource): string | undefined {
  // a JSON line Athena cannot read is a row of NULLs: a bad row, never skipped
  if (source.format === 'jsonl') return undefined;
  const n = source.header!.length;
  return [`coalesce(${ident('c0')}, '') = ''`, ...Array.from({ length: n - 1 }, (_, k) => `${ident(`c${k + 1}`)} IS NULL`)].join(' AND ');
}

function locationExpr(source: AthenaSource, text: string): string {
  const entries = Object.entries(source.locationMap);
  if (entries.length === 0) return text;
  return `CASE ${text} ${entries.map(([from, to]) => `WHEN ${sqlString(from)} THEN ${sqlString(to)}`).join(' ')} ELSE ${text} END`;
}

/** `CASE s WHEN 0 THEN … END` over the sources that match. */
function bySource(sources: readonly AthenaSource[], value: (s: AthenaSource, i: number) => string | undefined, otherwise = 'NULL', column = 'so'): string {
  const arms = sources.flatMap((s, i) => {
    const v = value(s, i);
    return v === undefined ? [] : [`WHEN ${i} THEN ${v}`];
  });
  return arms.length ? `CASE ${column} ${arms.join(' ')} ELSE ${otherwise} END` : otherwise;
}

/** A slot that is no output row (a quantity is never below −(2^53 − 1)). */
const NONE = '-9007199254740992';

const OVER_KEY = 'OVER (PARTITION BY sku, location)';

/** The reconciliation query (see the module comment). */
export function reconcileQuery(sources: readonly AthenaSource[], tables: readonly AthenaTable[], options: AthenaOptions, safetyTable?: string): string {
  const db = ident(options.database);
  const raw = sources.map((s, i) => {
    const blank = blankLine(s);
    return `  SELECT ${i} AS so, ${columnText(s, 'sku')} AS sku, ${columnText(s, 'location')} AS loc, ${columnText(s, 'qty')} AS q, ${columnText(s, 'price')} AS p FROM ${db}.${ident(tables[i]!.definition.Name)}${blank ? ` WHERE NOT (${blank})` : ''}`;
  });
  const mappedLocation = bySource(sources, (s) => (Object.keys(s.locationMap).length ? locationExpr(s, 'loc') : undefined), 'loc');
  const warehouse = sources.flatMap((s, i) => (s.role === 'warehouse' ? [i] : []));
  const orders = sources.flatMap((s, i) => (s.role === 'orders' ? [i] : []));
  const channels = sources.flatMap((s, i) => (s.role === 'channel' ? [i] : []));
  const C = channels.length;
  const kept = options.duplicates === 'sum' ? 'total' : 'lowest';
  const inSet = (set: number[]) => (set.length ? `so IN (${set.join(', ')})` : 'false');
  const sumOver = (set: number[], value: string) => `sum(CASE WHEN ${inSet(set)} THEN ${value} END) ${OVER_KEY}`;
  // the last warehouse source with a price gives it (as the local engine merges them)
  const warehousePrice = warehouse.length ? `coalesce(${[...warehouse].reverse().map((i) => `max(CASE WHEN so = ${i} THEN price END) ${OVER_KEY}`).join(', ')})` : 'CAST(NULL AS DOUBLE)';
  const perChannel = channels.map((i, c) => `    sum(CASE WHEN so = ${i} THEN n END) ${OVER_KEY} AS ch${c}_n, sum(CASE WHEN so = ${i} THEN ${kept} END) ${OVER_KEY} AS ch${c}_qty, max(CASE WHEN so = ${i} THEN price END) ${OVER_KEY} AS ch${c}_price`);
  const pick = (column: string) => `CASE slot ${channels.map((_, c) => `WHEN ${c} THEN ch${c}_${column}`).join(' ')} END`;
  const channelIndex = `CASE slot ${channels.map((i, c) => `WHEN ${c} THEN ${i}`).join(' ')} END`;
  const safety = typeof options.safetyStock === 'number' ? String(options.safetyStock) : 'coalesce(TRY_CAST(st.c1 AS BIGINT), 0)';
  const safetyJoin = typeof options.safetyStock === 'number' ? '' : `\n  LEFT JOIN ${db}.${ident(safetyTable!)} st ON st.c0 = f.sku`;
  const sourceName = bySource(sources, (s) => sqlString(s.name));
  const slots = [
    // one comparison per channel, from one row of each key (its first source)
    `CASE WHEN sku IS NOT NULL AND so = min(so) ${OVER_KEY} THEN ARRAY[${[...Array(C).keys()].join(', ')}] ELSE ARRAY[${NONE}] END`,
    // the rows of this source and key (bad rows: one group per source), and its repeats
    `CASE WHEN sku IS NULL THEN ARRAY[${C}, ${C + 2}]${options.duplicates === 'error' ? ` WHEN n > 1 THEN ARRAY[${C}, ${C + 1}]` : ''} ELSE ARRAY[${C}] END`,
    // a negative row per negative quantity: the slot is the quantity
    `coalesce(negs, ARRAY[${NONE}])`,
  ];
  const rank = (cls: string) => `CASE ${cls} ${['negative', ...CLASSES.filter((c) => c !== 'negative')].map((c, r) => `WHEN ${sqlString(c)} THEN ${r + 1}`).join(' ')} ELSE 0 END`;
  const groupColumns = 'class, sku, location, channel, so, onhand, reserved, safetystock, expected, actual, delta, price, valueatrisk';
  const hidden = [sqlString(MARK.rows), ...(options.keepOk ? [] : [sqlString('ok')])];
  return `WITH raw AS (
${raw.join('\n  UNION ALL\n')}
),
parsed AS (
  SELECT so, sku, ${mappedLocation} AS location, loc,
    CASE WHEN regexp_like(q, '^[+-]?[0-9]{1,16}$') THEN TRY_CAST(q AS BIGINT) END AS qty,
    CASE WHEN regexp_like(p, '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$') THEN TRY_CAST(p AS DOUBLE) END AS price
  FROM raw
),
keyed AS (
  SELECT so,
    CASE WHEN bad THEN NULL ELSE sku END AS sku,
    CASE WHEN bad THEN NULL ELSE location END AS location,
    CASE WHEN bad THEN NULL ELSE qty END AS qty,
    CASE WHEN bad THEN NULL ELSE price END AS price
  FROM (SELECT parsed.*, (coalesce(sku, '') = '' OR coalesce(loc, '') = '' OR qty IS NULL OR abs(qty) > ${MAX_SAFE}) AS bad FROM parsed) AS checked
),
per_source AS (
  SELECT so, sku, location, count(*) AS n, sum(qty) AS total, min(qty) AS lowest, max(price) AS price,
    array_agg(qty) FILTER (WHERE qty < 0) AS negs
  FROM keyed
  GROUP BY so, sku, location
),
per_key AS (
  SELECT so, sku, location, n, negs,
    ${sumOver(warehouse, 'n')} AS w_n, ${sumOver(warehouse, kept)} AS w_qty, ${warehousePrice} AS w_price,
    ${sumOver(orders, kept)} AS o_qty,
${perChannel.join(',\n')},
    concat(concat(${slots[0]}, ${slots[1]}), ${slots[2]}) AS slots
  FROM per_source
),
fanned AS (
  SELECT f.*, ${safety} AS safetystock FROM (
    SELECT sku, location, so, n, slot, w_n, w_qty, w_price, o_qty,
      CASE WHEN slot >= 0 AND slot < ${C} THEN ${pick('n')} END AS c_n,
      CASE WHEN slot >= 0 AND slot < ${C} THEN ${pick('qty')} END AS c_qty,
      CASE WHEN slot >= 0 AND slot < ${C} THEN ${pick('price')} END AS c_price,
      CASE WHEN slot >= 0 AND slot < ${C} THEN ${channelIndex} END AS c_so
    FROM per_key CROSS JOIN UNNEST(slots) AS u(slot)
    WHERE slot <> ${NONE}
  ) AS f${safetyJoin}
),
compared AS (
  SELECT *,
    CASE WHEN w_n > 0 THEN w_qty END AS onhand_,
    CASE WHEN w_n > 0 THEN coalesce(o_qty, 0) END AS reserved_,
    CASE WHEN w_n > 0 THEN greatest(w_qty - coalesce(o_qty, 0) - safetystock, 0) END AS expected_,
    CASE WHEN c_n > 0 THEN c_qty END AS actual_
  FROM fanned
),
classified AS (
  SELECT *,
    CASE
      WHEN slot < 0 THEN 'negative'
      WHEN slot = ${C} THEN ${sqlString(MARK.rows)}
      WHEN slot = ${C + 1} THEN ${sqlString(MARK.duplicate)}
      WHEN slot = ${C + 2} THEN ${sqlString(MARK.bad)}
      WHEN expected_ IS NULL THEN CASE WHEN actual_ IS NOT NULL THEN 'unknown-sku' END
      WHEN actual_ IS NULL THEN CASE WHEN expected_ > 0 THEN 'missing-in-channel' END
      WHEN abs(actual_ - expected_) <= ${options.tolerance} THEN 'ok'
      WHEN actual_ > expected_ THEN 'oversell'
      ELSE 'undersell'
    END AS class
  FROM compared
),
priced AS (
  SELECT *,
    CASE class WHEN 'missing-in-channel' THEN w_price WHEN 'unknown-sku' THEN c_price WHEN 'oversell' THEN coalesce(c_price, w_price) WHEN 'undersell' THEN coalesce(c_price, w_price) END AS price_
  FROM classified
),
result_rows AS (
  SELECT class,
    CASE WHEN class IN (${sqlString(MARK.rows)}, ${sqlString(MARK.bad)}) THEN NULL ELSE sku END AS sku,
    CASE WHEN class IN (${sqlString(MARK.rows)}, ${sqlString(MARK.bad)}) THEN NULL ELSE location END AS location,
    CASE WHEN slot < 0 OR slot >= ${C} THEN ${sourceName} ELSE ${bySource(sources, (s) => sqlString(s.name), 'NULL', 'c_so')} END AS channel,
    CASE WHEN slot < 0 OR slot >= ${C} THEN so ELSE c_so END AS so,
    CASE WHEN slot < 0 THEN CASE WHEN ${inSet(warehouse)} THEN slot END WHEN slot < ${C} THEN onhand_ END AS onhand,
    CASE WHEN slot < 0 THEN CASE WHEN ${inSet(orders)} THEN slot END WHEN slot < ${C} THEN reserved_ END AS reserved,
    CASE WHEN slot < ${C} THEN safetystock END AS safetystock,
    CASE WHEN slot >= 0 AND slot < ${C} THEN expected_ END AS expected,
    CASE WHEN slot < 0 THEN CASE WHEN ${inSet(channels)} THEN slot END WHEN slot < ${C} THEN actual_ END AS actual,
    CASE WHEN slot >= 0 AND slot < ${C} THEN actual_ - expected_ END AS delta,
    price_ AS price,
    CASE class
      WHEN 'missing-in-channel' THEN expected_ * price_
      WHEN 'unknown-sku' THEN greatest(actual_, 0) * price_
      WHEN 'oversell' THEN abs(actual_ - expected_) * price_
      WHEN 'undersell' THEN abs(actual_ - expected_) * price_
    END AS valueatrisk,
    CASE
      WHEN slot < 0 THEN abs(slot)
      WHEN slot = ${C} OR slot = ${C + 2} THEN n
      WHEN slot = ${C + 1} THEN n - 1
      WHEN class = 'unknown-sku' THEN actual_
      WHEN class = 'missing-in-channel' THEN expected_
      WHEN class IN ('oversell', 'undersell') THEN abs(actual_ - expected_)
    END AS units
  FROM priced
  WHERE class IS NOT NULL
)
SELECT ${groupColumns}, count(*) AS n, sum(units) AS units, sum(valueatrisk) AS value, grouping(sku) AS summary
FROM result_rows
GROUP BY GROUPING SETS ((${groupColumns}), (class, channel, so))
HAVING grouping(sku) = 1 OR class NOT IN (${hidden.join(', ')})
ORDER BY summary DESC, ${rank('class')}, so, sku, location, channel, onhand, reserved, actual`;
}

/** The Hive DDL that a table definition amounts to (shown by --dry-run; the tables are made through Glue). */
export function tableDdl(database: string, t: TableDefinition): string {
  const sd = t.StorageDescriptor;
  const serdeProps = Object.entries(sd.SerdeInfo.Parameters).map(([k, v]) => `  ${sqlString(k)} = ${sqlString(v)}`).join(',\n');
  const props = Object.entries(t.Parameters).filter(([k]) => k !== 'EXTERNAL').map(([k, v]) => `${sqlString(k)} = ${sqlString(v)}`).join(', ');
  return `CREATE EXTERNAL TABLE \`${database}\`.\`${t.Name}\` (
${sd.Columns.map((c) => `  \`${c.Name}\` string${c.Comment !== undefined ? ` COMMENT ${sqlString(c.Comment)}` : ''}`).join(',\n')}
)
ROW FORMAT SERDE ${sqlString(sd.SerdeInfo.SerializationLibrary)}
WITH SERDEPROPERTIES (
${serdeProps}
)
STORED AS INPUTFORMAT ${sqlString(sd.InputFormat)} OUTPUTFORMAT ${sqlString(sd.OutputFormat)}
LOCATION ${sqlString(sd.Location)}
TBLPROPERTIES (${props});`;
}

/**
 * A CSV cell as OpenCSVSerde reads it back: quoted when it needs to be, quotes doubled and `\`
 * (its escape character) escaped; no formula escaping (this is data, not a report).
 */
function dataCell(text: string): string {
  return /[",\r\n\\]|^\s|\s$/.test(text) ? `"${text.replaceAll('\\', '\\\\').replaceAll('"', '""')}"` : text;
}

/** Pure: the tables, the manifests, the query, the DDL and the scan. */
export function planAthena(sources: readonly AthenaSource[], options: AthenaOptions): AthenaPlan {
  const tables = sources.map((s) => tableFor(s, options));
  let safety: AthenaPlan['safety'];
  if (typeof options.safetyStock !== 'number') {
    // `_safety_stock` after the prefix: no source's table name can be this (they never start with `_`)
    const name = `${options.tablePrefix}_safety_stock`;
    const location = `${folder(options.outputLocation)}tables/${name}/`;
    const body = `sku,safetyStock\n${[...options.safetyStock].map(([sku, n]) => `${dataCell(sku)},${n}`).join('\n')}\n`;
    safety = {
      definition: {
        Name: name,
        Description: 'retailctl inventory safety stock per sku (inventory.safetyStock.file); rewritten by every run',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { EXTERNAL: 'TRUE', classification: 'csv', 'skip.header.line.count': '1' },
        StorageDescriptor: {
          Columns: [{ Name: 'c0', Type: 'string', Comment: 'sku' }, { Name: 'c1', Type: 'string', Comment: 'safetyStock' }],
          Location: location,
          InputFormat: TEXT_INPUT,
          OutputFormat: TEXT_OUTPUT,
          SerdeInfo: { SerializationLibrary: OPEN_CSV_SERDE, Parameters: { separatorChar: ',', quoteChar: '"', escapeChar: '\\' } },
        },
      },
      object: { url: `${location}safety-stock.csv`, body },
    };
  }
  const query = reconcileQuery(sources, tables, options, safety?.definition.Name);
  if (Buffer.byteLength(query) > MAX_QUERY_BYTES) {
    throw new RetailctlError('INVENTORY_CONFIG', `--engine athena: the query would be ${Buffer.byteLength(query)} bytes, over Athena's limit of ${MAX_QUERY_BYTES} (the location maps are written into it)`, {
      exitCode: ExitCode.Usage,
      hint: 'shorten inventory.locationMap (map the locations in the exports themselves), or run with --engine local',
    });
  }
  const scanBytes = tables.reduce((n, t) => n + t.bytes, 0);
  return {
    kind: 'inventory.athena',
    database: options.database,
    outputLocation: folder(options.outputLocation),
    tables,
    ...(safety ? { safety } : {}),
    ddl: [...tables.map((t) => tableDdl(options.database, t.definition)), ...(safety ? [tableDdl(options.database, safety.definition)] : [])],
    query,
    scanBytes,
    estimatedCost: (Math.max(scanBytes, MIN_BILLED) / TB) * options.pricePerTB,
    sources: sources.map((s) => ({ name: s.name, role: s.role })),
  };
}
