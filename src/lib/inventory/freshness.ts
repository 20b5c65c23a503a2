/**
 * Is each source tonight's complete export? Two checks after every source is read and before
 * anything is written or published, both exit 5 (a check failed) naming the source:
 *
 * - `stale-source`: older than the source's `maxAge` (off unless set). The age is the newest
 *   value of the `asOf` column when one is mapped, else the file's mtime (S3: LastModified); for a
 *   source of several files, the oldest file's.
 * - `shrunk-source`: its row count fell by more than `maxShrink` (default 50%; `false` = never)
 *   since the previous run. Row counts (data rows read, bad ones included) are kept per config and
 *   source name in `.retailctl/inventory/row-counts.json` under the working directory, written at
 *   the end of each run that got past these checks (not with --dry-run, not by a refused run: the
 *   next run still compares with the last good one). Without an earlier count there is nothing to
 *   compare with and the check passes.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InventorySourceConfig } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile } from '../io/paths.js';
import { writeFileAtomic } from '../io/rows.js';
import { formatDuration } from '../util/duration.js';

/** Default `maxShrink`: a source may lose up to half its rows from one run to the next. */
export const DEFAULT_MAX_SHRINK = 0.5;

/** Where row counts are kept, relative to the working directory. */
export const ROW_COUNTS_FILE = path.join('.retailctl', 'inventory', 'row-counts.json');

/** A source's limits, from its config. */
export interface SourceLimits {
  /** A 0-byte or header-only export is accepted (as no rows). */
  allowEmpty: boolean;
  /** Milliseconds; undefined = no age limit. */
  maxAgeMs?: number;
  /** Largest fall in rows accepted, 0–1; undefined = never refused. */
  maxShrink?: number;
}

export function sourceLimits(s: Pick<InventorySourceConfig, 'allowEmpty' | 'maxAge' | 'maxShrink'>): SourceLimits {
  const limits: SourceLimits = { allowEmpty: s.allowEmpty === true };
  if (typeof s.maxAge === 'number') limits.maxAgeMs = s.maxAge;
  if (s.maxShrink !== false) limits.maxShrink = s.maxShrink ?? DEFAULT_MAX_SHRINK;
  return limits;
}

/** What reading one file of a source found. */
export interface FileStats {
  shown: string;
  /** Data rows (bad ones included). */
  rows: number;
  /** mtime / LastModified. */
  modified?: Date;
  /** Newest value of the `asOf` column, when it is mapped and has a value. */
  asOf?: Date;
}

/** What reading a source found. */
export interface SourceStats {
  name: string;
  rows: number;
  files: FileStats[];
}

export interface CheckedSource {
  name: string;
  /** Default: sourceLimits({}). */
  limits?: SourceLimits;
  /** The logical → file column map (to name the asOf column). */
  columns: Record<string, string>;
}

interface Entry {
  rows: number;
  at: string;
}

interface RowCounts {
  version: 1;
  configs: Record<string, { sources: Record<string, Entry> }>;
}

export interface SourceProblem {
  code: 'stale-source' | 'shrunk-source';
  source: string;
  message: string;
  hint: string;
}

const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');
const count = (n: number) => n.toLocaleString('en-US');

/** Pure: the stale/shrunk problems of the sources read, oldest check first per source. */
export function sourceProblems(sources: readonly CheckedSource[], stats: readonly SourceStats[], previous: Record<string, Entry>, now: Date, stateShown = ROW_COUNTS_FILE): SourceProblem[] {
  const problems: SourceProblem[] = [];
  for (const source of sources) {
    const s = stats.find((t) => t.name === source.name);
    if (!s) continue;
    const { maxAgeMs, maxShrink } = source.limits ?? sourceLimits({});
    if (maxAgeMs !== undefined) {
      let oldest: { file: FileStats; at: Date; by: string } | undefined;
      for (const f of s.files) {
        const at = f.asOf ?? f.modified;
        if (!at) continue;
        if (!oldest || at < oldest.at) oldest = { file: f, at, by: f.asOf ? `${source.columns.asOf} ${iso(at)}` : `modified ${iso(at)}` };
      }
      if (oldest && now.getTime() - oldest.at.getTime() > maxAgeMs) {
        problems.push({
          code: 'stale-source',
          source: source.name,
          message: `stale-source: source ${source.name} (${oldest.file.shown}) is ${formatDuration(now.getTime() - oldest.at.getTime())} old (${oldest.by}), older than its maxAge ${formatDuration(maxAgeMs)}`,
          hint: `check that the export ran; if this data is what you want, raise inventory.sources.${source.name}.maxAge (or set it to false)`,
        });
      }
    }
    const before = previous[source.name];
    if (maxShrink !== undefined && before && before.rows > 0 && s.rows < before.rows * (1 - maxShrink)) {
      const fell = Math.round((1 - s.rows / before.rows) * 100);
      problems.push({
        code: 'shrunk-source',
        source: source.name,
        message: `shrunk-source: source ${source.name} has ${count(s.rows)} row${s.rows === 1 ? '' : 's'}, ${fell}% fewer than the ${count(before.rows)} of the previous run (${before.at}); its maxShrink is ${Math.round(maxShrink * 100)}%`,
        hint: `check the export (cut off? filtered?); if the drop is real, remove "${source.name}" from ${stateShown} (or raise inventory.sources.${source.name}.maxShrink) and rerun`,
      });
    }
  }
  return problems;
}

