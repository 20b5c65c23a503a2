import type { AwsClients, ClientFor } from '../aws/context.js';
import { sleep } from '../util/sleep.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { writeAudit, type AuditEntry, type AuditResult, type AuditTargets } from './audit.js';
import { readRecords } from './gather.js';
import { routingOf, targetOf, type GroupState } from './model.js';
import type { CdnPlan } from './plan.js';
import type { Verification } from './verify.js';

export interface ExecuteCdnOptions {
  write: AwsClients;
  /** Writes that record what happened (the audit copy): still made after the first Ctrl-C. */
  sideWrite: AwsClients;
  read: AwsClients;
  /** The state the plan was built from (to show what changed on a conflict). */
  state: GroupState;
  /** Where the entry goes; `false`: the caller writes one entry for several changes (`cdn drill`). */
  audit: AuditTargets | false;
  /** After INSYNC (or the health-check updates): check the DNS answers; the result goes in the audit entry. */
  verify?: (appliedAt: number) => Promise<Verification>;
  /** Caller identity ARN for the audit log. */
  caller: string;
  /** How long to wait for Route 53 to report INSYNC; 0 = do not wait. */
  waitMs: number;
  /** GetChange polling interval (default 2 s; Route 53 allows ~5 requests/s per account). */
  pollMs?: number;
  /** The run's stop signal (first Ctrl-C): ends the INSYNC wait, never a write already sent. */
  signal?: AbortSignal;
  now: () => Date;
  onProgress?: (message: string) => void;
  /** Told each write as soon as it is known to be applied (so a second Ctrl-C can still say so). */
  onApplied?: (what: string) => void;
}

export interface CdnResult {
  /** Route 53 change id (weighted changes). */
  changeId?: string;
  /** INSYNC: on every Route 53 server; PENDING: applied, still propagating at the deadline (or not waited for); APPLIED: health checks updated (no change id). */
  status: 'INSYNC' | 'PENDING' | 'APPLIED';
  healthChecksUpdated: string[];
  audit: AuditResult;
  /** The entry written (or meant to be written) to the audit log (none with `audit: false`). */
  auditEntry: AuditEntry;
  /** Every entry some destination did not take (the change's, the verification's), to keep by hand. */
  unwritten: AuditEntry[];
  waitedMs: number;
  /** When the last write was answered (epoch ms): DNS verification times count from it. */
  appliedAt: number;
  /** DNS verification after INSYNC (verify.ts), when it ran. */
  verification?: Verification;
  /** Why the INSYNC wait ended early: interrupted, or GetChange failed (the change is applied either way). */
  waitEnded?: string;
}

/** The audit entry for a plan, or for the part of it that was applied. */
export function auditEntryFor(plan: CdnPlan, opts: Pick<ExecuteCdnOptions, 'caller' | 'now'>, outcome: AuditEntry['outcome'], extra: { changeId?: string; applied?: string[]; note?: string; verification?: Verification } = {}): AuditEntry {
  const entry: AuditEntry = {
    time: opts.now().toISOString(),
    caller: opts.caller,
    group: plan.group,
    action: plan.action,
    routing: plan.routing,
    outcome,
    trafficBefore: plan.trafficBefore,
    trafficAfter: outcome === 'applied' || outcome === 'verified' || outcome === 'not-verified' ? plan.trafficAfter : outcome === 'noop' ? plan.trafficBefore : `unknown: ${outcome === 'partial' ? 'only part of the plan was applied' : 'the answer to the write never came'} (planned: ${plan.trafficAfter})`,
    records: plan.records,
    healthCheckUpdates: outcome === 'partial' ? plan.healthCheckUpdates.filter((u) => extra.applied?.includes(u.healthCheckId)) : outcome === 'noop' ? [] : plan.healthCheckUpdates,
  };
  if (extra.changeId) entry.changeId = extra.changeId;
  if (extra.note) entry.note = extra.note;
  if (extra.verification) entry.verification = extra.verification;
  return entry;
}

/** Write an entry where the options say (nowhere with `audit: false`: the caller records the run). */
function auditTo(opts: ExecuteCdnOptions, entry: AuditEntry): Promise<AuditResult> {
  if (opts.audit === false) return Promise.resolve({ errors: [] });
  return writeAudit(entry, opts.audit, opts.audit.bucket ? opts.sideWrite : undefined);
}

function conflict(message: string, details: string[], mayHaveApplied = false): RetailctlError {
  return new RetailctlError('CDN_CONFLICT', message, {
    exitCode: ExitCode.Failure,
    details,
    hint: 'someone (or another retailctl run) changed it after this plan was read: review `retailctl cdn status`, then rerun to plan from the current state',
    // said even after a Ctrl-C: nothing (or, after a lost answer, maybe this very change) was applied
    data: { applied: mayHaveApplied ? 'unknown' : false, mayHaveApplied },
  });
}

