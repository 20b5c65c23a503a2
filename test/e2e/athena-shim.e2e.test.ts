/**
 * The emulator's Athena (test/support/athena-shim.ts): queries run on DuckDB over the S3 objects that
 * Glue tables point at (through symlink manifests), results written where Athena writes them, the
 * states Athena reports, cancellation, injected failures and idempotent starts. Also the DuckDB
 * runner on local files, for the SerDe rules it emulates.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand, StopQueryExecutionCommand, type QueryExecution } from '@aws-sdk/client-athena';
import { CreateDatabaseCommand, CreateTableCommand, GlueClient, type TableInput } from '@aws-sdk/client-glue';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECT_BRIDGE, runOnDuckDB } from '../support/athena-duckdb.js';
import { useEmulator } from '../support/use-emulator.js';

const CSV_SERDE = 'org.apache.hadoop.hive.serde2.OpenCSVSerde';
const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
const SYMLINK = 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat';

function csvTable(name: string, columns: string[], location: string, separatorChar = ','): TableInput {
  return {
    Name: name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { 'skip.header.line.count': '1' },
    StorageDescriptor: {
      Columns: columns.map((Name) => ({ Name, Type: 'string' })),
      Location: location,
      InputFormat: SYMLINK,
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: { SerializationLibrary: CSV_SERDE, Parameters: { separatorChar, quoteChar: '"', escapeChar: '\\' } },
    },
  };
}

function jsonTable(name: string, columns: string[], location: string, mapping: Record<string, string> = {}): TableInput {
  return {
    Name: name,
    TableType: 'EXTERNAL_TABLE',
    StorageDescriptor: {
      Columns: columns.map((Name) => ({ Name, Type: 'string' })),
      Location: location,
      InputFormat: SYMLINK,
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: {
        SerializationLibrary: JSON_SERDE,
        Parameters: { 'case.insensitive': 'FALSE', 'ignore.malformed.json': 'TRUE', ...Object.fromEntries(Object.entries(mapping).map(([c, k]) => [`mapping.${c}`, k])) },
      },
    },
  };
}

describe('Athena in the emulator', () => {
  const { endpoint, control } = useEmulator();
  const clientConfig = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const athena = new AthenaClient(clientConfig);
  const glue = new GlueClient(clientConfig);
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  afterAll(() => {
    athena.destroy();
    glue.destroy();
    s3.destroy();
  });

  const wms1 = Buffer.from('\uFEFFsku,location,on_hand\r\nA-1,DC1,10\r\n"B ""2""",DC1,5\r\nC-3,DC1\r\n');
  const wms2 = gzipSync('sku,location,on_hand\nD-4,DC2,7,extra\n');
  const web = Buffer.from('{"sku":"A-1","loc":"DC1","available":12}\n\n{"sku":"B \\"2\\"","loc":"DC1","available":"5"}\nnot json\n{"sku":"D-4","loc":"DC2","available":null}\n');
  const put = (Key: string, Body: Buffer | string, Bucket = 'lake') => s3.send(new PutObjectCommand({ Bucket, Key, Body }));

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'athena-results' }));
    await put('data/wms-1.csv', wms1);
    await put('data/wms-2.csv.gz', wms2);
    await put('data/web.jsonl', web);
    await put('manifests/wms/manifest', 's3://lake/data/wms-1.csv\n\ns3://lake/data/wms-2.csv.gz\n');
    await put('manifests/web/manifest', 's3://lake/data/web.jsonl\n');
    await put('manifests/ghost/manifest', 's3://lake/data/gone.csv\n');
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'retail' } }));
    await glue.send(new CreateTableCommand({ DatabaseName: 'retail', TableInput: csvTable('wms', ['sku', 'location', 'on_hand'], 's3://lake/manifests/wms/') }));
    await glue.send(new CreateTableCommand({ DatabaseName: 'retail', TableInput: jsonTable('web', ['sku', 'location', 'available'], 's3://lake/manifests/web/', { location: 'loc' }) }));
    await glue.send(new CreateTableCommand({ DatabaseName: 'retail', TableInput: csvTable('ghost', ['sku'], 's3://lake/manifests/ghost/') }));
  });

  const start = async (sql: string, token?: string) =>
    (await athena.send(new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: { Database: 'retail' },
      ResultConfiguration: { OutputLocation: 's3://athena-results/reconcile/' },
      ...(token ? { ClientRequestToken: token } : {}),
    }))).QueryExecutionId!;
  const get = async (id: string) => (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
  async function settle(id: string): Promise<{ execution: QueryExecution; seen: string[] }> {
    const seen: string[] = [];
    for (const deadline = Date.now() + 8000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
      const execution = await get(id);
      const state = execution.Status!.State!;
      if (seen[seen.length - 1] !== state) seen.push(state);
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state)) return { execution, seen };
    }
    throw new Error(`query ${id} did not finish`);
  }
  const resultOf = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: 'athena-results', Key: key }))).Body!.transformToString();

  it('runs a query joining a CSV (plain and gzip) and a JSON Lines table and writes the result as Athena does', async () => {
    const sql = `WITH w AS (SELECT trim(sku) AS sku, location, CAST(on_hand AS BIGINT) AS on_hand FROM "retail"."wms" WHERE regexp_like(sku, '^[A-Z]')),
c AS (SELECT sku, location, CAST(available AS BIGINT) AS available FROM retail.web WHERE sku IS NOT NULL)
SELECT w.sku, w.location, w.on_hand, c.available, c.available - w.on_hand AS delta
FROM w LEFT JOIN c ON c.sku = w.sku AND c.location = w.location
ORDER BY w.sku`;
    const id = await start(sql);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { execution, seen } = await settle(id);
    expect(execution.Status!.StateChangeReason).toBeUndefined();
    expect(seen).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(execution).toMatchObject({ QueryExecutionId: id, Query: sql, StatementType: 'DML', WorkGroup: 'primary', QueryExecutionContext: { Database: 'retail' } });
    expect(execution.ResultConfiguration!.OutputLocation).toBe(`s3://athena-results/reconcile/${id}.csv`);
    expect(execution.Status!.SubmissionDateTime).toBeInstanceOf(Date);
    expect(execution.Status!.CompletionDateTime!.getTime()).toBeGreaterThanOrEqual(execution.Status!.SubmissionDateTime!.getTime());
    expect(execution.Statistics!.DataScannedInBytes).toBe(wms1.length + wms2.length + web.length);
    expect(execution.Statistics!.EngineExecutionTimeInMillis).toBeGreaterThanOrEqual(200);
    expect(await resultOf(`reconcile/${id}.csv`)).toBe(
      '"sku","location","on_hand","available","delta"\n' +
        '"A-1","DC1","10","12","2"\n' +
        '"B ""2""","DC1","5","5","0"\n' +
        '"C-3","DC1",,,\n' +
        '"D-4","DC2","7",,\n',
    );
    const logged = (await control.requests()).filter((r) => r.service === 'athena' && r.operation === 'StartQueryExecution');
    expect(logged).toHaveLength(1);
  });

  it('fails a query on a missing table, or whose data object is missing, with the reason Athena gives', async () => {
    const missing = await settle(await start('SELECT count(*) FROM "retail"."nope"'));
    expect(missing.execution.Status).toMatchObject({ State: 'FAILED', StateChangeReason: "TABLE_NOT_FOUND: line 1:22: Table 'awsdatacatalog.retail.nope' does not exist" });
    const ghost = await settle(await start('SELECT * FROM retail.ghost'));
    expect(ghost.execution.Status!.State).toBe('FAILED');
    expect(ghost.execution.Status!.StateChangeReason).toMatch(/^HIVE_CANNOT_OPEN_SPLIT: .*s3:\/\/lake\/data\/gone\.csv/);
    const refused = await settle(await start('SELEC 1'));
    expect(refused.execution.Status!.State).toBe('FAILED');
    expect(refused.execution.Status!.StateChangeReason).toMatch(/syntax error/);
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'athena-results', Key: `reconcile/${missing.execution.QueryExecutionId}.csv` }))).rejects.toThrow();
  });

  it('fails queries with the configured reason (athena.fail)', async () => {
    await control.configure({ athena: { fail: 'HIVE_BAD_DATA: Error parsing field value' } });
    try {
      const { execution, seen } = await settle(await start('SELECT * FROM "retail"."wms"'));
      expect(seen).toEqual(['QUEUED', 'RUNNING', 'FAILED']);
      expect(execution.Status!.StateChangeReason).toBe('HIVE_BAD_DATA: Error parsing field value');
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'athena-results', Key: `reconcile/${execution.QueryExecutionId}.csv` }))).rejects.toThrow();
    } finally {
      await control.configure({ athena: { fail: null } });
    }
  });

  it('cancels a running query on StopQueryExecution: no result is written', async () => {
    await control.configure({ athena: { queuedMs: 50, runningMs: 800 } });
    try {
      const id = await start('SELECT sku FROM "retail"."wms" ORDER BY sku');
      for (let i = 0; i < 100 && (await get(id)).Status!.State !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await get(id)).Status!.State).toBe('RUNNING');
      await athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      expect((await get(id)).Status).toMatchObject({ State: 'CANCELLED', StateChangeReason: 'Query was cancelled by user' });
      await new Promise((r) => setTimeout(r, 1000)); // past the time the query would have finished
      expect((await get(id)).Status!.State).toBe('CANCELLED');
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'athena-results', Key: `reconcile/${id}.csv` }))).rejects.toThrow();
      expect((await control.athenaQueries()).find((q) => q.id === id)).toMatchObject({ state: 'CANCELLED', stopped: true, outputLocation: `s3://athena-results/reconcile/${id}.csv` });
    } finally {
      await control.configure({ athena: { queuedMs: 100, runningMs: 200 } });
    }
  });

  it('returns the same query for the same ClientRequestToken, and refuses what Athena refuses', async () => {
    const a = await start('SELECT 1 AS one', 'token-0000000000000000000000000001');
    const b = await start('SELECT 1 AS one', 'token-0000000000000000000000000001');
    const c = await start('SELECT 1 AS one', 'token-0000000000000000000000000002');
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect((await control.athenaQueries()).filter((q) => q.id === a)).toHaveLength(1);
    expect((await settle(a)).execution.Status!.State).toBe('SUCCEEDED');
    expect(await resultOf(`reconcile/${a}.csv`)).toBe('"one"\n"1"\n');
    await expect(athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(athena.send(new GetQueryExecutionCommand({ QueryExecutionId: '00000000-0000-0000-0000-000000000000' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  });
});

describe('runOnDuckDB', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'athena-duckdb-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const file = async (name: string, content: string | Buffer) => {
    const at = path.join(dir, name);
    await writeFile(at, content);
    return at;
  };
  const run = async (tables: { table: TableInput; files: string[] }[], sql: string) => {
    const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}.csv`);
    await runOnDuckDB({ tables: tables.map((t) => ({ database: 'db', ...t })), sql, out });
    return readFile(out, 'utf8');
  };

  it('reads CSV as OpenCSVSerde does: by position, short rows padded with NULL, extra fields ignored, BOM, CRLF, doubled quotes, per-file header', async () => {
    const a = await file('a.csv', '\uFEFFwhatever,the,header\r\n"x ""q""",1,2\r\nshort\r\nlong,1,2,3,4\r\n\r\nlast,"a,b",\r\n');
    const b = await file('b.csv.gz', gzipSync('h1,h2,h3\nz,9,9\n'));
    const table = csvTable('t', ['c1', 'c2', 'c3'], 's3://unused/');
    expect(await run([{ table, files: [a, b] }], 'SELECT c1, c2, c3, c3 IS NULL AS c3_null FROM "db"."t"')).toBe(
      '"c1","c2","c3","c3_null"\n' +
        '"x ""q""","1","2","false"\n' +
        '"short",,,"true"\n' +
        '"long","1","2","false"\n' +
        ',,,"true"\n' + // a blank line: a row of NULLs
        '"last","a,b","","false"\n' +
        '"z","9","9","false"\n',
    );
    const tsv = await file('t.tsv', 'a\tb\n1\t2 3\n');
    expect(await run([{ table: csvTable('t', ['x', 'y'], 's3://unused/', '\t'), files: [tsv] }], 'SELECT * FROM db.t')).toBe('"x","y"\n"1","2 3"\n');
  });

  it('reads JSON Lines as JsonSerDe does: strings, numbers as written, booleans, objects as JSON, missing/null as NULL, malformed lines as NULL rows', async () => {
    const j = await file('j.json', '{"s":"text","n":12,"f":12.50,"b":true,"o":{"k":[1,"x"]},"z":null,"Key":"mapped"}\n\n   \n{broken\n{"s":"only"}\n[1,2]\n');
    const table = jsonTable('j', ['s', 'n', 'f', 'b', 'o', 'z', 'm', 'key'], 's3://unused/', { m: 'Key' });
    expect(await run([{ table, files: [j] }], 'SELECT * FROM "db"."j"')).toBe(
      '"s","n","f","b","o","z","m","key"\n' +
        '"text","12","12.50","true","{""k"":[1,""x""]}",,"mapped",\n' +
        ',,,,,,,\n' +
        '"only",,,,,,,\n' +
        ',,,,,,,\n',
    );
  });

  it('bridges the Trino functions DuckDB lacks, keeps ORDER BY, and throws DuckDB\'s message on SQL it refuses', async () => {
    expect(DIALECT_BRIDGE.some((s) => /regexp_like/.test(s))).toBe(true);
    const a = await file('r.csv', 'h\nb-2\na-1\nc\n');
    const table = csvTable('r', ['sku'], 's3://unused/');
    const sql = `SELECT sku, regexp_like(sku, '-[0-9]$') AS coded, grouping(sku) AS g, count(*) AS n FROM "db"."r" GROUP BY GROUPING SETS ((sku), ()) ORDER BY g, sku DESC`;
    expect(await run([{ table, files: [a] }], sql)).toBe('"sku","coded","g","n"\n"c","false","0","1"\n"b-2","true","0","1"\n"a-1","true","0","1"\n,,"1","3"\n');
    await expect(run([{ table, files: [a] }], 'SELECT nope FROM db.r')).rejects.toThrow(/nope/);
  });
});
