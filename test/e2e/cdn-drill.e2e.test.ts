/**
 * `retailctl cdn drill` through the built binary against moto + the shim (TestDNSAnswer from the
 * shim: moto has none; a stale Route 53 answer is injected as a fault where a test needs one): the
 * rehearsal moves traffic, verifies, holds, and always leaves Route 53 exactly as it found it — after
 * a clean run, after a failed verification, and after Ctrl-C in the middle of the hold.
 */
import { GetHealthCheckCommand, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { staleDnsAnswer, useCdnFixtures, type CdnFixture } from '../support/cdn-fixtures.js';
import { awsErrors } from '../support/emulator.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const { fixture, cdn, auditLines } = useCdnFixtures(endpoint, env);

/** Everything the zone holds and every health check's flags: the state a drill must leave as it found it. */
async function snapshot(f: CdnFixture): Promise<unknown> {
  const sets = (await f.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: f.zoneId, MaxItems: 300 }))).ResourceRecordSets ?? [];
  const checks = await Promise.all(
    Object.values(f.healthChecks).map(async (id) => {
      const c = (await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: id }))).HealthCheck!.HealthCheckConfig!;
      return { id, inverted: c.Inverted ?? false, disabled: c.Disabled ?? false };
    }),
  );
  return { sets: [...sets].sort((a, b) => `${a.Name}${a.Type}${a.SetIdentifier}`.localeCompare(`${b.Name}${b.Type}${b.SetIdentifier}`)), checks };
}


interface DrillDoc {
  rolledBack: boolean;
  drill: {
    result: string;
    weight: number | null;
    heldMs: number;
    totalMs: number;
    forward: { changeId?: string; insyncMs?: number; verification?: { ok: boolean; checks: { via: string; switched: boolean; afterMs?: number }[] } };
    rollback: { changeId?: string; insyncMs?: number; verification?: { ok: boolean } } | null;
    failure?: string;
  };
}