/** A write sent without an answer: audit the attempt (outcome unknown), then report it. */
async function unknownOutcome(plan: CdnPlan, opts: ExecuteCdnOptions, err: RetailctlError): Promise<RetailctlError> {
  const entry = auditEntryFor(plan, opts, 'unknown', { note: err.message });
  const audit = await auditTo(opts, entry);
  return new RetailctlError(err.code, err.message, {
    exitCode: err.exitCode,
    cause: err,
    aws: err.aws,
    hint: `${err.hint ?? `run \`retailctl cdn status ${plan.group}\``}; the attempt is in the audit log as outcome "unknown"${audit.errors.length ? ` (NOT written: ${audit.errors.join('; ')}: ${JSON.stringify(entry)})` : ''}`,
    data: { applied: 'unknown', audit },
  });
}

/** What differs between the sets the plan was built on and the sets there now. */
async function describeDrift(plan: CdnPlan, opts: ExecuteCdnOptions): Promise<string[]> {
  try {
    const now = await readRecords(opts.read, opts.state.config, opts.signal);
    const lines: string[] = [];
    for (const planned of plan.records) {
      const current = now.find((r) => r.name === planned.name);
      for (const was of planned.before) {
        const is = current?.sets.find((s) => s.SetIdentifier === was.setIdentifier);
        if (!is) lines.push(`${planned.name} ${was.setIdentifier}: was ${was.routing} → ${was.target}, now gone`);
        else if (routingOf(is) !== was.routing || targetOf(is) !== was.target || (is.TTL ?? undefined) !== was.ttl) {
          lines.push(`${planned.name} ${was.setIdentifier}: was ${was.routing}${was.ttl !== undefined ? ` TTL ${was.ttl}` : ''} → ${was.target}, now ${routingOf(is)}${is.TTL !== undefined ? ` TTL ${is.TTL}` : ''} → ${targetOf(is)}`);
        }
      }
    }
    return lines.length ? lines : ['the records were changed and changed back, or another field differs'];
  } catch {
    return ['(could not re-read the records to show the difference)'];
  }
}

/**
 * Apply a CDN plan: the ONE ChangeResourceRecordSets batch (weighted), or the health-check
 * inversions in the planned order (failover/latency), each a compare-and-set. Then wait for INSYNC,
 * check the DNS answers (`verify`). The audit entry is written right after the write (also after
 * Ctrl-C, which ends both waits at once: a write that was sent is finished and recorded), the
 * verification as a second line when it ran. Never
 * called for a dry run. Throws only when nothing was applied, or with `data.applied`.
 */
export async function executeCdnPlan(plan: CdnPlan, opts: ExecuteCdnOptions): Promise<CdnResult> {
  const route53 = await opts.write.client('route53');
  const { ChangeResourceRecordSetsCommand, UpdateHealthCheckCommand } = await import('@aws-sdk/client-route-53');
  let changeId: string | undefined;
  const healthChecksUpdated: string[] = [];

  if (plan.changeBatch) {
    try {
      const res = await route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: plan.zoneId, ChangeBatch: plan.changeBatch }));
      changeId = res.ChangeInfo?.Id;
      opts.onApplied?.(`Route 53 change ${changeId} (${plan.group}: ${plan.trafficAfter})`);
    } catch (err) {
      if (isAwsError(err, 'InvalidChangeBatch') && /do not match|not found/i.test((err as Error).message)) {
        // refused on a retry: the attempt before it may have been applied with its answer lost
        const retried = ((err as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1;
        throw conflict(`${plan.group}: the records changed since the plan was read; Route 53 refused the whole batch${retried ? ' on a retry (an earlier attempt, whose answer was lost, may have applied this very change)' : ' and nothing was changed'}`, await describeDrift(plan, opts), retried);
      }
      if (err instanceof RetailctlError && err.code === 'OUTCOME_UNKNOWN') throw await unknownOutcome(plan, opts, err);
      throw err;
    }
  }
  let failure: unknown;
  for (const update of plan.healthCheckUpdates) {
    try {
      await route53.send(new UpdateHealthCheckCommand({ HealthCheckId: update.healthCheckId, HealthCheckVersion: update.version, Inverted: update.inverted }));
      // a guard write changes nothing a user would see: it is not reported as applied
      if (!update.guard) {
        healthChecksUpdated.push(update.healthCheckId);
        opts.onApplied?.(`health check ${update.healthCheckId} (${update.side}) Inverted ${update.inverted}`);
      }
    } catch (err) {
      const stale = isAwsError(err, 'HealthCheckVersionMismatch');
      const error = stale ? conflict(`${plan.group}: health check ${update.healthCheckId} changed since the plan was read (HealthCheckVersion ${update.version} is stale)`, []) : err;
      if (healthChecksUpdated.length === 0) {
        if (err instanceof RetailctlError && err.code === 'OUTCOME_UNKNOWN') throw await unknownOutcome(plan, opts, err);
        throw stale ? conflict(`${(error as Error).message}; nothing was changed`, []) : err;
      }
      failure = error;
      break;
    }
  }

  // the change is made: record it before anything else can go wrong (waiting, Ctrl-C)
  if (failure) {
    const pending = plan.healthCheckUpdates.filter((u) => !u.guard && !healthChecksUpdated.includes(u.healthCheckId)).map((u) => u.healthCheckId);
    const unknown = failure instanceof RetailctlError && failure.code === 'OUTCOME_UNKNOWN';
    const what = `applied: health check ${healthChecksUpdated.join(', ')}; ${unknown ? `outcome unknown: ${pending[0]}${pending.length > 1 ? `; not applied: ${pending.slice(1).join(', ')}` : ''}` : `not applied: ${pending.join(', ')}`} (the destination was restored first, so both CDNs may serve now, which is safe)`;
    const entry = auditEntryFor(plan, opts, 'partial', { applied: healthChecksUpdated, note: `${(failure as Error).message}; ${what}` });
    const audit = await auditTo(opts, entry);
    const base = failure instanceof RetailctlError ? failure : undefined;
    throw new RetailctlError(base?.code ?? 'CDN_PARTIAL', `${(failure as Error).message}; ${what}`, {
      exitCode: base?.exitCode ?? ExitCode.Failure,
      cause: failure,
      hint: `${unknown ? `run \`retailctl cdn status ${plan.group}\` to see the state, then rerun the same command to finish` : 'rerun the same command to finish (it continues from the state now)'}${audit.errors.length ? `; the audit entry was NOT written (${audit.errors.join('; ')}): ${JSON.stringify(entry)}` : ''}`,
      data: { applied: true, partial: true, healthChecksUpdated, audit },
    });
  }
  const appliedAt = Date.now();
  const started = Date.now();
  // the change is made: its audit line is written now, before any wait (a kill or a lost runner
  // during the wait must not leave an applied change unrecorded); the verification follows as a
  // line of its own
  const entry = auditEntryFor(plan, opts, 'applied', changeId ? { changeId } : {});
  const audit = await auditTo(opts, entry);
  const result: CdnResult = { status: changeId ? 'PENDING' : 'APPLIED', healthChecksUpdated, audit, auditEntry: entry, unwritten: audit.errors.length ? [entry] : [], waitedMs: 0, appliedAt };
  if (changeId) result.changeId = changeId;
  if (changeId && opts.waitMs > 0) {
    try {
      if (await waitInSync(route53, changeId, started + opts.waitMs, opts)) result.status = 'INSYNC';
    } catch (err) {
      // the change is applied whatever happens to the wait: report it, never lose it
      result.waitEnded = opts.signal?.aborted ? 'interrupted' : `GetChange failed: ${(err as Error).message}`;
    }
  }
  result.waitedMs = Date.now() - started;
  // INSYNC (or health checks updated): do the DNS answers say so? Ends at once on a signal.
  if (opts.verify && opts.waitMs > 0 && !opts.signal?.aborted && !result.waitEnded && result.status !== 'PENDING') {
    try {
      result.verification = await opts.verify(appliedAt);
    } catch (err) {
      // a failed check never loses the change: it is reported as not verified
      result.verification = { changedAt: new Date(appliedAt).toISOString(), timeoutMs: 0, ok: false, checks: [], error: (err as Error).message };
    }
    await auditVerification(plan, opts, result);
  }
  return result;
}

/**
 * The verification's own audit line, after the change's: outcome `verified` or `not-verified`,
 * `follows` naming the time of the change's line. A destination that took the change's line but
 * not this one is reported like a change's line not written (its entry kept on stderr).
 */
async function auditVerification(plan: CdnPlan, opts: ExecuteCdnOptions, result: CdnResult): Promise<void> {
  const verification = result.verification!;
  const entry = auditEntryFor(plan, opts, verification.ok ? 'verified' : 'not-verified', { ...(result.changeId ? { changeId: result.changeId } : {}), verification });
  entry.follows = result.auditEntry.time;
  const audit = await auditTo(opts, entry);
  if (!audit.errors.length) return;
  if (!result.audit.errors.length) result.auditEntry = entry;
  result.unwritten.push(entry);
  result.audit = { ...result.audit, errors: [...result.audit.errors, ...audit.errors] };
}

/** Poll GetChange until INSYNC (true) or the deadline (false). */
async function waitInSync(route53: ClientFor<'route53'>, changeId: string, deadline: number, opts: ExecuteCdnOptions): Promise<boolean> {
  const { GetChangeCommand } = await import('@aws-sdk/client-route-53');
  const started = Date.now();
  for (;;) {
    const res = await route53.send(new GetChangeCommand({ Id: changeId }), { abortSignal: opts.signal });
    if (res.ChangeInfo?.Status === 'INSYNC') return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    opts.onProgress?.(`change ${changeId} is ${res.ChangeInfo?.Status ?? 'PENDING'} (${Math.round((Date.now() - started) / 1000)} s)`);
    await sleep(Math.min(opts.pollMs ?? 2000, left), opts.signal);
  }
}