function configKey(cwd: string, configFile: string): string {
  return (path.relative(cwd, configFile) || configFile).split(path.sep).join('/');
}

async function readRowCounts(file: string, shownFile: string): Promise<RowCounts> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { version: 1, configs: {} };
    // ENOTDIR: a file stands where a directory of the path should be (e.g. a file named .retailctl)
    const why = code === 'ENOTDIR' ? `a file stands where a directory of its path should be (${code})` : (err as Error).message;
    throw new RetailctlError('INVENTORY_STATE', `cannot read ${shownFile}: ${why}`, { exitCode: ExitCode.Usage, hint: `fix or remove ${shownFile} (the next run then has no row counts to compare with)` });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const valid =
    doc !== null &&
    typeof doc === 'object' &&
    (doc as RowCounts).version === 1 &&
    typeof (doc as RowCounts).configs === 'object' &&
    Object.values((doc as RowCounts).configs ?? {}).every((c) => c && typeof c.sources === 'object' && Object.values(c.sources ?? {}).every((e) => e && Number.isSafeInteger(e.rows) && typeof e.at === 'string'));
  if (!valid) throw new RetailctlError('INVENTORY_STATE', `${shownFile} is not a row-count file retailctl wrote`, { exitCode: ExitCode.Usage, hint: `remove ${shownFile} (the next run then has no row counts to compare with)` });
  return doc as RowCounts;
}

/**
 * Before any source is read (not with --dry-run): the row-count file can be written, so the
 * shrunk-source check is not switched off by a working directory that cannot keep it (exit 2).
 */
export async function checkRowCountsFile(cwd: string): Promise<void> {
  const file = path.join(cwd, ROW_COUNTS_FILE);
  const label = 'row counts';
  try {
    await checkOutputFile(file, label);
  } catch (err) {
    if (!(err instanceof RetailctlError)) throw err;
    const prefix = `${label} ${file}: `;
    const why = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    throw new RetailctlError('INVENTORY_STATE', `cannot keep the source row counts in ${ROW_COUNTS_FILE}: ${why}`, {
      exitCode: ExitCode.Usage,
      hint: `the shrunk-source check keeps them there between runs: run from a directory where ${ROW_COUNTS_FILE} can be written (remove or rename whatever blocks it)`,
    });
  }
}

export interface SourceCheck {
  /** Keep this run's row counts for the next run; a message when that failed (the run stands). */
  record(): Promise<string | undefined>;
}

/**
 * Refuse stale and shrunk sources (exit 5, the first problem's code as the error code, every
 * problem in the details), else hand back how to record this run's row counts.
 */
export async function checkSources(options: { cwd: string; configFile: string; now: Date; sources: readonly CheckedSource[]; stats: readonly SourceStats[] }): Promise<SourceCheck> {
  const file = path.join(options.cwd, ROW_COUNTS_FILE);
  const state = await readRowCounts(file, ROW_COUNTS_FILE);
  const key = configKey(options.cwd, options.configFile);
  const previous = state.configs[key]?.sources ?? {};
  const problems = sourceProblems(options.sources, options.stats, previous, options.now);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new RetailctlError(first.code, first.message, {
      exitCode: ExitCode.CheckFailed,
      hint: first.hint,
      details: problems.slice(1).map((p) => p.message),
      data: { sourceProblems: problems.map(({ code, source, message }) => ({ code, source, message })) },
    });
  }
  return {
    async record() {
      const at = iso(options.now);
      const sources = { ...previous };
      for (const s of options.stats) sources[s.name] = { rows: s.rows, at };
      const next: RowCounts = { version: 1, configs: { ...state.configs, [key]: { sources } } };
      try {
        await writeFileAtomic(file, [`${JSON.stringify(next, null, 2)}\n`]);
        return undefined;
      } catch (err) {
        return `could not record the row counts in ${ROW_COUNTS_FILE}: ${(err as Error).message}; the next run cannot check for shrunk sources`;
      }
    },
  };
}
