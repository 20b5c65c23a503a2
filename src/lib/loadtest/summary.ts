/**
 * k6's end-of-test summary, as `k6 run --summary-export` writes it, and the regression gate that
 * compares a run with a previous run's summary. Pure, apart from reading the baseline file.
 */
import { readFile } from 'node:fs/promises';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';

/** What retailctl reports from k6's summary. */
export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  /** Iterations k6 had no free VU for (not sent). */
  droppedIterations: number;
  /** Each configured threshold and whether it held. */
  thresholds: { name: string; ok: boolean }[];
  passed: boolean;
}

/**
 * One metric of a summary. `--summary-export` writes the values flat beside `thresholds`, whose
 * booleans are true when the threshold was crossed (failed); handleSummary's data nests them under
 * `values` and writes `{ ok }`. Both are read.
 */
type SummaryMetric = Record<string, unknown> & { values?: Record<string, unknown>; thresholds?: Record<string, unknown> };
export interface K6Summary {
  metrics?: Record<string, SummaryMetric>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A metric's value (`p(95)`, `rate`, …), wherever the summary's format keeps it; a Rate's `rate` is `value` in the export. */
function stat(metric: SummaryMetric | undefined, name: string): number | undefined {
  if (!isRecord(metric)) return undefined;
  const values = isRecord(metric.values) ? metric.values : metric;
  const v = values[name] ?? (name === 'rate' && !isRecord(metric.values) && metric.passes !== undefined ? metric.value : undefined);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Pure: the numbers retailctl reports, from k6's summary export (or handleSummary data). */
export function summarize(data: K6Summary): LoadResult {
  const m = isRecord(data.metrics) ? data.metrics : {};
  const duration = m.http_req_duration;
  const thresholds = Object.entries(m).flatMap(([metric, v]) =>
    Object.entries(isRecord(v?.thresholds) ? v.thresholds : {}).map(([expr, t]) => ({ name: `${metric} ${expr}`, ok: isRecord(t) ? t.ok === true : t === false })),
  );
  return {
    requests: stat(m.http_reqs, 'count') ?? 0,
    rps: Number((stat(m.http_reqs, 'rate') ?? 0).toFixed(1)),
    p50Ms: Number((stat(duration, 'med') ?? 0).toFixed(1)),
    p95Ms: Number((stat(duration, 'p(95)') ?? 0).toFixed(1)),
    p99Ms: Number((stat(duration, 'p(99)') ?? 0).toFixed(1)),
    errorRate: Number((stat(m.http_req_failed, 'rate') ?? 0).toFixed(4)),
    droppedIterations: stat(m.dropped_iterations, 'count') ?? 0,
    thresholds,
    passed: thresholds.every((t) => t.ok),
  };
}

/** The three numbers the regression gate compares. */
export interface GateMetrics {
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
}

const GATED: { key: keyof GateMetrics; metric: string; stat: string; label: string }[] = [
  { key: 'p95Ms', metric: 'http_req_duration', stat: 'p(95)', label: 'p95' },
  { key: 'p99Ms', metric: 'http_req_duration', stat: 'p(99)', label: 'p99' },
  { key: 'errorRate', metric: 'http_req_failed', stat: 'rate', label: 'error rate' },
];

/** Pure: the gated numbers of a summary, or what it lacks (`http_req_duration p(99)`, …). */
export function gateMetrics(data: unknown): { metrics: GateMetrics; missing: [] } | { metrics?: undefined; missing: string[] } {
  const m = isRecord(data) && isRecord(data.metrics) ? (data.metrics as Record<string, SummaryMetric>) : undefined;
  if (!m) return { missing: ['metrics'] };
  const found: Partial<GateMetrics> = {};
  const missing: string[] = [];
  for (const g of GATED) {
    const v = stat(m[g.metric], g.stat);
    if (v === undefined) missing.push(`${g.metric} ${g.stat}`);
    else found[g.key] = v;
  }
  return missing.length ? { missing } : { metrics: found as GateMetrics, missing: [] };
}

/**
 * Read a previous run's summary (`--baseline`). Missing, unreadable, not JSON or without the gated
 * metrics: exit 2, one line naming the file and what is wrong, before k6 runs.
 */
export async function readBaseline(file: string, shownAs: string): Promise<GateMetrics> {
  const bad = (why: string, hint: string, cause?: unknown) => new RetailctlError('BASELINE_UNUSABLE', `--baseline ${shown(shownAs)}: ${why}`, { exitCode: ExitCode.Usage, hint, cause });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw bad('no such file', 'give the summary a previous run wrote with --summary-out', err);
    if (code === 'EISDIR') throw bad('is a directory, not a summary file', 'give the summary a previous run wrote with --summary-out', err);
    throw bad(`cannot be read (${code ?? shown((err as Error).message)})`, 'give a readable summary file', err);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad('is not JSON (expected k6\'s summary, as --summary-out or `k6 run --summary-export` write it)', 'give the summary a previous run wrote with --summary-out', err);
  }
  const { metrics, missing } = gateMetrics(data);
  if (!metrics) {
    const what = missing[0] === 'metrics' ? 'has no "metrics" (not a k6 summary)' : `lacks ${missing.join(', ')}`;
    const p99 = missing.includes('http_req_duration p(99)') ? ' (k6 exports p(99) only when summaryTrendStats asks for it, as retailctl\'s scripts do)' : '';
    throw bad(`${what}${p99}`, 'give the summary a previous run wrote with --summary-out');
  }
  // a run that sent nothing (or timed nothing) is no yardstick: every later run would "regress" against 0 ms
  const requests = isRecord(data) && isRecord(data.metrics) ? stat((data.metrics as Record<string, SummaryMetric>).http_reqs, 'count') : undefined;
  if (requests === 0 || (metrics.p95Ms <= 0 && metrics.p99Ms <= 0)) {
    throw bad(`${requests === 0 ? 'records a run that sent no requests' : 'records no response times (p95 and p99 are 0 ms)'}: nothing to compare with`, 'give the summary of a run that sent its load (--summary-out of a passing run)');
  }
  return metrics;
}

/**
 * Parse `--max-regression`: a percentage, `10%` or `10`. Returns the fraction (0.1).
 */
export function parseMaxRegression(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const pct = m ? Number(m[1]) : Number.NaN;
  if (!Number.isFinite(pct) || pct > 1000) {
    throw new RetailctlError('USAGE', `--max-regression: expected a percentage such as 10%, got "${shown(text)}"`, { exitCode: ExitCode.Usage, hint: 'e.g. --max-regression 10% (p95, p99 and the error rate may each be 10% worse than the baseline)' });
  }
  return pct / 100;
}

/** An error rate may always rise by this much (1 request in 10,000): a baseline without errors would otherwise fail on one. */
export const ERROR_RATE_SLACK = 0.0001;

export interface GateRow {
  metric: string;
  baseline: number;
  now: number;
  /** Relative change, (now − baseline) / baseline; null when the baseline is 0. */
  change: number | null;
  /** The largest value that passes. */
  allowed: number;
  ok: boolean;
}

export interface Comparison {
  baseline: string;
  maxRegression: number;
  rows: GateRow[];
  passed: boolean;
}

/** Pure: each gated metric of this run against the baseline, allowed `maxRegression` worse (relative). */
export function compare(baseline: GateMetrics, now: GateMetrics, maxRegression: number, baselineFile: string): Comparison {
  const rows = GATED.map((g): GateRow => {
    const b = baseline[g.key];
    const n = now[g.key];
    const relative = b * (1 + maxRegression);
    const allowed = g.key === 'errorRate' ? Math.max(relative, b + ERROR_RATE_SLACK) : relative;
    return { metric: g.label, baseline: b, now: n, change: b === 0 ? null : (n - b) / b, allowed: roundTo(allowed, 6), ok: n <= allowed + 1e-12 };
  });
  return { baseline: baselineFile, maxRegression, rows, passed: rows.every((r) => r.ok) };
}

function roundTo(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const pct = (fraction: number, digits = 1) => `${(fraction * 100).toFixed(digits)}%`;
const value = (row: GateRow, v: number) => (row.metric === 'error rate' ? pct(v, 2) : `${v.toFixed(1)} ms`);

/** Pure: the comparison table (metric, baseline, now, change, allowed, verdict). */
export function comparisonTable(c: Comparison): string[] {
  const allowance = `+${roundTo(c.maxRegression * 100, 4)}%`;
  const rows = [
    ['metric', 'baseline', 'now', 'change', 'allowed', 'verdict'],
    ...c.rows.map((r) => [
      r.metric,
      value(r, r.baseline),
      value(r, r.now),
      r.change === null ? (r.now === 0 ? '0.0%' : 'new') : `${r.change >= 0 ? '+' : ''}${pct(r.change)}`,
      `${allowance} (≤ ${value(r, r.allowed)})`,
      r.ok ? 'ok' : 'WORSE',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}
