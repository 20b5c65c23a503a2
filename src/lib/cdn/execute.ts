import type { AwsClients } from '../aws/context.js';
import { sleep } from '../util/sleep.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { writeAudit, type AuditTargets } from './audit.js';
import { readRecords } from './gather.js';
import { routingOf, targetOf, type GroupState } from './model.js';
import type { CdnPlan } from './plan.js';

export interface ExecuteCdnOptions {
  write: AwsClients;
  read: AwsClients;
  /** The state the plan was built from (to show what changed on a conflict). */
  state: GroupState;
  audit: AuditTargets;
  /** Caller identity ARN for the audit log. */
  caller: string;
  /** How long to wait for Route 53 to report INSYNC; 0 = do not wait. */
  waitMs: number;
  /** GetChange polling interval (default 2 s; Route 53 allows ~5 requests/s per account). */
  pollMs?: number;
  signal?: AbortSignal;
  now: () => Date;
  onProgress?: (message: string) => void;
}

export interface CdnResult {
  /** Route 53 change id (weighted changes). */
  changeId?: string;
  /** INSYNC: on every Route 53 server; PENDING: applied, still propagating at the deadline; APPLIED: health checks updated (no change id). */
  status: 'INSYNC' | 'PENDING' | 'APPLIED';
  healthChecksUpdated: string[];
  audit: { file: string; s3Key?: string };
  waitedMs: number;
}

function conflict(message: string, details: string[]): RetailctlError {
  return new RetailctlError('CDN_CONFLICT', message, {
    exitCode: ExitCode.Failure,
    details,
    hint: 'someone (or another retailctl run) changed it after this plan was read: review `retailctl cdn status`, then rerun to plan from the current state',
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
 * inversions in the planned order (failover/latency), each a compare-and-set. Then write the audit
 * entry, then wait for INSYNC. Never called for a dry run.
 */
export async function executeCdnPlan(plan: CdnPlan, opts: ExecuteCdnOptions): Promise<CdnResult> {
  const route53 = await opts.write.client('route53');
  const { ChangeResourceRecordSetsCommand, UpdateHealthCheckCommand, GetChangeCommand } = await import('@aws-sdk/client-route-53');
  let changeId: string | undefined;
  const healthChecksUpdated: string[] = [];

  if (plan.changeBatch) {
    try {
      const res = await route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: plan.zoneId, ChangeBatch: plan.changeBatch }), { abortSignal: opts.signal });
      changeId = res.ChangeInfo?.Id;
    } catch (err) {
      if (isAwsError(err, 'InvalidChangeBatch') && /do not match|not found/i.test((err as Error).message)) {
        throw conflict(`${plan.group}: the records changed since the plan was read; Route 53 refused the whole batch and nothing was changed`, await describeDrift(plan, opts));
      }
      throw err;
    }
  }
  for (const update of plan.healthCheckUpdates) {
    try {
      await route53.send(new UpdateHealthCheckCommand({ HealthCheckId: update.healthCheckId, HealthCheckVersion: update.version, Inverted: update.inverted }), { abortSignal: opts.signal });
      healthChecksUpdated.push(update.healthCheckId);
    } catch (err) {
      if (isAwsError(err, 'HealthCheckVersionMismatch')) {
        const done = healthChecksUpdated.length
          ? `already applied: ${healthChecksUpdated.join(', ')} (so both CDNs may now serve, which is safe); not applied: ${update.healthCheckId}`
          : 'nothing was changed';
        throw conflict(`${plan.group}: health check ${update.healthCheckId} changed since the plan was read (HealthCheckVersion ${update.version} is stale); ${done}`, []);
      }
      throw err;
    }
  }

  // the change is made: record it before anything else can go wrong (waiting, Ctrl-C)
  const audit = await writeAudit(
    {
      time: opts.now().toISOString(),
      caller: opts.caller,
      group: plan.group,
      action: plan.action,
      routing: plan.routing,
      trafficBefore: plan.trafficBefore,
      trafficAfter: plan.trafficAfter,
      records: plan.records,
      healthCheckUpdates: plan.healthCheckUpdates,
      ...(changeId ? { changeId } : {}),
    },
    opts.audit,
    opts.audit.bucket ? opts.write : undefined,
  );

  const started = Date.now();
  let status: CdnResult['status'] = changeId ? 'PENDING' : 'APPLIED';
  if (changeId && opts.waitMs > 0) {
    const deadline = started + opts.waitMs;
    for (;;) {
      const res = await route53.send(new GetChangeCommand({ Id: changeId }), { abortSignal: opts.signal });
      if (res.ChangeInfo?.Status === 'INSYNC') {
        status = 'INSYNC';
        break;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      opts.onProgress?.(`change ${changeId} is ${res.ChangeInfo?.Status ?? 'PENDING'} (${Math.round((Date.now() - started) / 1000)} s)`);
      await sleep(Math.min(opts.pollMs ?? 2000, left), opts.signal);
    }
  }
  const result: CdnResult = { status, healthChecksUpdated, audit, waitedMs: Date.now() - started };
  if (changeId) result.changeId = changeId;
  return result;
}
