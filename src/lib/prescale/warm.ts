/**
 * Warm throughput of on-demand DynamoDB tables and their global secondary indexes. Application
 * Auto Scaling does not apply to an on-demand table: a campaign target `dynamodb: Table` (or
 * `Table/index/Name`) with `warm: { read, write }` (units per second) is set through UpdateTable
 * `WarmThroughput` and reported through DescribeTable `WarmThroughput.Status`.
 *
 * Warm throughput only goes up and cannot be lowered: a target already at or above the request is
 * skipped (a rerun, or a second operator, never undoes anything), the plan says so, and nothing is
 * scheduled to bring it back. Pure planner (planWarm) → typed plan (WarmTargetPlan) → executor
 * (applyWarm, waitWarm), like the rest of prescale.
 */
import type { AwsClients } from '../aws/context.js';
import type { Campaign } from '../config/schema.js';
import { isAwsError } from '../errors.js';
import type { PlanAction, Precondition } from '../plan/document.js';
import { sleep } from '../util/sleep.js';
import { slug, type Readiness } from './targets.js';

/** One table or index whose warm throughput a campaign raises. */
export interface WarmTargetRef {
  /** Slug for results: `Carts-warm`, `Carts-index-ByUser-warm`. */
  key: string;
  /** For people: `dynamodb Carts (warm)`. */
  label: string;
  /** As in the config: `Carts` or `Carts/index/ByUser`. */
  target: string;
  table: string;
  index?: string;
  /** Units per second requested. */
  read?: number;
  write?: number;
}

/** Warm throughput as DescribeTable reports it. */
export interface WarmValues {
  read: number | null;
  write: number | null;
  /** `ACTIVE` or `UPDATING`. */
  status: string | null;
}

/** A table as read for prescale: its billing mode and warm throughput (table and each GSI). */
export interface TableInfo {
  exists: boolean;
  /** `PAY_PER_REQUEST` (on-demand) or `PROVISIONED` (no BillingModeSummary means provisioned). */
  billingMode: string;
  status?: string;
  warm?: WarmValues;
  indexes: Record<string, WarmValues>;
}

export interface WarmTargetPlan {
  ref: WarmTargetRef;
  billingMode: string;
  /** The warm throughput read when planning (the plan's precondition). */
  current: WarmValues;
  /** What UpdateTable sets: only the dimensions that rise. Absent: nothing to do. */
  update?: { read?: number; write?: number };
  /** Why nothing is done (already at or above the request). */
  skip?: string;
}

/** A campaign target the table's billing mode does not allow: exit 2, the config located. */
export interface BillingProblem {
  path: (string | number)[];
  message: string;
}

/** Pure: the warm targets of a campaign. */
export function resolveWarmTargets(campaign: Pick<Campaign, 'targets'>): WarmTargetRef[] {
  return campaign.targets.flatMap((t): WarmTargetRef[] => {
    if (t.kind !== 'dynamodb' || !t.warm) return [];
    const [table, , index] = t.dynamodb.split('/') as [string, string?, string?];
    const ref: WarmTargetRef = { key: `${slug(t.dynamodb)}-warm`, label: `dynamodb ${t.dynamodb} (warm)`, target: t.dynamodb, table };
    if (index) ref.index = index;
    if (t.warm.read !== undefined) ref.read = t.warm.read;
    if (t.warm.write !== undefined) ref.write = t.warm.write;
    return [ref];
  });
}

/** Every table a campaign's DynamoDB targets name (provisioned capacity or warm). */
export function tablesOf(campaign: Pick<Campaign, 'targets'>): string[] {
  return [...new Set(campaign.targets.flatMap((t) => (t.kind === 'dynamodb' ? [t.dynamodb.split('/')[0]!] : [])))];
}

const warmOf = (w: { ReadUnitsPerSecond?: number; WriteUnitsPerSecond?: number; Status?: string } | undefined): WarmValues => ({ read: w?.ReadUnitsPerSecond ?? null, write: w?.WriteUnitsPerSecond ?? null, status: w?.Status ?? null });

