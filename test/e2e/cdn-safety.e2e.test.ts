/**
 * cdn failover/failback under faults, through the built binary against moto + the shim: a signal
 * while the Route 53 write is in flight (the shim holds the request, then forwards it, as a slow
 * Route 53 would), concurrent operators, reruns, and an audit destination that fails.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetHealthCheckCommand } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { failingHealthCheck, pendingChange, useCdnFixtures, type CdnFixture } from '../support/cdn-fixtures.js';
import { awsErrors } from '../support/emulator.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const { fixture, cdn, auditLines } = useCdnFixtures(endpoint, env);

async function weights(f: CdnFixture): Promise<Record<string, number | undefined>> {
  return Object.fromEntries(Object.entries(await f.sets(f.records[0]!)).map(([id, s]) => [id, s.Weight]));
}

async function inverted(f: CdnFixture, id: string): Promise<boolean> {
  return (await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: id }))).HealthCheck!.HealthCheckConfig!.Inverted ?? false;
}


async function route53Writes(): Promise<number> {
  return (await control.requests()).filter((r) => r.service === 'route53' && r.method === 'POST').length;
}

/** Route 53 answering ChangeResourceRecordSets only after `ms` (the shim holds the request, then forwards it). */
const slowChange = async (ms: number) => {
  await control.fault({ service: 'route53', method: 'POST', path: '/rrset', delayMs: ms, forward: true });
  await control.clearRequests();
};

/** The held write has reached the shim (its request log): the point to send a signal at, whatever the runner's speed. */
const sent = (path: RegExp) => async () => (await control.requests()).some((r) => r.service === 'route53' && r.method === 'POST' && path.test(r.path));
const changeSent = sent(/\/rrset/);

