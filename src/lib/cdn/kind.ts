/**
 * The cdn plan kinds (`cdn.failover`, `cdn.failback`, `cdn.shift`) for the shared apply step:
 * preconditions (record sets as read, health checks, CloudFront state), the write calls, and the
 * executor with its report (audit, INSYNC wait, DNS verification, exit codes), used by the direct command and by
 * `retailctl apply` alike.
 */
import { z } from 'zod';
import type { AwsClients, AwsContext } from '../aws/context.js';
import { callerIdentity } from '../aws/identity.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import type { Output } from '../io/output.js';
import { parsePlanObject, type PlanAction, type Precondition } from '../plan/document.js';
import type { ExecuteMode, KindHandler } from '../plan/handler.js';
import { formatDuration } from '../util/duration.js';
import { mdTable, mdText } from '../util/markdown.js';
import { checkAuditTargets, writeAudit, type AuditEntry, type AuditResult, type AuditTargets } from './audit.js';
import { auditEntryFor, executeCdnPlan, type CdnResult } from './execute.js';
import { readDistribution, readHealth, readRecords } from './gather.js';
import { normalizeName, recordNames, type GroupState } from './model.js';
import { shown } from '../util/sanitize.js';
import type { CdnPlan } from './plan.js';
import { noopMessage, renderPlan } from './render.js';
import { expectedForPlan, unswitched, verificationSummary, verifyAnswers, verifySettings, type VerifySettings } from './verify.js';

/** Default audit log, relative to the config file. */
export const DEFAULT_AUDIT_LOG = '.retailctl/cdn-audit.jsonl';

/** Exactly what a cdn plan was computed from: every record set as read, each health check and distribution read. */
export function cdnPreconditions(state: Pick<GroupState, 'config' | 'records' | 'health' | 'distributions'>): Precondition[] {
  const out: Precondition[] = [];
  for (const record of state.records) {
    const sets = [...record.sets].sort((a, b) => (a.SetIdentifier ?? '').localeCompare(b.SetIdentifier ?? ''));
    out.push({ id: `route53:${state.config.zoneId}/${record.name}/${record.type}`, what: `${record.name} ${record.type} record sets`, value: JSON.parse(JSON.stringify(sets)) });
  }
  for (const [id, h] of Object.entries(state.health).sort(([a], [b]) => a.localeCompare(b))) {
    const value: Record<string, unknown> = { healthy: h.healthy };
    if (h.version !== undefined) Object.assign(value, { inverted: h.inverted ?? false, disabled: h.disabled ?? false, version: h.version });
    out.push({ id: `route53-health:${id}`, what: `health check ${id}`, value });
  }
  for (const d of Object.values(state.distributions).sort((a, b) => a!.id.localeCompare(b!.id))) {
    out.push({ id: `cloudfront:${d!.id}`, what: `CloudFront distribution ${d!.id}`, value: { enabled: d!.enabled, status: d!.status } });
  }
  return out;
}

/** Where a group's changes are audited: `cdn.auditLog` (relative to the config) and `cdn.auditBucket`. */
export function auditTargets(loaded: Awaited<ReturnType<CommandContext['config']>>): AuditTargets {
  return { file: loaded.resolve(loaded.config.cdn?.auditLog ?? DEFAULT_AUDIT_LOG), bucket: loaded.config.cdn?.auditBucket };
}

function auditWhere(audit: AuditResult, bucket: string | undefined): string {
  return [audit.file, audit.s3Key ? `s3://${bucket}/${audit.s3Key}` : undefined].filter(Boolean).join(' and ');
}

async function callerArn(ctx: CommandContext, read: AwsClients): Promise<string> {
  return (await callerIdentity(read, ctx.signal)).arn;
}