/** DescribeTable, read-only. */
export async function readTable(aws: AwsClients, table: string, signal?: AbortSignal): Promise<TableInfo> {
  const dynamodb = await aws.client('dynamodb');
  const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
  try {
    const res = await dynamodb.send(new DescribeTableCommand({ TableName: table }), { abortSignal: signal });
    const t = res.Table;
    const info: TableInfo = { exists: true, billingMode: t?.BillingModeSummary?.BillingMode ?? 'PROVISIONED', indexes: {} };
    if (t?.TableStatus) info.status = t.TableStatus;
    info.warm = warmOf(t?.WarmThroughput);
    for (const g of t?.GlobalSecondaryIndexes ?? []) if (g.IndexName) info.indexes[g.IndexName] = warmOf(g.WarmThroughput);
    return info;
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
    return { exists: false, billingMode: 'unknown', indexes: {} };
  }
}

/** Every named table, read at once. */
export async function readTables(aws: AwsClients, tables: readonly string[], signal?: AbortSignal): Promise<Record<string, TableInfo>> {
  const read = await Promise.all(tables.map(async (t) => [t, await readTable(aws, t, signal)] as const));
  return Object.fromEntries(read);
}

/**
 * Pure: targets the billing mode does not allow. `read`/`write` is provisioned capacity through
 * Application Auto Scaling, which does not apply to an on-demand table; `warm` is for on-demand
 * tables. A warm target's table (and index) must exist.
 */
export function billingProblems(campaignName: string, campaign: Pick<Campaign, 'targets'>, tables: Record<string, TableInfo>): BillingProblem[] {
  const out: BillingProblem[] = [];
  campaign.targets.forEach((t, i) => {
    if (t.kind !== 'dynamodb') return;
    const [name, , index] = t.dynamodb.split('/') as [string, string?, string?];
    const info = tables[name];
    const path = ['campaigns', campaignName, 'targets', i];
    if (!info?.exists) {
      if (t.warm) out.push({ path: [...path, 'dynamodb'], message: `dynamodb table ${name} does not exist in this account and region` });
      return;
    }
    if (t.warm && index && !info.indexes[index]) out.push({ path: [...path, 'dynamodb'], message: `dynamodb table ${name} has no global secondary index ${index}` });
    if (!t.warm && info.billingMode === 'PAY_PER_REQUEST') {
      out.push({ path: [...path, t.read !== undefined ? 'read' : t.write !== undefined ? 'write' : 'sizing'], message: `dynamodb table ${name} is on-demand (billing mode PAY_PER_REQUEST): \`read\`/\`write\` (or \`sizing\`) set provisioned capacity through Application Auto Scaling, which does not apply to it; give \`warm: { read, write }\` (units per second) instead` });
    }
    if (t.warm && info.billingMode !== 'PAY_PER_REQUEST') {
      out.push({ path: [...path, 'warm'], message: `dynamodb table ${name} is provisioned (billing mode ${info.billingMode}): \`warm\` is for on-demand tables; give \`read\`/\`write\` (provisioned capacity through Application Auto Scaling) instead` });
    }
  });
  return out;
}

/** The warm throughput of a target as read. */
export function currentWarm(ref: WarmTargetRef, tables: Record<string, TableInfo>): WarmValues {
  const info = tables[ref.table];
  return (ref.index ? info?.indexes[ref.index] : info?.warm) ?? { read: null, write: null, status: null };
}

/** Pure: what to set on each warm target. At or above the request: skipped, never lowered. */
export function planWarm(refs: readonly WarmTargetRef[], tables: Record<string, TableInfo>): WarmTargetPlan[] {
  return refs.map((ref) => {
    const current = currentWarm(ref, tables);
    const update: { read?: number; write?: number } = {};
    if (ref.read !== undefined && ref.read > (current.read ?? 0)) update.read = ref.read;
    if (ref.write !== undefined && ref.write > (current.write ?? 0)) update.write = ref.write;
    const plan: WarmTargetPlan = { ref, billingMode: tables[ref.table]?.billingMode ?? 'unknown', current };
    if (update.read !== undefined || update.write !== undefined) plan.update = update;
    else plan.skip = `already at or above the request (${describe(current)})`;
    return plan;
  });
}

const units = (n: number | null) => (n === null ? 'unknown' : String(n));
const describe = (w: WarmValues) => `read ${units(w.read)}, write ${units(w.write)} units/s`;

/** The UpdateTable input for one warm target. */
export function updateTableInput(ref: WarmTargetRef, update: { read?: number; write?: number }): Record<string, unknown> {
  const warm: Record<string, number> = {};
  if (update.read !== undefined) warm.ReadUnitsPerSecond = update.read;
  if (update.write !== undefined) warm.WriteUnitsPerSecond = update.write;
  return ref.index ? { TableName: ref.table, GlobalSecondaryIndexUpdates: [{ Update: { IndexName: ref.index, WarmThroughput: warm } }] } : { TableName: ref.table, WarmThroughput: warm };
}