describe('a signal while the Route 53 write is in flight', () => {
  it('SIGINT: the write is let finish, audited with its change id, exit 130 saying what was applied; the rerun is a no-op', async () => {
    const f = await fixture('weighted');
    await slowChange(3000);
    const res = await cdn(f, ['failover', '--yes'], { signalWhen: changeSent });
    expect(res.code).toBe(130);
    expect(res.stderr).toContain('SIGINT: waiting for Route53 ChangeResourceRecordSets to answer');
    expect(res.stderr).toMatch(/interrupted by SIGINT after the change was applied: storefront: 100% fastly-0 \(change \S+ PENDING, INSYNC not confirmed\); audit: /);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    // what Route 53 has is what the audit says
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    const [entry] = await auditLines(f);
    expect(entry).toMatchObject({ group: 'storefront', action: 'failover', outcome: 'applied', trafficAfter: '100% fastly-0', changeId: expect.stringMatching(/\S/) });

    // the documented "rerun to finish": nothing to do, nothing written to Route 53, the no-op audited
    await control.clearFaults();
    await control.clearRequests();
    const again = await cdn(f, ['failover', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('storefront: already on fastly-0: nothing to do');
    expect(await route53Writes()).toBe(0);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect((await auditLines(f)).map((l) => l.outcome)).toEqual(['applied', 'noop']);
  });

  it('SIGTERM is handled like SIGINT, with --json carrying applied and the change id', async () => {
    const f = await fixture('weighted');
    await slowChange(2500);
    const res = await cdn(f, ['failover', '--yes', '--json'], { signalWhen: changeSent, whenSignal: 'SIGTERM' });
    await control.clearFaults();
    expect(res.code).toBe(130);
    const doc = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ ok: false, applied: true, changeId: expect.stringMatching(/\S/), error: { code: 'INTERRUPTED' } });
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect((await auditLines(f))[0]).toMatchObject({ outcome: 'applied', changeId: doc.changeId });
  });

  it('a second signal abandons the write: exit 130 at once, the outcome named unknown and how to check it', async () => {
    const f = await fixture('weighted');
    await slowChange(6000);
    const started = Date.now();
    const res = await cdn(f, ['failover', '--yes', '--json'], { signalWhen: changeSent, afterWhen: [{ afterMs: 800, signal: 'SIGINT' }] });
    expect(res.code).toBe(130);
    expect(Date.now() - started).toBeLessThan(5000);
    // --json: still exactly one document, saying what is unknown
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, inFlight: ['Route53 ChangeResourceRecordSets'], error: { code: 'OUTCOME_UNKNOWN' } });
    expect(res.stderr).toContain('second signal (SIGINT): stopping now: Route53 ChangeResourceRecordSets had been sent and not answered, so its outcome is unknown; run `retailctl cdn status storefront`');
    // wait until the held request reaches moto, then clear: the outcome really was unknown to the CLI
    await new Promise((r) => setTimeout(r, 4500));
    await control.clearFaults();
  });

  it('a write held past the grace period: exit 130 "may or may not have been applied", the attempt audited as outcome unknown', async () => {
    const f = await fixture('weighted');
    await slowChange(4000);
    const res = await cdn(f, ['failover', '--yes'], { signalWhen: changeSent, env: { ...env, RETAILCTL_INTERRUPT_GRACE: '1s' } });
    expect(res.code).toBe(130);
    expect(res.stderr).toContain('interrupted while Route53 ChangeResourceRecordSets was in flight (no answer within 1 s of SIGINT): it was sent, so it may or may not have been applied');
    expect(res.stderr).toContain('retailctl cdn status storefront');
    expect((await auditLines(f))[0]).toMatchObject({ outcome: 'unknown', action: 'failover' });
    await new Promise((r) => setTimeout(r, 3500));
    await control.clearFaults();
  });

  it('failover routing: a signal between the two health-check updates applies the first only, audits it as partial and says so', async () => {
    const f = await fixture('failover');
    // a wrongly inverted secondary: the plan restores it first, then inverts the primary
    await f.route53.send(new (await import('@aws-sdk/client-route-53')).UpdateHealthCheckCommand({ HealthCheckId: f.healthChecks.secondary, Inverted: true }));
    await control.fault({ service: 'route53', method: 'POST', path: `/healthcheck/${f.healthChecks.secondary}$`, delayMs: 2500, forward: true });
    await control.clearRequests();
    const res = await cdn(f, ['failover', '--yes'], { signalWhen: sent(new RegExp(`/healthcheck/${f.healthChecks.secondary}$`)) });
    await control.clearFaults();
    expect(res.code).toBe(130);
    expect(res.stderr).toContain(`before Route53 UpdateHealthCheck was sent: it was not applied; applied: health check ${f.healthChecks.secondary}; not applied: ${f.healthChecks.primary}`);
    expect(await inverted(f, f.healthChecks.secondary)).toBe(false);
    expect(await inverted(f, f.healthChecks.primary)).toBe(false);
    const [entry] = await auditLines(f);
    expect(entry).toMatchObject({ outcome: 'partial', healthCheckUpdates: [{ healthCheckId: f.healthChecks.secondary, inverted: false }] });
    // the rerun finishes the job
    expect((await cdn(f, ['failover', '--yes'])).code).toBe(0);
    expect(await inverted(f, f.healthChecks.primary)).toBe(true);
  });
});

