/**
 * What a reconcile is refused for before any source is read (exit 2 naming the flag or config key):
 * output destinations that cannot take the rows, `--out -` where stdout is already taken, two outputs
 * on one file, an output that would replace an input, and extra inputs (`--since`,
 * `safetyStock.file`) that are missing or are not what they should be. A run that reads millions of
 * rows must not find out at the end that it cannot write them.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import { canonicalPath, checkOutputFile, resolveOutputPath, STDOUT } from '../io/paths.js';
import { shown } from '../util/sanitize.js';
import { CLASSES, type ResultRow } from './reconcile.js';

export interface Outputs {
  /** `--out`: a file, or `-` for stdout. */
  out?: string;
  /** `--errors`: a file, or `-` for stdout. */
  errors?: string;
  /** `--plan-out`: a file, or `-` for stdout. */
  planOut?: string;
}

const usage = (message: string, hint: string) => new RetailctlError('USAGE', message, { exitCode: ExitCode.Usage, hint });

/**
 * Check `--out` and `--errors` before any work: each can be created where it points (checkOutputFile
 * creates and removes it, or its first missing directory: `access()` says yes to root on /proc), neither is `-` when `--json` holds stdout, they are not one file, and
 * neither is a file a source reads. `inputs` are the sources' local files (absolute) by source name.
 */
export async function checkOutputs(outputs: Outputs, opts: { cwd: string; json: boolean; inputs: Map<string, string[]> }): Promise<void> {
  const values = { '--out': outputs.out, '--errors': outputs.errors, '--plan-out': outputs.planOut };
  const given = (['--out', '--errors', '--plan-out'] as const).map((flag) => ({ flag, value: values[flag] })).filter((o): o is { flag: '--out' | '--errors' | '--plan-out'; value: string } => Boolean(o.value));
  for (const { flag, value } of given) {
    if (value !== STDOUT) continue;
    if (opts.json) throw usage(`${flag} -: stdout already carries the --json document`, `write the rows to a file (${flag} rows.csv), or leave out --json`);
  }
  const toStdout = given.filter((o) => o.value === STDOUT);
  if (toStdout.length > 1) throw usage(`${toStdout.map((o) => `${o.flag} -`).join(' and ')}: both would write to stdout`, 'send one of them to a file');
  const targets: { flag: string; value: string; target: string }[] = [];
  for (const { flag, value } of given) {
    if (value === STDOUT) continue;
    const absolute = path.resolve(opts.cwd, value);
    await checkOutputFile(absolute, flag);
    const target = await resolveOutputPath(absolute);
    targets.push({ flag, value, target: await canonicalPath(target) });
  }
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      if (targets[i]!.target === targets[j]!.target) throw usage(`${targets[i]!.flag} ${shown(targets[i]!.value)} and ${targets[j]!.flag} ${shown(targets[j]!.value)} are the same file: one would replace the other`, `give ${targets[j]!.flag} a file of its own`);
    }
  }
  for (const [source, files] of opts.inputs) {
    const real = await Promise.all(files.map(canonicalPath));
    for (const t of targets) {
      if (real.includes(t.target)) throw usage(`${t.flag} ${shown(t.value)} is a file that source ${source} reads: writing it would replace that export`, `point ${t.flag} at another file`);
    }
  }
}


/**
 * Check an extra input file exists and can be read whole: a regular, readable file. `label` names the
 * flag or config key (`--since`, `inventory.safetyStock.file`), `value` is the path as the user wrote it.
 */
export async function checkInputFile(file: string, label: string, value: string, hint: string): Promise<void> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw usage(`${label} ${shown(value)}: no such file`, hint);
    throw usage(`${label} ${shown(value)}: cannot be read (${err.code ?? err.message})`, hint);
  });
  if (st.isDirectory()) throw usage(`${label} ${shown(value)}: is a directory, not a file`, hint);
  // a device or FIFO could be read forever (/dev/zero) or block the run
  if (!st.isFile()) throw usage(`${label} ${shown(value)}: is not a regular file (a device, FIFO or socket)`, hint);
  try {
    await access(file, constants.R_OK);
  } catch {
    throw usage(`${label} ${shown(value)}: is not readable by this user`, hint);
  }
}

const SINCE_HINT = 'pass the file an earlier run wrote with --out results.json (leave --since out on a first run)';

/**
 * `--since`: the previous run's results, a JSON array of result rows written with `--out …json`.
 * Read before any source, so that a wrong file is refused at once. Rows marked resolved are left out.
 */
export async function readPreviousResults(file: string, value: string): Promise<ResultRow[]> {
  await checkInputFile(file, '--since', value, SINCE_HINT);
  let doc: unknown;
  try {
    doc = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
  } catch (err) {
    throw usage(`--since ${shown(value)}: not a results file (it is not JSON: ${shown((err as Error).message, 120)})`, SINCE_HINT);
  }
  if (!Array.isArray(doc)) {
    const what = doc && typeof doc === 'object' && 'summary' in doc ? 'it is a --json document, not the rows' : 'expected a JSON array of result rows';
    throw usage(`--since ${shown(value)}: not a results file (${what})`, SINCE_HINT);
  }
  const classes: readonly string[] = CLASSES;
  doc.forEach((row: unknown, i) => {
    const r = row as Partial<Record<string, unknown>> | null;
    const ok = r !== null && typeof r === 'object' && typeof r.sku === 'string' && typeof r.location === 'string' && typeof r.channel === 'string' && typeof r.class === 'string' && classes.includes(r.class);
    if (!ok) throw usage(`--since ${shown(value)}: not a results file (entry ${i + 1} is not a result row with sku, location, channel and class)`, SINCE_HINT);
  });
  return (doc as (ResultRow & { change?: string })[]).filter((r) => r.change !== 'resolved');
}