/** The plan's write calls for its warm targets, in order. */
export function warmActions(plans: readonly WarmTargetPlan[] | undefined): PlanAction[] {
  return (plans ?? []).flatMap((p) =>
    p.update
      ? [{ call: 'dynamodb:UpdateTable', target: p.ref.label, summary: `warm throughput ${renderChange(p)} (cannot be lowered afterwards)`, params: updateTableInput(p.ref, p.update) }]
      : [],
  );
}

/** The warm throughput as read, for the plan file: a change since then means the plan is stale. */
export function warmPreconditions(refs: readonly WarmTargetRef[], tables: Record<string, TableInfo>): Precondition[] {
  return refs.map((ref) => {
    const info = tables[ref.table];
    const w = currentWarm(ref, tables);
    const value = info?.exists ? { billingMode: info.billingMode, read: w.read, write: w.write } : null;
    return { id: `dynamodb:warm/${ref.target}`, what: `${ref.label} (billing mode and warm throughput)`, value };
  });
}

function renderChange(p: WarmTargetPlan): string {
  const part = (what: 'read' | 'write') => {
    const wanted = p.ref[what];
    if (wanted === undefined) return `${what} ${units(p.current[what])} (unchanged)`;
    return p.update?.[what] !== undefined ? `${what} ${units(p.current[what])} → ${wanted}` : `${what} ${units(p.current[what])} (at or above ${wanted})`;
  };
  return `${part('read')}, ${part('write')} units/s`;
}

/** The plan's lines for its warm targets. */
export function renderWarmPlan(plans: readonly WarmTargetPlan[] | undefined, width: number, bold: (s: string) => string): string[] {
  if (!plans?.length) return [];
  const w = Math.max(width, ...plans.map((p) => p.ref.label.length));
  const lines = plans.map((p) => `  ${p.ref.label.padEnd(w)}  ${p.update ? `warm throughput ${bold(renderChange(p))} (on-demand), set now` : `warm throughput ${describe(p.current)}: skipped, ${p.skip}`}`);
  if (plans.some((p) => p.update)) lines.push(`  ${' '.repeat(w)}  warm throughput cannot be lowered afterwards: nothing is scheduled to bring it back, and it stays after the window`);
  return lines;
}

/** Whether a warm target has reached its request and is ACTIVE. */
export function warmReadiness(ref: WarmTargetRef, w: WarmValues): Readiness {
  const reached = (ref.read === undefined || (w.read ?? 0) >= ref.read) && (ref.write === undefined || (w.write ?? 0) >= ref.write);
  const part = (what: 'read' | 'write') => `${what} ${units(w[what])}${ref[what] !== undefined ? `/${ref[what]}` : ''}`;
  return { ready: reached && w.status === 'ACTIVE', current: w.read ?? 0, detail: `warm ${w.status ?? 'unknown'} ${part('read')}, ${part('write')} units/s` };
}

export interface WarmResult {
  key: string;
  label: string;
  status: 'ok' | 'failed';
  reason?: string;
  readiness?: Readiness;
  /** Nothing was sent: already at or above the request (also when found so just before writing). */
  skipped?: boolean;
}

export interface WarmExecuteOptions {
  write: AwsClients;
  read: AwsClients;
  signal?: AbortSignal;
  /** How long to wait for a table busy with an earlier update before the next one (and for ACTIVE). */
  waitMs: number;
  pollMs?: number;
}

/** Attempts at one table's UpdateTable when another update wins the race (each after the table is idle again). */
const WRITE_ATTEMPTS = 4;

/** Poll until the table and its indexes are no longer updating, or the deadline passes. */
async function untilIdle(opts: WarmExecuteOptions, table: string, deadline: number): Promise<TableInfo> {
  for (;;) {
    const info = await readTable(opts.read, table, opts.signal);
    const busy = info.status !== 'ACTIVE' || info.warm?.status === 'UPDATING' || Object.values(info.indexes).some((i) => i.status === 'UPDATING');
    if (!busy || Date.now() >= deadline) return info;
    await sleep(Math.min(opts.pollMs ?? 2000, Math.max(0, deadline - Date.now())), opts.signal);
  }
}

/**
 * Send each planned UpdateTable, one table at a time in order (a table accepts one update at a
 * time: the next waits until the previous is ACTIVE). Just before each write the table is read
 * again and only what is still below the request is sent, so a second operator's higher value is
 * never lowered; a ValidationException because the value is now higher is no failure.
 */