/** Before the write is sent, an interrupt means nothing changed: say so. */
export async function nothingChangedIfInterrupted<T>(ctx: CommandContext, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    throw new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} before any change: nothing was changed`, { exitCode: ExitCode.Interrupted, cause: err, hint: 'run the same command again when you are ready', data: { applied: false } });
  }
}

/** What a direct cdn command adds to the executor: its wait, and a re-plan after a conflict. */
export interface CdnExecuteMode extends ExecuteMode {
  /** Direct commands only: plan again from the state now (a second operator may have done the job). */
  replan?: () => Promise<CdnPlan | undefined>;
  /** DNS verification after INSYNC (flags over `cdn.verify`); default: `cdn.verify` alone. */
  verify?: VerifySettings;
}

async function executeCdn(ctx: CommandContext, aws: AwsContext, plan: CdnPlan, mode: CdnExecuteMode): Promise<CommandResult> {
  const loaded = await ctx.config();
  const targets = auditTargets(loaded);
  ctx.signals.checkCommand = `retailctl cdn status ${plan.group}`;
  if (plan.noop) return noop(ctx, aws, plan, targets, mode.text);
  const caller = await nothingChangedIfInterrupted(ctx, callerArn(ctx, aws.read));
  const waitMs = mode.waitMs ?? 0;
  const progress = waitMs > 0 ? await ctx.out.progress(plan.changeBatch ? `waiting for Route 53 to apply the change everywhere (up to ${formatDuration(waitMs)})` : 'updating the health checks') : undefined;
  const state: GroupState = { group: plan.group, config: plan.config, records: [], health: {}, distributions: {}, readAt: ctx.now().toISOString() };
  const settings = mode.verify ?? verifySettings(loaded.config.cdn?.verify, {});
  let result: CdnResult;
  try {
    result = await executeCdnPlan(plan, {
      // after INSYNC (or the health-check updates): do Route 53 and the resolvers answer with the destination?
      verify: (appliedAt) => {
        progress?.update('checking the DNS answers');
        return verifyAnswers({ read: aws.read, zoneId: plan.zoneId, expected: expectedForPlan(plan), settings, changedAt: appliedAt, signal: ctx.signal, onProgress: (m) => progress?.update(m) });
      },
      write: aws.write(),
      sideWrite: aws.write({ side: true }),
      read: aws.read,
      state,
      audit: targets,
      caller,
      waitMs,
      signal: ctx.signal,
      now: ctx.now,
      onProgress: (m) => progress?.update(m),
      onApplied: (what) => ctx.signals.applied.push(what),
    });
  } catch (err) {
    progress?.fail();
    if (!(err instanceof RetailctlError) || err.code !== 'CDN_CONFLICT' || ctx.signal.aborted || !mode.replan) throw err;
    // someone else changed the group between our read and our write: if they moved it where we
    // were going, the job is done; otherwise report the conflict
    const again = await mode.replan().catch(() => undefined);
    if (!again?.noop || again.refusals.length) throw err;
    const lostAnswer = err.data?.mayHaveApplied === true;
    const why = lostAnswer ? 'the change is in place: the first attempt of this run, whose answer was lost, probably made it (or another operator did)' : 'another change got there first';
    return noop(ctx, aws, again, targets, renderPlan(again, ctx.out, { showBatch: false }), why, caller, lostAnswer ? 'applied' : 'noop');
  }
  return reportApplied(ctx, plan, result, targets, waitMs, progress, mode.mode === 'apply');
}

/** Traffic already goes there: nothing is written to Route 53; the no-op is audited. */
async function noop(ctx: CommandContext, aws: AwsContext, plan: CdnPlan, targets: AuditTargets, text: string, why?: string, knownCaller?: string, outcome: 'noop' | 'applied' = 'noop'): Promise<CommandResult> {
  const caller = knownCaller ?? (await nothingChangedIfInterrupted(ctx, callerArn(ctx, aws.read)));
  const message = `${noopMessage(plan)}${why ? ` (${why})` : ''}`;
  const entry = auditEntryFor(plan, { caller, now: ctx.now }, outcome, { note: message });
  const audit = await writeAudit(entry, targets, targets.bucket ? aws.write({ side: true }) : undefined);
  if (!ctx.options.json) ctx.out.info(text);
  const data = { plan, applied: outcome === 'applied', noop: outcome === 'noop', audit };
  if (audit.errors.length) return auditNotWritten(ctx, data, `${plan.group}: ${message}, but its audit entry was not written`, audit, entry);
  return { data, text: `${plan.group}: ${message} (audit: ${auditWhere(audit, targets.bucket)})` };
}

/** The change is applied (or a no-op) but its audit entry is not, everywhere: exit 4, the entry on stderr to keep by hand. */
function auditNotWritten(ctx: CommandContext, data: Record<string, unknown>, message: string, audit: AuditResult, entry: AuditEntry, more: readonly AuditEntry[] = []): CommandResult {
  const text = `${message} to ${audit.errors.join('; ')}`;
  ctx.out.error(text);
  ctx.out.info(`audit entry (keep it${audit.file ? '' : ': it is the only record of this run'}): ${JSON.stringify(entry)}`);
  for (const other of more) ctx.out.info(`audit entry (keep it too): ${JSON.stringify(other)}`);
  return { exitCode: ExitCode.PartialFailure, data: { ...data, auditEntry: entry, ...(more.length ? { auditEntries: [entry, ...more] } : {}), error: { code: 'CDN_AUDIT_NOT_WRITTEN', message: text, hint: 'keep the entry printed on stderr; fix the audit destination for the next run' } } };
}

function reportApplied(ctx: CommandContext, plan: CdnPlan, result: CdnResult, targets: AuditTargets, waitMs: number, progress: Awaited<ReturnType<Output['progress']>> | undefined, fromPlanFile = false): CommandResult {
  const group = plan.group;
  const verification = result.verification;
  const data = { plan, applied: true, changeId: result.changeId ?? null, status: result.status, healthChecksUpdated: result.healthChecksUpdated, audit: result.audit, ...(verification ? { verification } : {}) };
  const how = result.changeId ? `change ${result.changeId} ${result.status}` : `health checks updated: ${result.healthChecksUpdated.join(', ')}`;
  if (ctx.signal.aborted) {
    progress?.fail();
    // the write was sent before the signal: it was let finish and recorded; say exactly what holds now
    throw new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} after the change was applied: ${group}: ${plan.trafficAfter} (${how}${result.status === 'PENDING' ? ', INSYNC not confirmed' : ''}); audit: ${result.audit.errors.length ? `NOT written (${result.audit.errors.join('; ')}): ${JSON.stringify(result.auditEntry)}` : auditWhere(result.audit, targets.bucket)}`, {
      exitCode: ExitCode.Interrupted,
      hint: `nothing to redo: \`retailctl cdn status ${group}\` shows where traffic goes, and ${fromPlanFile ? `the plan is spent (applying it again is refused); \`retailctl cdn ${plan.action} ${group}\` is a no-op` : 'the same command again is a no-op'}`,
      data,
    });
  }
  if (result.audit.errors.length) {
    progress?.fail();
    return auditNotWritten(ctx, data, `${group}: change applied (${how}), audit entry not written`, result.audit, result.auditEntry, result.unwritten.filter((e) => e !== result.auditEntry));
  }
  if (result.waitEnded) {
    progress?.fail(`change ${result.changeId}: ${result.waitEnded}`);
    return { exitCode: ExitCode.CheckFailed, data, text: `applied, but waiting for change ${result.changeId} ended (${result.waitEnded}): Route 53 keeps propagating it; \`retailctl cdn status ${group}\` shows the records` };
  }
  if (result.status === 'PENDING' && waitMs > 0) {
    progress?.fail(`change ${result.changeId} still PENDING after ${formatDuration(result.waitedMs)}`);
    return {
      exitCode: ExitCode.CheckFailed,
      data,
      text: `applied, but change ${result.changeId} was still PENDING after ${formatDuration(result.waitedMs)}: Route 53 keeps propagating it; \`retailctl cdn status ${group}\` shows the records`,
    };
  }
  if (verification && !verification.ok) {
    progress?.fail(verificationSummary(verification));
    return {
      exitCode: ExitCode.CheckFailed,
      data: { ...data, error: { code: 'CDN_NOT_VERIFIED', message: `${verificationSummary(verification)}: ${unswitched(verification).join('; ')}`, hint: 'the change stays applied: check the TTLs and the resolvers, then `retailctl cdn status`' } },
      text: `${group}: applied (${how}), but ${verificationSummary(verification)}: ${unswitched(verification).join('; ')}. The change stays applied (nothing is rolled back); audit: ${auditWhere(result.audit, targets.bucket)}`,
    };
  }
  progress?.succeed(`${result.changeId ? `change ${result.changeId} is INSYNC` : 'health checks updated'}${verification ? `; ${verificationSummary(verification)}` : ''}`);
  return { data, text: `${group}: ${plan.trafficAfter} (${how}${verification ? `; ${verificationSummary(verification)}` : ''}; audit: ${auditWhere(result.audit, targets.bucket)})` };
}

