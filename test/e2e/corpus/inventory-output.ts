/**
 * inventory reconcile's outputs and extra inputs: every bad destination, `-` where stdout is taken,
 * and a missing or wrong `--since` / `safetyStock.file`, refused with exit 2 naming the flag or key
 * before any source is read. The warehouse export of every case has a bad row, so a run that got as
 * far as reading would fail with "1 bad row" instead of the expected message.
 */
import type { CorpusCase, CorpusFile } from './types.js';

const CONFIG = `inventory:
  sources:
    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }
    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }
  failOn: [oversell]
`;

/** A config and two exports (the warehouse one with a bad row), plus `extra`. */
function files(extra: Record<string, CorpusFile> = {}, config = CONFIG): Record<string, CorpusFile> {
  return { 'retailctl.yaml': config, 'wms.csv': 'sku,loc,qty\nA,dfw1,10\nB,dfw1,lots\n', 'web.csv': 'sku,loc,qty\nA,dfw1,12\n', ...extra };
}

const reconcile = (...args: string[]) => ['inventory', 'reconcile', ...args];
const withSafetyFile = `${CONFIG}  safetyStock: { file: safety.csv }\n`;

export const cases: CorpusCase[] = [
  { name: 'inventory --out /dev/fd/1 (a process stream; - is stdout)', args: reconcile('--out', '/dev/fd/1'), files: files(), message: '--out /dev/fd/1: is under /dev or /proc' },
  { name: 'inventory --errors /proc/self/fd/2', args: reconcile('--errors', '/proc/self/fd/2', '--max-errors', '5'), files: files(), message: '--errors /proc/self/fd/2: is under /dev or /proc' },
  { name: 'inventory source a FIFO (would block the run for ever)', args: reconcile('--source', 'wms=wms.fifo'), files: files({ 'wms.fifo': { fifo: true } }), message: 'source wms: wms.fifo is not a regular file (a FIFO, device or socket)' },
  { name: 'inventory source /dev/zero (never ends)', args: reconcile('--source', 'wms=/dev/zero'), files: files(), message: 'source wms: /dev/zero is not a regular file' },
  { name: 'inventory --out a directory', args: reconcile('--out', 'reports'), files: files({ reports: { dir: true } }), message: /--out \S*reports: is a directory, not a file/, untouched: ['reports'] },
  { name: 'inventory --errors a directory', args: reconcile('--errors', 'reports', '--max-errors', '5'), files: files({ reports: { dir: true } }), message: /--errors \S*reports: is a directory, not a file/, untouched: ['reports'] },
  { name: 'inventory --out a FIFO (would block the run)', args: reconcile('--out', 'pipe'), files: files({ pipe: { fifo: true } }), message: /--out \S*pipe: is not a regular file/, untouched: ['pipe'] },
  { name: 'inventory --out a device (/dev/full)', args: reconcile('--out', '/dev/full'), files: files(), message: '--out /dev/full: is under /dev or /proc', untouched: ['/dev/full'] },
  { name: 'inventory --out /dev/stdout (use --out -)', args: reconcile('--out', '/dev/stdout'), files: files(), message: '--out /dev/stdout: is under /dev or /proc' },
  { name: 'inventory --out under /proc (nothing can be created there)', args: reconcile('--out', '/proc/nope/x.csv'), files: files(), message: '--out /proc/nope/x.csv: is under /dev or /proc', untouched: ['/proc/nope'] },
  { name: 'inventory --out under a file', args: reconcile('--out', 'web.csv/drift.csv'), files: files(), message: /--out \S*web\.csv\/drift\.csv: .*web\.csv is not a directory/, untouched: ['web.csv'] },
  { name: 'inventory --out and --errors on one file', args: reconcile('--out', 'rows.csv', '--errors', './rows.csv', '--max-errors', '5'), files: files(), message: '--out rows.csv and --errors ./rows.csv are the same file', untouched: ['rows.csv'] },
  { name: 'inventory --out through a symlink onto --errors', args: reconcile('--out', 'link.csv', '--errors', 'rows.csv', '--max-errors', '5'), files: files({ 'link.csv': { symlink: 'rows.csv' } }), message: '--out link.csv and --errors rows.csv are the same file', untouched: ['rows.csv', 'link.csv'] },
  { name: 'inventory --out onto a source export', args: reconcile('--out', 'wms.csv'), files: files(), message: '--out wms.csv is a file that source wms reads', untouched: ['wms.csv'] },
  { name: 'inventory --out - with --json (stdout holds the document)', args: reconcile('--out', '-', '--json'), files: files(), message: '--out -: stdout already carries the --json document', check: ({ stdout }) => void JSON.parse(stdout) },
  { name: 'inventory --out - and --errors -', args: reconcile('--out', '-', '--errors', '-'), files: files(), message: '--out - and --errors -: both would write to stdout' },
  { name: 'inventory --since a missing file', args: reconcile('--since', 'last.json', '--out', 'now.json'), files: files(), message: '--since last.json: no such file', untouched: ['now.json'] },
  { name: 'inventory --since a directory', args: reconcile('--since', 'runs'), files: files({ runs: { dir: true } }), message: '--since runs: is a directory, not a file' },
  { name: 'inventory --since a FIFO (would block the run)', args: reconcile('--since', 'pipe'), files: files({ pipe: { fifo: true } }), message: '--since pipe: is not a regular file' },
  { name: 'inventory --since /dev/zero (would be read forever)', args: reconcile('--since', '/dev/zero'), files: files(), message: '--since /dev/zero: is not a regular file' },
  { name: 'inventory --since a CSV, not a results file', args: reconcile('--since', 'web.csv'), files: files(), message: '--since web.csv: not a results file (it is not JSON' },
  { name: 'inventory --since a JSON array of something else', args: reconcile('--since', 'other.json'), files: files({ 'other.json': '[{"id":1}]' }), message: '--since other.json: not a results file (entry 1 is not a result row' },
  { name: 'inventory --since the --json document, not the rows', args: reconcile('--since', 'result.json'), files: files({ 'result.json': '{"ok":false,"summary":{"byClass":{}}}' }), message: '--since result.json: not a results file (it is a --json document' },
  { name: 'inventory safetyStock.file missing', args: reconcile(), files: files({}, withSafetyFile), message: 'inventory.safetyStock.file safety.csv: no such file' },
  { name: 'inventory safetyStock.file a directory', args: reconcile(), files: files({ 'safety.csv': { dir: true } }, withSafetyFile), message: 'inventory.safetyStock.file safety.csv: is a directory' },
  { name: 'inventory safetyStock.file empty', args: reconcile(), files: files({ 'safety.csv': '' }, withSafetyFile), message: 'inventory.safetyStock.file safety.csv: is empty' },
  {
    name: 'inventory a bad --out with --publish: nothing is sent',
    args: reconcile('--out', 'reports', '--publish', 'sqs:http://127.0.0.1:9/000000000000/drift.fifo', '--yes'),
    files: files({ reports: { dir: true } }),
    message: /--out \S*reports: is a directory/,
  },
  { name: 'inventory --publish a malformed target (checked before reading)', args: reconcile('--publish', 'sns:topic', '--yes'), files: files(), message: '--publish: expected eventbridge:<bus> or sqs:<queue-url>' },
  { name: 'inventory --source constructor=… (a name every object has)', args: reconcile('--source', 'constructor=x.csv'), files: files(), message: '--source: no source named "constructor" in inventory.sources (it has wms, web)' },
  { name: 'inventory --source __proto__=…', args: reconcile('--source', '__proto__=x.csv'), files: files(), message: '--source: no source named "__proto__" in inventory.sources (it has wms, web)' },
  { name: 'inventory --source toString=… twice', args: reconcile('--source', 'toString=a.csv', '--source', 'toString=b.csv'), files: files(), message: '--source: no source named "toString" in inventory.sources' },
  { name: 'inventory --publish a bus that does not exist (checked before reading)', args: reconcile('--publish', 'eventbridge:no-such-bus', '--yes'), files: files(), message: /--publish eventbridge:no-such-bus: .*no event bus named "no-such-bus"/ },
  { name: 'inventory --publish a queue that does not exist (checked before reading)', args: reconcile('--publish', 'sqs:http://127.0.0.1:9/000000000000/no-such-queue', '--yes'), files: files(), message: /--publish sqs:\S*no-such-queue: no such queue/ },
];
