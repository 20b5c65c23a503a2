/**
 * inventory reconcile sources a user (or a failed nightly job) hands over: files that are not there
 * or not readable, exports that look broken, stale or shrunk sources. Exit 2 for what to fix in the
 * input or the config, 5 for a source refused by its freshness checks; nothing written (no --out,
 * no --errors, no row-count baseline changed) and nothing published.
 */
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CorpusCase, CorpusFile } from './types.js';

const WMS = 'item_code,site,qty_on_hand\nSER-001,dfw1,50\nSER-002,dfw1,20\nSER-003,dfw1,9\n';
const WEB = 'SKU,Location,Available\nSER-001,dfw1,45\nSER-002,dfw1,13\nSER-003,dfw1,9\n';

interface Paths {
  wms?: string;
  web?: string;
  /** Extra keys on the wms source, e.g. `maxAge: 26h`. */
  wmsExtra?: string;
  wmsColumns?: string;
}

function config(p: Paths = {}): string {
  return [
    'inventory:',
    '  sources:',
    `    wms: { path: "${p.wms ?? 'wms.csv'}", role: warehouse, columns: { sku: item_code, location: site, onHand: qty_on_hand${p.wmsColumns ?? ''} }${p.wmsExtra ? `, ${p.wmsExtra}` : ''} }`,
    `    web: { path: "${p.web ?? 'web.csv'}", role: channel, columns: { sku: SKU, location: Location, available: Available } }`,
    '  failOn: [oversell]',
    '',
  ].join('\n');
}

/** The bus of the --publish cases (a bus that is not there is refused before any source is read). */
async function createBus(endpoint: string): Promise<void> {
  const client = new EventBridgeClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    await client.send(new CreateEventBusCommand({ Name: 'inventory-sync' })).catch((err: Error) => {
      if (err.name !== 'ResourceAlreadyExistsException') throw err;
    });
  } finally {
    client.destroy();
  }
}

/** The outputs a refused run must leave as they were. */
const OUTPUTS = ['drift.csv', 'bad.csv', '.retailctl/inventory/row-counts.json'];
const ARGS = ['inventory', 'reconcile', '--config', 'retailctl.yaml', '--out', 'drift.csv', '--errors', 'bad.csv'];

/** A case with a config, the two exports (replaced or removed by `files`), and the usual outputs watched. */
function source(name: string, files: Record<string, CorpusFile | null>, message: string | RegExp, extra: Partial<CorpusCase> & { paths?: Paths } = {}): CorpusCase {
  const all: Record<string, CorpusFile> = {};
  for (const [k, v] of Object.entries({ 'retailctl.yaml': config(extra.paths), 'wms.csv': WMS, 'web.csv': WEB, ...files })) if (v !== null) all[k] = v;
  const { paths: _paths, args = [], ...rest } = extra;
  return { name, args: [...ARGS, ...args], files: all, message, untouched: OUTPUTS, ...rest };
}

async function bucket(s3: S3Client, name: string, objects: Record<string, string | Buffer> = {}): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: name })).catch((err: Error) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  for (const [Key, Body] of Object.entries(objects)) await s3.send(new PutObjectCommand({ Bucket: name, Key, Body }));
}

/** A row-count baseline as an earlier run in the case directory would have left it. */
function baseline(rows: Record<string, number>): string {
  const sources = Object.fromEntries(Object.entries(rows).map(([name, n]) => [name, { rows: n, at: '2026-11-26T02:00:00Z' }]));
  return `${JSON.stringify({ version: 1, configs: { 'retailctl.yaml': { sources } } }, null, 2)}\n`;
}

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