const setView = z.object({ side: z.enum(['primary', 'secondary']).nullable(), setIdentifier: z.string(), routing: z.string(), target: z.string() }).passthrough();
const planSchema = z
  .object({
    kind: z.enum(['cdn.failover', 'cdn.failback', 'cdn.shift']),
    version: z.literal(1),
    action: z.enum(['failover', 'failback', 'shift']),
    group: z.string().min(1),
    routing: z.enum(['weighted', 'failover', 'latency']),
    zoneId: z.string().min(1),
    config: z.object({ zoneId: z.string().min(1), record: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]), type: z.enum(['CNAME', 'A', 'AAAA']), routing: z.enum(['weighted', 'failover', 'latency']) }).passthrough(),
    trafficBefore: z.string(),
    trafficAfter: z.string(),
    records: z.array(z.object({ name: z.string(), type: z.string(), before: z.array(setView), after: z.array(setView) })),
    changeBatch: z.object({ Comment: z.string(), Changes: z.array(z.object({ Action: z.enum(['CREATE', 'DELETE', 'UPSERT']), ResourceRecordSet: z.object({ Name: z.string(), Type: z.string() }).passthrough() })).min(1) }).optional(),
    healthCheckUpdates: z.array(z.object({ healthCheckId: z.string(), side: z.enum(['primary', 'secondary']), version: z.number().int(), inverted: z.boolean(), wasInverted: z.boolean(), guard: z.boolean().optional() })),
    warnings: z.array(z.string()),
    refusals: z.array(z.string()),
    noop: z.boolean(),
  })
  .passthrough();

