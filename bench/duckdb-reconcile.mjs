// The same reconciliation as `retailctl inventory reconcile`, in DuckDB SQL, for the benchmark.
// Usage: node bench/duckdb-reconcile.mjs <dir> <safetyStock>   (prints counts per class as JSON)
import { DuckDBInstance } from '@duckdb/node-api';

const [dir, safety = '2'] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await db.connect();
const csv = (file, cols) => `read_csv('${dir}/${file}', header = true, columns = {${cols}})`;
const sql = `
WITH w AS (SELECT * FROM ${csv('wms.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'onHand': 'BIGINT'")}),
     o AS (SELECT * FROM ${csv('oms.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'reserved': 'BIGINT'")}),
     c AS (SELECT 'web' AS channel, * FROM ${csv('web.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'available': 'BIGINT'")}
           UNION ALL SELECT 'marketplace' AS channel, * FROM ${csv('marketplace.csv', "'sku': 'VARCHAR', 'location': 'VARCHAR', 'available': 'BIGINT'")}),
     e AS (SELECT w.sku, w.location, greatest(w.onHand - coalesce(o.reserved, 0) - ${Number(safety)}, 0) AS expected
           FROM w LEFT JOIN o USING (sku, location)),
     ex AS (SELECT e.*, ch.channel FROM e CROSS JOIN (VALUES ('web'), ('marketplace')) AS ch(channel)),
     j AS (SELECT CASE WHEN c.sku IS NULL THEN CASE WHEN ex.expected > 0 THEN 'missing-in-channel' END
                       WHEN ex.sku IS NULL THEN 'unknown-sku'
                       WHEN c.available - ex.expected > 0 THEN 'oversell'
                       WHEN c.available - ex.expected < 0 THEN 'undersell'
                       ELSE 'ok' END AS class
           FROM ex FULL OUTER JOIN c ON ex.sku = c.sku AND ex.location = c.location AND ex.channel = c.channel)
SELECT class, count(*)::BIGINT AS n FROM j WHERE class IS NOT NULL GROUP BY class
UNION ALL
SELECT 'negative', ((SELECT count(*) FROM w WHERE onHand < 0) + (SELECT count(*) FROM o WHERE reserved < 0) + (SELECT count(*) FROM c WHERE available < 0))::BIGINT`;
const reader = await c.runAndReadAll(sql);
const counts = Object.fromEntries(reader.getRows().map(([k, v]) => [k, Number(v)]));
process.stdout.write(JSON.stringify(counts));