describe('cdn drill', () => {
  it('--dry-run shows the drill and its rollback and writes nothing', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    const res = await cdn(f, ['drill', '--weight', '10', '--hold', '5m', '--dry-run', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { forward: { trafficAfter: string; changeBatch: unknown }; rollback: { trafficAfter: string; changeBatch: { Changes: unknown[] } } };
    expect(doc.forward.trafficAfter).toBe('90/10 cloudfront-0/fastly-0');
    expect(doc.rollback.trafficAfter).toBe('100% cloudfront-0');
    expect(doc.rollback.changeBatch.Changes).toHaveLength(4);
    expect((await control.requests()).filter((r) => r.method === 'POST' && r.service === 'route53')).toHaveLength(0);
  });

  it('weighted: 90/10, verified, held, rolled back to exactly the records read at the start; an audit line when the change is applied, then one with the times', async () => {
    const f = await fixture('weighted', { records: ['www', '@'] });
    const before = await snapshot(f);
    const res = await cdn(f, ['drill', '--weight', '10', '--hold', '1s', '--yes', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as DrillDoc;
    expect(doc.rolledBack).toBe(true);
    expect(doc.drill).toMatchObject({ result: 'ok', weight: 10, forward: { verification: { ok: true } }, rollback: { verification: { ok: true } } });
    expect(doc.drill.forward.changeId).toMatch(/^\/change\//);
    expect(typeof doc.drill.forward.insyncMs).toBe('number');
    expect(typeof doc.drill.rollback!.insyncMs).toBe('number');
    expect(doc.drill.heldMs).toBeGreaterThanOrEqual(1000);
    expect(doc.drill.totalMs).toBeGreaterThanOrEqual(doc.drill.heldMs);
    expect(doc.drill.forward.verification!.checks.map((c) => c.via)).toEqual(['route53', 'route53']);
    // at 90/10 the primary's answer proves nothing: Route 53 was asked until it drew the secondary
    const forwardChecks = doc.drill.forward.verification!.checks as unknown as { answer: string[]; draws?: number }[];
    expect(forwardChecks.map((c) => c.answer)).toEqual([[`${f.records[0]}.global.prod.fastly.net`], [`${f.records[1]}.global.prod.fastly.net`]]);
    expect(forwardChecks.every((c) => (c.draws ?? 0) > 1)).toBe(true);
    expect(await snapshot(f)).toEqual(before);
    // a line when the drill's change is applied (before the hold), and its end line with the times
    const audit = await auditLines(f);
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([['drill', 'started'], ['drill', 'applied']]);
    const start = `${f.records[0]}: 100% cloudfront-0; ${f.records[1]}: 100% cloudfront-1`;
    expect(audit[0]).toMatchObject({ trafficBefore: start, trafficAfter: `${f.records[0]}: 90/10 cloudfront-0/fastly-0; ${f.records[1]}: 90/10 cloudfront-1/fastly-1`, changeId: doc.drill.forward.changeId });
    expect(audit[1]).toMatchObject({ action: 'drill', outcome: 'applied', trafficBefore: start, trafficAfter: start, drill: doc.drill });
  });

  it('failover routing: inverts the primary check as `failover` does, and puts every check back as it was', async () => {
    const f = await fixture('failover');
    const before = await snapshot(f);
    const res = await cdn(f, ['drill', '--hold', '1s', '--yes']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/storefront: drill done: 100% fastly-0 \(secondary\).* rolled back to 100% cloudfront-0 \(primary\)/);
    expect(await snapshot(f)).toEqual(before);
    expect((await auditLines(f)).map((a) => [a.action, a.outcome])).toEqual([['drill', 'started'], ['drill', 'applied']]);
  });

  it('a failed verification rolls back at once (no hold) and exits 5; Route 53 is left as it was [shim: TestDNSAnswer stuck on the primary]', async () => {
    const f = await fixture('failover');
    const before = await snapshot(f);
    await control.fault(staleDnsAnswer(f.records[0]!, f.distributionDomain));
    try {
      const res = await cdn(f, ['drill', '--hold', '10m', '--verify-timeout', '1s', '--yes', '--json']);
      expect(res.code).toBe(5);
      const doc = JSON.parse(res.stdout) as DrillDoc;
      expect(doc.rolledBack).toBe(true);
      expect(doc.drill.result).toBe('failed');
      expect(doc.drill.heldMs).toBe(0);
      expect(doc.drill.failure).toContain(`still ${f.distributionDomain}`);
    } finally {
      await control.clearFaults();
    }
    expect(await snapshot(f)).toEqual(before);
    expect((await auditLines(f)).map((a) => a.outcome)).toEqual(['started', 'applied']);
  });

  it('weighted 50/50 with Route 53 answering only the primary: not verified (exit 5) after enough draws for a 99.9% chance, rolled back at once — the primary\'s answer does not prove the drill reached the secondary [shim: TestDNSAnswer stuck on the primary]', async () => {
    const f = await fixture('weighted');
    const before = await snapshot(f);
    await control.fault(staleDnsAnswer(f.records[0]!, f.distributionDomain));
    try {
      const res = await cdn(f, ['drill', '--weight', '50', '--hold', '10m', '--verify-timeout', '1s', '--yes', '--json']);
      expect(res.code, res.stderr).toBe(5);
      const doc = JSON.parse(res.stdout) as DrillDoc;
      expect(doc).toMatchObject({ rolledBack: true, drill: { result: 'failed', heldMs: 0 } });
      expect(doc.drill.failure).toMatch(new RegExp(`still ${f.distributionDomain.replace(/\./g, '\\.')} \\(expected fastly-0: .*; \\d+ answers drawn, none from the 50% side, a chance of (under 0\\.1|0\\.1)% if Route 53 serves it`));
      // 10 answers give a 99.9% chance at 50%, however short --verify-timeout is
      const checks = (doc.drill.forward.verification as unknown as { checks: { draws?: number }[] }).checks;
      expect(checks[0]!.draws).toBeGreaterThanOrEqual(10);
    } finally {
      await control.clearFaults();
    }
    expect(await snapshot(f)).toEqual(before);
  });

  it('kill -9 in the middle of the hold: nothing can roll back, but the drill\'s change is on record (a started line with no end line), and `cdn failback` ends it', async () => {
    const f = await fixture('weighted');
    const before = await snapshot(f);
    const holding = async () => (await auditLines(f).catch(() => [])).some((a) => a.outcome === 'started');
    const res = await cdn(f, ['drill', '--hold', '10m', '--yes'], { signalWhen: holding, whenSignal: 'SIGKILL' });
    expect(res.code).toBeNull(); // killed, no exit code
    const audit = await auditLines(f);
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([['drill', 'started']]);
    expect(audit[0]).toMatchObject({ trafficAfter: '90/10 cloudfront-0/fastly-0' });
    expect(String(audit[0]!.note)).toContain('retailctl cdn status storefront');
    expect(await snapshot(f)).not.toEqual(before);
    expect((await cdn(f, ['failback', '--yes'])).code).toBe(0);
    expect(await snapshot(f)).toEqual(before);
  });

  it('the started line refused by the audit bucket, the end line written: exit 0 with a warning, not exit 4 [shim: AccessDenied on the started line\'s PutObject]', async () => {
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'drill-audit-started' }));
    const f = await fixture('weighted', { auditBucket: 'drill-audit-started' });
    const before = await snapshot(f);
    await control.fault({ service: 's3', method: 'PUT', path: '-started\\.json', times: 0, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    const res = await cdn(f, ['drill', '--hold', '0s', '--yes', '--json']);
    await control.clearFaults();
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: 'drill-audit-started' }))).Contents ?? []).map((o) => o.Key!);
    s3.destroy();
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toMatch(/-started\.json$/);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain("warning: the drill's started line was not written (s3://drill-audit-started/");
    expect(res.stderr).toContain('the end line below records the whole drill');
    const doc = JSON.parse(res.stdout) as { auditEntry?: unknown; startedAudit?: { errors: string[] } };
    expect(doc.auditEntry).toBeUndefined();
    expect(doc.startedAudit?.errors).toHaveLength(1);
    expect(await snapshot(f)).toEqual(before);
    // the local log has both lines
    expect((await auditLines(f)).map((a) => a.outcome)).toEqual(['started', 'applied']);
  });

  it('SIGINT in the middle of the hold: rolls back first, exit 130; Route 53 is left exactly as it was', async () => {
    const f = await fixture('weighted');
    const before = await snapshot(f);
    await control.clearRequests();
    // the hold starts once the drill's change is verified: Route 53 is asked every 250 ms until it
    // draws the secondary, so signal once TestDNSAnswer has gone quiet for 700 ms
    let asked = 0;
    let since = Date.now();
    const signalWhen = async () => {
      const n = (await control.requests()).filter((r) => r.path.includes('/testdnsanswer')).length;
      if (n !== asked) [asked, since] = [n, Date.now()];
      return asked > 0 && Date.now() - since > 700;
    };
    const res = await cdn(f, ['drill', '--hold', '10m', '--yes', '--json'], { signalWhen });
    expect(res.code).toBe(130);
    expect(res.stderr).toContain('interrupted by SIGINT during the drill: rolled back to 100% cloudfront-0');
    const doc = JSON.parse(res.stdout) as { error?: unknown } & Partial<DrillDoc>;
    expect(JSON.stringify(doc)).toContain('"rolledBack":true');
    expect(await snapshot(f)).toEqual(before);
    const audit = await auditLines(f);
    expect(audit.map((a) => a.outcome)).toEqual(['started', 'applied']);
    expect(audit[1]).toMatchObject({ action: 'drill', outcome: 'applied', drill: { result: 'interrupted', rolledBack: true } });
    expect((audit[1]!.drill as { heldMs: number }).heldMs).toBeGreaterThan(0);
  });

  it('weighted, a group already failed over: refused (exit 2), nothing written, traffic stays on the secondary', async () => {
    const f = await fixture('weighted');
    expect((await cdn(f, ['failover', '--yes'])).code).toBe(0);
    const before = await snapshot(f);
    await control.clearRequests();
    const res = await cdn(f, ['drill', '--weight', '10', '--hold', '0s', '--yes']);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(/a drill starts from the normal state, all traffic on the primary; storefront is at 100% fastly-0: nothing changed/);
    expect((await control.requests()).filter((r) => r.method === 'POST' && r.service === 'route53')).toHaveLength(0);
    expect(await snapshot(f)).toEqual(before);
  });

  it('another operator fails over during the hold: their change stands, and the drill says where traffic goes now (exit 1), not that its own change is still applied', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    let other: ReturnType<typeof cdn> | undefined;
    // once the drill checks its answers (the hold comes next), a second operator fails over for real
    const res = await cdn(f, ['drill', '--weight', '10', '--hold', '8s', '--yes'], {
      signalWhen: async () => {
        if (!other && (await control.requests()).some((r) => r.path.includes('/testdnsanswer'))) other = cdn(f, ['failover', '--yes']);
        return false;
      },
    });
    expect((await other!).code).toBe(0);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toContain('storefront: changed by someone else during the drill, so the drill did not roll back (its compare-and-set refused to undo their change): traffic now 100% fastly-0');
    expect(res.stderr).not.toContain('STILL APPLIED');
    expect(res.stderr).not.toMatch(/cdn failback storefront/);
    const drillEntry = (await auditLines(f)).find((l) => l.action === 'drill' && l.outcome !== 'started')!;
    expect(drillEntry).toMatchObject({ outcome: 'partial', trafficAfter: '100% fastly-0' });
    expect(String(drillEntry.note)).toContain('changed by someone else during the drill');
  }, 60_000);

  it('a group already on the secondary has nothing to rehearse: exit 2, nothing written', async () => {
    const f = await fixture('failover');
    expect((await cdn(f, ['failover', '--yes'])).code).toBe(0);
    await control.clearRequests();
    const res = await cdn(f, ['drill', '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('a drill starts from the normal state, all traffic on the primary; storefront is at');
    expect((await control.requests()).filter((r) => r.method === 'POST' && r.service === 'route53')).toHaveLength(0);
  });
});