export const cases: CorpusCase[] = [
  // --- a source that cannot be read
  source('inventory: a source file that does not exist (ENOENT)', { 'wms.csv': null }, 'source wms: cannot read wms.csv: no such file'),
  source('inventory: a source file whose read fails (EIO)', {}, 'source wms: cannot read /proc/self/mem: the disk or device failed to read it (EIO)', { args: ['--source', 'wms=/proc/self/mem'] }),
  source('inventory: a source path that is a directory', { 'wms.csv': { dir: true } }, 'source wms: wms.csv is a directory, not a file'),
  source('inventory: a source glob that matches nothing', {}, 'source wms: no file matches exports/wms-*.csv', { paths: { wms: 'exports/wms-*.csv' } }),
  source('inventory: a --source path that does not exist', {}, 'source web: cannot read exports/web-2026-11-27.csv.gz: no such file', { args: ['--source', 'web=exports/web-2026-11-27.csv.gz'] }),
  source('inventory: a .gz that is not gzip ("incorrect header check")', { 'wms.csv.gz': WMS }, 'source wms: wms.csv.gz is not gzip data', { paths: { wms: 'wms.csv.gz' } }),
  source('inventory: a .gz cut off half way', { 'wms.csv.gz': gzipSync(WMS.repeat(50)).subarray(0, 60) }, 'source wms: wms.csv.gz is cut off: the gzip data ends early', { paths: { wms: 'wms.csv.gz' } }),
  source('inventory: gzip data in a file not named .gz', { 'wms.csv': gzipSync(WMS) }, 'source wms: wms.csv is gzip-compressed, but its name does not end in .gz'),
  source('inventory: an s3:// source whose key does not exist (NoSuchKey)', {}, 'source web: cannot read s3://corpus-invsrc/web/2026-11-27.csv: no such object (S3 NoSuchKey)', {
    paths: { web: 's3://corpus-invsrc/web/2026-11-27.csv' },
    setup: ({ s3 }) => bucket(s3, 'corpus-invsrc', { 'web/2026-11-26.csv': WEB }),
  }),
  source('inventory: an s3:// source in a bucket that does not exist', {}, 'bucket corpus-invsrc-missing does not exist (S3 NoSuchBucket)', { paths: { web: 's3://corpus-invsrc-missing/web.csv' } }),
  source('inventory: an s3:// prefix with nothing under it (tonight’s export did not run)', {}, 'source web: no object under s3://corpus-invsrc/web/2026-11-28/', {
    paths: { web: 's3://corpus-invsrc/web/2026-11-28/' },
    setup: ({ s3 }) => bucket(s3, 'corpus-invsrc', { 'web/2026-11-27/part-1.csv': WEB }),
  }),
  source('inventory: an s3:// glob that matches nothing', {}, 'source web: no object matches s3://corpus-invsrc/shopify/*.csv.gz', {
    paths: { web: 's3://corpus-invsrc/shopify/*.csv.gz' },
    setup: ({ s3 }) => bucket(s3, 'corpus-invsrc', { 'shopify/web.csv': WEB }),
  }),

  // --- exports that look broken
  source('inventory: a 0-byte export', { 'web.csv': '' }, 'source web: web.csv is empty (0 bytes)'),
  source('inventory: a header-only warehouse export does not pass the oversell gate', { 'wms.csv': 'item_code,site,qty_on_hand\n' }, 'source wms: wms.csv has a header but no rows: every channel row would look like an unknown sku', {
    check: ({ stderr }) => {
      if (!stderr.includes('allowEmpty: true')) throw new Error(`the hint should name allowEmpty: ${stderr}`);
    },
  }),
  source('inventory: a JSON export that is an empty array', { 'web.json': '[]\n' }, 'source web: web.json has no rows', { paths: { web: 'web.json' } }),
  source('inventory: a gzipped export that is empty inside', { 'web.csv.gz': gzipSync('') }, 'source web: web.csv.gz is empty (0 bytes)', { paths: { web: 'web.csv.gz' } }),
  source('inventory: a quantity column named twice in the header', { 'wms.csv': 'item_code,site,qty_on_hand,qty_on_hand\nSER-001,dfw1,50,5\n' }, 'column "qty_on_hand" (onHand) appears 2 times in the header (columns 3, 4)'),
  source('inventory: a JSON Lines object with the quantity key twice', { 'web.jsonl': '{"SKU":"SER-001","Location":"dfw1","Available":45,"Available":0}\n' }, 'key "Available" (available) appears 2 times in the object on line 1', { paths: { web: 'web.jsonl' } }),
  source('inventory: an export with CR-only line endings', { 'wms.csv': WMS.replace(/\n/g, '\r') }, 'source wms: wms.csv has CR-only line endings'),
  source('inventory: a TSV saved as .csv', { 'wms.csv': WMS.replace(/,/g, '\t') }, /source wms \(wms\.csv\): missing columns .*the header looks tab-separated/, {
    check: ({ stderr }) => {
      if (!stderr.includes('set format: tsv under inventory.sources.wms')) throw new Error(`the hint should say how to set format: tsv: ${stderr}`);
    },
  }),
  source('inventory: a JSON array export that is not valid JSON', { 'web.json': '[{"SKU": "SER-001", "Location": "dfw1", "Available": 4},' }, 'source web: web.json is not valid JSON', { paths: { web: 'web.json' } }),
  source('inventory: JSON Lines quantities written loosely ("0x1F", [5], "1e3", "12.0") are bad rows', {
    'web.jsonl': ['"0x1F"', '[5]', '"1e3"', '"12.0"'].map((q, i) => `{"SKU":"SER-00${i + 1}","Location":"dfw1","Available":${q}}`).join('\n'),
  }, '4 bad rows in the inputs (--max-errors 0)', {
    paths: { web: 'web.jsonl' },
    // --errors lists them: that file is the point here, so it is not watched
    untouched: ['drift.csv', '.retailctl/inventory/row-counts.json'],
    check: ({ stderr }) => {
      for (const v of ['"0x1F"', '[5]', '"1e3"', '"12.0"']) if (!stderr.includes(`Available is not a whole number: ${v}`)) throw new Error(`${v} should be a bad row: ${stderr}`);
    },
  }),

  // --- stale and shrunk sources: exit 5 before anything is written or published
  source('inventory: an export older than its maxAge (file mtime)', {}, /^(\S+Z )?error: stale-source: source wms \(wms\.csv\) is 3d\S* old \(modified .*\), older than its maxAge 1d2h$/, {
    code: 5,
    paths: { wmsExtra: 'maxAge: 26h' },
    args: ['--publish', 'eventbridge:inventory-sync', '--yes'],
    setup: async ({ dir, endpoint }) => {
      await createBus(endpoint);
      await utimes(path.join(dir, 'wms.csv'), daysAgo(3), daysAgo(3));
    },
  }),
  source('inventory: an export whose asOf column is older than its maxAge (copied fresh, data old)', {
    'wms.csv': 'item_code,site,qty_on_hand,exported_at\nSER-001,dfw1,50,2020-01-01T02:00:00Z\nSER-002,dfw1,20,2020-01-01T02:00:00Z\n',
  }, 'stale-source: source wms (wms.csv) is', {
    code: 5,
    paths: { wmsExtra: 'maxAge: 26h', wmsColumns: ', asOf: exported_at' },
    check: ({ stderr }) => {
      if (!stderr.includes('(exported_at 2020-01-01T02:00:00Z)')) throw new Error(`the message should name the asOf column: ${stderr}`);
    },
  }),
  source('inventory: a warehouse export with far fewer rows than the previous run', { '.retailctl/inventory/row-counts.json': baseline({ wms: 10, web: 3 }) }, 'shrunk-source: source wms has 3 rows, 70% fewer than the 10 of the previous run (2026-11-26T02:00:00Z); its maxShrink is 50%', {
    code: 5,
    args: ['--publish', 'eventbridge:inventory-sync', '--yes', '--json'],
    setup: ({ endpoint }) => createBus(endpoint),
    check: ({ stdout }) => {
      const doc = JSON.parse(stdout) as { error: { code: string } };
      if (doc.error.code !== 'shrunk-source') throw new Error(`--json error.code should be shrunk-source: ${stdout}`);
    },
  }),
  source('inventory: a row-count baseline that is not retailctl’s', { '.retailctl/inventory/row-counts.json': '{"wms": 1000}\n' }, '.retailctl/inventory/row-counts.json is not a row-count file retailctl wrote'),

  // --- the new config keys
  source('inventory: maxShrink that is not a percentage', {}, /retailctl\.yaml:\d+:\d+: inventory\.sources\.wms\.maxShrink: expected a percentage from 0% to 100% like 50% \(or false\), got "150%"/, { paths: { wmsExtra: 'maxShrink: 150%' } }),
  source('inventory: maxAge that is not a duration', {}, /inventory\.sources\.wms\.maxAge: expected a duration like 26h/, { paths: { wmsExtra: 'maxAge: 1 day' } }),
];