describe('idempotent intent: reruns and concurrent operators converge', () => {
  it('weighted: 5 concurrent `cdn failover` runs × 3 rounds all exit 0 and end on the secondary; failback likewise on the primary', async () => {
    const f = await fixture('weighted');
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all(Array.from({ length: 5 }, () => cdn(f, ['failover', '--yes', '--wait', '0'])));
      expect(runs.map((r) => r.code), runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0, 0, 0]);
      expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    }
    const lines = await auditLines(f);
    expect(lines).toHaveLength(15);
    expect(lines.filter((l) => l.outcome === 'applied')).toHaveLength(1);
    const back = await Promise.all(Array.from({ length: 5 }, () => cdn(f, ['failback', '--yes', '--wait', '0'])));
    expect(back.map((r) => r.code), back.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0, 0, 0]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('failover routing: concurrent runs converge on the inverted primary [shim: HealthCheckVersion compare-and-set]', async () => {
    const f = await fixture('failover');
    for (let round = 0; round < 2; round++) {
      const runs = await Promise.all(Array.from({ length: 5 }, () => cdn(f, ['failover', '--yes'])));
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
      expect(await inverted(f, f.healthChecks.primary)).toBe(true);
      expect(await inverted(f, f.healthChecks.secondary)).toBe(false);
    }
    const again = await cdn(f, ['failover', '--yes']);
    expect(again.stdout).toContain('already on fastly-0: nothing to do');
  });

  it('latency routing: opposite failovers at the same time never leave both health checks inverted [shim: HealthCheckVersion compare-and-set]', async () => {
    const f = await fixture('latency');
    // hold every UpdateHealthCheck so that both runs read before either writes
    await control.fault({ service: 'route53', method: 'POST', path: '/healthcheck/', times: 0, delayMs: 800, forward: true });
    const runs = await Promise.all([cdn(f, ['failover', '--yes']), cdn(f, ['failover', '--to', 'primary', '--yes'])]);
    await control.clearFaults();
    const both = [await inverted(f, f.healthChecks.primary), await inverted(f, f.healthChecks.secondary)];
    expect(both).not.toEqual([true, true]);
    // whoever lost was told so (exit 1, conflict), not "done"
    const losers = runs.filter((r) => r.code !== 0);
    for (const r of losers) expect(r.stderr).toContain('changed since the plan was read');
    expect(runs.filter((r) => r.code === 0).length + losers.length).toBe(2);
  });

  it('failover routing with the primary failing on its own: no inversion (it would make Route 53 count the primary healthy), already on the secondary', async () => {
    const f = await fixture('failover');
    await control.fault(failingHealthCheck(f.healthChecks.primary));
    await control.clearRequests();
    const res = await cdn(f, ['failover', '--yes']);
    await control.clearFaults();
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('already on fastly-0: nothing to do');
    expect(res.stderr).toContain('cloudfront-0 is failing its health check on its own');
    expect(await inverted(f, f.healthChecks.primary)).toBe(false);
    expect(await route53Writes()).toBe(0);
  });

  it('split traffic: failover goes to 100% on the secondary, shown in the plan', async () => {
    const f = await fixture('weighted');
    expect((await cdn(f, ['shift', '--weights', 'cloudfront-0=90,fastly-0=10', '--yes'])).code).toBe(0);
    const dry = await cdn(f, ['failover', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('traffic now:   90/10 cloudfront-0/fastly-0');
    expect(dry.stdout).toContain('traffic after: 100% fastly-0');
  });
});

describe('a write whose answer is lost', () => {
  it('without retries: exit 1 "sent but the connection failed before its answer", audited as unknown, not "unreachable" [shim: applied, then the connection dropped]', async () => {
    const f = await fixture('weighted');
    await control.fault({ service: 'route53', method: 'POST', path: '/rrset', loseAnswer: true });
    const res = await cdn(f, ['failover', '--yes'], { env: { ...env, AWS_MAX_ATTEMPTS: '1' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Route53 ChangeResourceRecordSets was sent but the connection failed before its answer');
    expect(res.stderr).toContain('retailctl cdn status storefront');
    expect(res.stderr).not.toContain('cannot reach');
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect((await auditLines(f))[0]).toMatchObject({ outcome: 'unknown' });
  });

  it('with retries: the retry is refused by the compare-and-set, and the run reports the change in place as applied, not as somebody else\'s no-op', async () => {
    const f = await fixture('weighted');
    await control.fault({ service: 'route53', method: 'POST', path: '/rrset', loseAnswer: true });
    const res = await cdn(f, ['failover', '--yes']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('the first attempt of this run, whose answer was lost, probably made it');
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect((await auditLines(f))[0]).toMatchObject({ outcome: 'applied' });
  });
});

describe('the audit trail', () => {
  it('kill -9 while waiting for INSYNC: the applied change is already in the audit log (written before the wait), and the rerun is a no-op that records it [shim: PENDING GetChange]', async () => {
    const f = await fixture('weighted');
    await control.fault(pendingChange);
    await control.clearRequests();
    const waiting = async () => (await control.requests()).some((r) => r.service === 'route53' && r.method === 'GET' && r.path.includes('/change/'));
    const killed = await cdn(f, ['failover', '--yes', '--wait', '60s'], { signalWhen: waiting, whenSignal: 'SIGKILL' });
    await control.clearFaults();
    expect(killed.code).toBeNull(); // killed, no exit code
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    const lines = await auditLines(f);
    expect(lines.map((l) => [l.action, l.outcome, l.trafficAfter])).toEqual([['failover', 'applied', '100% fastly-0']]);
    expect(lines[0]!.changeId).toMatch(/^\/change\//);
    const rerun = await cdn(f, ['failover', '--yes']);
    expect(rerun.code).toBe(0);
    expect((await auditLines(f)).map((l) => l.outcome)).toEqual(['applied', 'noop']);
  });

  it('cdn.auditLog pointing at a directory: exit 2 before anything changes', async () => {
    const f = await fixture('weighted');
    await mkdir(path.join(f.dir, 'audit.jsonl'));
    await control.clearRequests();
    const res = await cdn(f, ['failover', '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cdn.auditLog');
    expect(res.stderr).toContain('is a directory, not a file');
    expect(await route53Writes()).toBe(0);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('cdn.auditLog that is a device or a FIFO: exit 2 before anything changes; a dangling symlink is written through to its target', async () => {
    const f = await fixture('weighted');
    const { execFileSync } = await import('node:child_process');
    const { symlink, writeFile: write } = await import('node:fs/promises');
    const text = await readFile(f.configFile, 'utf8');
    execFileSync('mkfifo', [path.join(f.dir, 'fifo')]);
    await symlink(path.join(f.dir, 'missing', 'dir', 'audit.jsonl'), path.join(f.dir, 'dangling'));
    for (const [target, why] of [['/dev/null', 'is under /dev or /proc'], ['fifo', 'is not a regular file (a device, FIFO or socket)']] as const) {
      await write(f.configFile, text.replace('auditLog: audit.jsonl', `auditLog: ${target}`));
      const res = await cdn(f, ['failover', '--yes']);
      expect([target, res.code]).toEqual([target, 2]);
      expect(res.stderr).toContain(why);
      expect(res.stderr).not.toContain('to write to stdout'); // the audit log has no stdout form
    }
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    await write(f.configFile, text.replace('auditLog: audit.jsonl', 'auditLog: dangling'));
    expect((await cdn(f, ['failover', '--yes'])).code).toBe(0);
    const lines = (await readFile(path.join(f.dir, 'missing', 'dir', 'audit.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { outcome: string }).outcome)).toEqual(['applied', 'verified']);
  });

  it('cdn.auditBucket missing: exit 2 before anything changes', async () => {
    const f = await fixture('weighted', { auditBucket: 'no-such-audit-bucket' });
    await control.clearRequests();
    const res = await cdn(f, ['failover', '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cdn.auditBucket: bucket "no-such-audit-bucket" does not exist');
    expect(await route53Writes()).toBe(0);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('the audit copy denied after the change: exit 4 "change applied", the entry on stderr, --json with applied and the change id [shim: AccessDenied on PutObject]', async () => {
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'cdn-audit-denied' }));
    const f = await fixture('weighted', { auditBucket: 'cdn-audit-denied' });
    await control.fault({ service: 's3', method: 'PUT', path: '^/cdn-audit-denied/', times: 0, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    const res = await cdn(f, ['failover', '--yes', '--json']);
    await control.clearFaults();
    expect(res.code).toBe(4);
    const doc = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ ok: false, applied: true, changeId: expect.stringMatching(/\S/) });
    expect(res.stderr).toMatch(/storefront: change applied \(change \S+ INSYNC\), audit entry not written to s3:\/\/cdn-audit-denied\/retailctl\/cdn-audit\/storefront\/\S+: /);
    const kept = /audit entry \(keep it[^)]*\): (\{.*\})/.exec(res.stderr);
    expect(JSON.parse(kept![1]!)).toMatchObject({ outcome: 'applied', changeId: doc.changeId, trafficAfter: '100% fastly-0' });
    // the verification's line was refused too: it is kept as well, and both are in --json
    const alsoKept = /audit entry \(keep it too\): (\{.*\})/.exec(res.stderr);
    expect(JSON.parse(alsoKept![1]!)).toMatchObject({ outcome: 'verified', changeId: doc.changeId });
    expect((doc.auditEntries as { outcome: string }[]).map((e) => e.outcome)).toEqual(['applied', 'verified']);
    // traffic moved and the local log has it; the bucket has nothing
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect((await auditLines(f))[0]).toMatchObject({ changeId: doc.changeId });
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'cdn-audit-denied' }))).KeyCount ?? 0).toBe(0);
    s3.destroy();
  });
});