export async function applyWarm(plans: readonly WarmTargetPlan[] | undefined, opts: WarmExecuteOptions): Promise<WarmResult[]> {
  const todo = plans ?? [];
  const results: WarmResult[] = todo.map((p) => ({ key: p.ref.key, label: p.ref.label, status: 'ok', ...(p.update ? {} : { skipped: true }) }));
  const tables = [...new Set(todo.filter((p) => p.update).map((p) => p.ref.table))];
  const dynamodb = tables.length ? await opts.write.client('dynamodb') : undefined;
  const { UpdateTableCommand } = await import('@aws-sdk/client-dynamodb');
  await Promise.all(
    tables.map(async (table) => {
      for (const p of todo.filter((x) => x.update && x.ref.table === table)) {
        const result = results.find((r) => r.key === p.ref.key)!;
        try {
          const deadline = Date.now() + Math.max(opts.waitMs, 60_000);
          // a second operator may send between our read and our write: the table then refuses ours
          // (ResourceInUseException while theirs is under way, ValidationException when theirs is
          // higher); wait until it is idle again, read again, and send only what is still below
          for (let attempt = 1; ; attempt++) {
            const info = await untilIdle(opts, table, deadline);
            const now = currentWarm(p.ref, { [table]: info });
            const update: { read?: number; write?: number } = {};
            if (p.update!.read !== undefined && p.update!.read > (now.read ?? 0)) update.read = p.update!.read;
            if (p.update!.write !== undefined && p.update!.write > (now.write ?? 0)) update.write = p.update!.write;
            if (update.read === undefined && update.write === undefined) {
              result.skipped = true;
              break;
            }
            try {
              await dynamodb!.send(new UpdateTableCommand(updateTableInput(p.ref, update) as never), { abortSignal: opts.signal });
              result.skipped = false;
              break;
            } catch (err) {
              if (!isAwsError(err, 'ResourceInUseException', 'ValidationException') || attempt >= WRITE_ATTEMPTS || opts.signal?.aborted) throw err;
            }
          }
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          result.status = 'failed';
          result.reason = err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  return results;
}

/** Poll until every warm target that did not fail is ACTIVE at its request, or `waitMs` passes. */
export async function waitWarm(plans: readonly WarmTargetPlan[] | undefined, results: WarmResult[], opts: WarmExecuteOptions): Promise<void> {
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const pending = results.filter((r) => r.status === 'ok' && !r.readiness?.ready);
    const tables = [...new Set(pending.map((r) => (plans ?? []).find((p) => p.ref.key === r.key)!.ref.table))];
    const read = await readTables(opts.read, tables, opts.signal);
    for (const r of pending) {
      const p = (plans ?? []).find((x) => x.ref.key === r.key)!;
      r.readiness = warmReadiness(p.ref, currentWarm(p.ref, read));
    }
    const left = deadline - Date.now();
    if (results.every((r) => r.status !== 'ok' || r.readiness?.ready) || left <= 0) return;
    await sleep(Math.min(opts.pollMs ?? 2000, left), opts.signal);
  }
}

/** `prescale status` for warm targets: a line each, and the JSON entries. */
export function warmStatus(refs: readonly WarmTargetRef[], tables: Record<string, TableInfo>): { lines: string[]; data: Record<string, unknown>[] } {
  const lines: string[] = [];
  const data: Record<string, unknown>[] = [];
  for (const ref of refs) {
    const info = tables[ref.table];
    const w = currentWarm(ref, tables);
    const readiness = warmReadiness(ref, w);
    lines.push(`  ${ref.label}`);
    lines.push(info?.exists ? `    billing mode ${info.billingMode}, requested ${ref.read !== undefined ? `read ${ref.read}` : ''}${ref.read !== undefined && ref.write !== undefined ? ', ' : ''}${ref.write !== undefined ? `write ${ref.write}` : ''} units/s, now ${readiness.detail}${readiness.ready ? ' (ready)' : ''}; warm throughput cannot be lowered` : `    table ${ref.table} not found`);
    data.push({ target: ref.label, table: ref.table, index: ref.index ?? null, billingMode: info?.billingMode ?? null, requested: { read: ref.read ?? null, write: ref.write ?? null }, warm: w, ready: readiness.ready, readiness: readiness.detail });
  }
  return { lines, data };
}