export const cdnKind: KindHandler<CdnPlan> & { execute(ctx: CommandContext, aws: AwsContext, plan: CdnPlan, mode: CdnExecuteMode): Promise<CommandResult> } = {
  kinds: ['cdn.failover', 'cdn.failback', 'cdn.shift'],
  parse(file, raw) {
    const plan = parsePlanObject(planSchema, file, raw) as unknown as CdnPlan;
    // a batch only for the group's own records, in its own zone: what apply re-reads is what it changes
    const names = new Set(recordNames(plan.config));
    const outside = plan.changeBatch?.Changes.find((c) => !names.has(normalizeName(c.ResourceRecordSet!.Name ?? '')) || c.ResourceRecordSet!.Type !== plan.config.type);
    if (plan.zoneId.replace(/^\/hostedzone\//, '') !== plan.config.zoneId.replace(/^\/hostedzone\//, '') || outside) {
      throw new RetailctlError('PLAN_INVALID', `${file}: its change batch ${outside ? `touches ${shown(outside.ResourceRecordSet!.Name ?? '')} ${shown(outside.ResourceRecordSet!.Type ?? '')}, not a record of group ${shown(plan.group)}` : 'is for another hosted zone than its group'}: not a plan retailctl made, not applied`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
    }
    return plan;
  },
  actions(plan): PlanAction[] {
    const out: PlanAction[] = [];
    if (plan.changeBatch) {
      out.push({ call: 'route53:ChangeResourceRecordSets', target: `hosted zone ${plan.zoneId}`, summary: `one atomic batch of ${plan.changeBatch.Changes.length} changes (DELETE as read + CREATE): ${plan.trafficBefore} → ${plan.trafficAfter}`, params: { HostedZoneId: plan.zoneId, ChangeBatch: plan.changeBatch } });
    }
    for (const u of plan.healthCheckUpdates) {
      out.push({ call: 'route53:UpdateHealthCheck', target: `health check ${u.healthCheckId} (${u.side})`, summary: `Inverted ${u.wasInverted} → ${u.inverted}${u.guard ? ' (guard: unchanged, version checked)' : ''}`, params: { HealthCheckId: u.healthCheckId, HealthCheckVersion: u.version, Inverted: u.inverted } });
    }
    return out;
  },
  // from a plan file, every change of the batch is shown: what is applied is what is read
  render: (plan, out) =>
    [
      renderPlan(plan, out, { showBatch: false }),
      ...(plan.changeBatch?.Changes ?? []).map((c) => {
        const set = c.ResourceRecordSet!;
        const role = set.Weight !== undefined ? `weight ${set.Weight}` : set.Failover ? `failover ${set.Failover}` : set.Region ? `region ${set.Region}` : 'simple';
        return `    ${(c.Action ?? "").padEnd(6)} ${shown(set.Name ?? '')} ${shown(set.Type ?? '')} ${shown(set.SetIdentifier ?? '-')} ${role} → ${shown(set.AliasTarget?.DNSName ?? set.ResourceRecords?.map((r) => r.Value).join(', ') ?? '')}${set.TTL !== undefined ? ` TTL ${set.TTL}` : ''}`;
      }),
    ].join('\n'),
  markdown(plan) {
    const rows = plan.records.flatMap((r) => r.before.map((b, i) => [r.name, b.setIdentifier, b.side ?? '', b.routing, r.after[i]?.routing ?? '']));
    const changes = (plan.changeBatch?.Changes ?? []).map((c) => {
      const set = c.ResourceRecordSet!;
      return [c.Action, set.Name, set.Type, set.SetIdentifier ?? '', set.Weight ?? set.Failover ?? set.Region ?? '', set.AliasTarget?.DNSName ?? set.ResourceRecords?.map((r) => r.Value).join(', ') ?? '', set.TTL ?? ''];
    });
    return [
      `**cdn ${mdText(plan.action)} ${mdText(plan.group)}** (${mdText(plan.routing)} routing, zone ${mdText(plan.zoneId)})`,
      '',
      mdTable(['', 'traffic'], [['now', plan.trafficBefore], ['after', plan.noop ? `${plan.trafficBefore} (nothing to do)` : plan.trafficAfter]]),
      '',
      mdTable(['record', 'set', 'side', 'before', 'after'], rows),
      ...(changes.length ? ['', `The one Route 53 batch (${changes.length} changes, applied all or none):`, '', mdTable(['action', 'name', 'type', 'set', 'weight / role / region', 'target', 'TTL'], changes)] : []),
      ...(plan.healthCheckUpdates.length ? ['', mdTable(['health check', 'side', 'Inverted', 'HealthCheckVersion'], plan.healthCheckUpdates.map((u) => [u.healthCheckId, u.side, `${u.wasInverted} → ${u.inverted}${u.guard ? ' (guard)' : ''}`, u.version]))] : []),
      ...plan.warnings.map((w) => `\n> warning: ${mdText(w, 500)}`),
      ...plan.refusals.map((r) => `\n> **refused (forced)**: ${mdText(r, 500)}`),
    ].join('\n');
  },
  async observe(ctx, aws, plan, planned) {
    const ids = planned.filter((p) => p.id.startsWith('route53-health:'));
    // the checks the plan updates are read whatever the preconditions list: each must be one of them
    const updated = plan.healthCheckUpdates.map((u) => u.healthCheckId);
    const healthIds = [...new Set([...ids.map((p) => p.id.slice('route53-health:'.length)), ...updated])];
    const details = [...new Set([...ids.filter((p) => (p.value as { version?: unknown } | null)?.version !== undefined).map((p) => p.id.slice('route53-health:'.length)), ...updated])];
    const distIds = planned.filter((p) => p.id.startsWith('cloudfront:')).map((p) => p.id.slice('cloudfront:'.length));
    const [records, health, dists] = await Promise.all([
      readRecords(aws.read, plan.config, ctx.signal).catch((err: unknown) => {
        // a record gone is a changed precondition, not a config error
        if (err instanceof RetailctlError && err.code === 'CDN_RECORD_NOT_FOUND') return [];
        throw err;
      }),
      readHealth(aws.read, healthIds, details, ctx.signal),
      Promise.all(distIds.map((id) => readDistribution(aws.read, id, ctx.signal))),
    ]);
    return cdnPreconditions({ config: plan.config, records, health, distributions: Object.fromEntries(dists.map((d, i) => [String(i), d])) });
  },
  question: (plan) => `Apply this change to ${plan.group}?`,
  // a plan file is applied long after the direct command checked these: check them again, before asking
  async beforeConfirm(ctx, aws) {
    await checkAuditTargets(auditTargets(await ctx.config()), aws.read, ctx.signal);
  },
  noop: (plan) => plan.noop,
  execute: executeCdn,
  checkCommand: (plan) => `retailctl cdn status ${plan.group}`,
};
