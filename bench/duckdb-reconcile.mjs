// The same reconciliation as `retailctl inventory reconcile`, in DuckDB SQL, for the benchmark.
// Usage: node bench/duckdb-reconcile.mjs <dir> <safetyStock> [<tolerance>] [--csv <file>]
//   without --csv: prints the counts per class as JSON (ok included)
//   with --csv: writes the drift rows (every class but ok, negatives included) as CSV with the
//   columns of retailctl's --out drift.csv, and prints {"rows": <rows written>}
// The sources are those the benchmark generates: wms (warehouse), oms (orders), web and marketplace
// (channels). Like retailctl: expected = max(onHand − reserved − safetyStock, 0), delta = actual −
// expected, ok when |delta| ≤ tolerance, missing-in-channel only when expected > 0, unknown-sku when
// the warehouse lacks the key; one `negative` row per negative quantity in any source.
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
const csvAt = args.indexOf('--csv');
const out = csvAt >= 0 ? args.splice(csvAt, 2)[1] : undefined;
const [dir, safetyArg = '2', toleranceArg = '0'] = args;
const safety = Number(safetyArg);
const tolerance = Number(toleranceArg);
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await db.connect();
const csv = (file, cols) => `read_csv('${dir}/${file}', header = true, columns = {${cols}})`;
const sources = `
WITH w AS (SELECT * FROM ${csv('wms.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'onHand': 'BIGINT'")}),
     o AS (SELECT * FROM ${csv('oms.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'reserved': 'BIGINT'")}),
     c AS (SELECT 'web' AS channel, * FROM ${csv('web.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'available': 'BIGINT'")}
           UNION ALL SELECT 'marketplace' AS channel, * FROM ${csv('marketplace.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'available': 'BIGINT'")}),
     e AS (SELECT w.sku, w.location, w.onHand, coalesce(o.reserved, 0) AS reserved,
                  greatest(w.onHand - coalesce(o.reserved, 0) - ${safety}, 0) AS expected
           FROM w LEFT JOIN o USING (sku, location)),
     ex AS (SELECT e.*, ch.channel FROM e CROSS JOIN (VALUES ('web'), ('marketplace')) AS ch(channel)),
     j AS (SELECT coalesce(ex.sku, c.sku) AS sku, coalesce(ex.location, c.location) AS location, coalesce(ex.channel, c.channel) AS channel,
                  ex.onHand, ex.reserved, ex.expected, c.available AS actual, c.available - ex.expected AS delta,
                  CASE WHEN c.sku IS NULL THEN CASE WHEN ex.expected > 0 THEN 'missing-in-channel' END
                       WHEN ex.sku IS NULL THEN 'unknown-sku'
                       WHEN c.available - ex.expected > ${tolerance} THEN 'oversell'
                       WHEN c.available - ex.expected < -${tolerance} THEN 'undersell'
                       ELSE 'ok' END AS class
           FROM ex FULL OUTER JOIN c ON ex.sku = c.sku AND ex.location = c.location AND ex.channel = c.channel)`;

if (out === undefined) {
  const sql = `${sources}
SELECT class, count(*)::BIGINT AS n FROM j WHERE class IS NOT NULL GROUP BY class
UNION ALL
SELECT 'negative', ((SELECT count(*) FROM w WHERE onHand < 0) + (SELECT count(*) FROM o WHERE reserved < 0) + (SELECT count(*) FROM c WHERE available < 0))::BIGINT`;
  const reader = await c.runAndReadAll(sql);
  const counts = Object.fromEntries(reader.getRows().map(([k, v]) => [k, Number(v)]));
  process.stdout.write(JSON.stringify(counts));
} else {
  const cols = (cls, channel, q) => `${cls} AS class, sku, location, ${channel} AS channel, ${q.onHand} AS onHand, ${q.reserved} AS reserved, ${safety} AS safetyStock, ${q.expected} AS expected, ${q.actual} AS actual, ${q.delta} AS delta, NULL::DOUBLE AS price, NULL::DOUBLE AS valueAtRisk`;
  const none = { onHand: 'NULL::BIGINT', reserved: 'NULL::BIGINT', expected: 'NULL::BIGINT', actual: 'NULL::BIGINT', delta: 'NULL::BIGINT' };
  const sql = `COPY (${sources}
SELECT ${cols("'negative'", "'wms'", { ...none, onHand: 'onHand' })} FROM w WHERE onHand < 0
UNION ALL SELECT ${cols("'negative'", "'oms'", { ...none, reserved: 'reserved' })} FROM o WHERE reserved < 0
UNION ALL SELECT ${cols("'negative'", 'channel', { ...none, actual: 'available' })} FROM c WHERE available < 0
UNION ALL SELECT ${cols('class', 'channel', { onHand: 'onHand', reserved: 'reserved', expected: 'expected', actual: 'actual', delta: 'delta' })} FROM j WHERE class IS NOT NULL AND class <> 'ok'
) TO '${out.replaceAll("'", "''")}' (HEADER)`;
  const reader = await c.runAndReadAll(sql);
  const rows = Number(reader.getRows()[0]?.[0] ?? -1);
  process.stdout.write(JSON.stringify({ rows }));
}
