/**
 * Reviewed cdn changes: `--plan-out` then `retailctl apply`, through the built binary against the
 * emulator. The end state equals the direct command's; anything that moved in between, an edited or
 * expired plan, another account, or a second apply is refused with nothing written to Route 53.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChangeResourceRecordSetsCommand, GetHealthCheckCommand, UpdateHealthCheckCommand } from '@aws-sdk/client-route-53';
import { afterAll, describe, expect, it } from 'vitest';
import { createCdnFixture, type CdnFixture, type Routing } from '../support/cdn-fixtures.js';
import { otherHost, spawnCli, type SpawnOptions } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const fixtures: CdnFixture[] = [];
afterAll(() => fixtures.forEach((f) => f.close()));

async function fixture(routing: Routing, options: Parameters<typeof createCdnFixture>[2] = {}): Promise<CdnFixture> {
  const f = await createCdnFixture(endpoint, routing, options);
  fixtures.push(f);
  return f;
}

const run = (f: CdnFixture, args: string[], options: SpawnOptions = {}) => spawnCli([...args, '--config', f.configFile], { ...options, env: { ...env, ...options.env } });

async function weights(f: CdnFixture): Promise<Record<string, number | undefined>> {
  return Object.fromEntries(Object.entries(await f.sets(f.records[0]!)).map(([id, s]) => [id, s.Weight]));
}

async function route53Writes(): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 'route53' && r.method === 'POST').map((r) => r.path);
}

async function auditOutcomes(f: CdnFixture): Promise<unknown[]> {
  const text = await readFile(path.join(f.dir, 'audit.jsonl'), 'utf8').catch(() => '');
  return text.trim() ? text.trim().split('\n').map((l) => (JSON.parse(l) as { outcome: string }).outcome) : [];
}

const planFile = (f: CdnFixture, name = 'plan.json') => path.join(f.dir, name);

describe('cdn: --plan-out, then apply', () => {
  it('weighted failover: the plan file writes nothing; apply reaches the direct command\'s end state; a second apply is refused', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    const planned = await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f), '--json']);
    expect(planned.code).toBe(0);
    const doc = JSON.parse(planned.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ ok: true, applied: false, kind: 'cdn.failover', account: '123456789012', region: 'us-east-1', plan: { kind: 'cdn.failover', version: 1 } });
    expect(await route53Writes()).toEqual([]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });

    const file = JSON.parse(await readFile(planFile(f), 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({ kind: 'cdn.failover', version: 1, account: '123456789012', region: 'us-east-1', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(Date.parse(file.expiresAt as string) - Date.parse(file.createdAt as string)).toBe(24 * 3_600_000);
    expect((file.actions as { call: string }[]).map((a) => a.call)).toEqual(['route53:ChangeResourceRecordSets']);
    // the record sets exactly as read are what apply will compare against
    expect(file.preconditions).toContainEqual(expect.objectContaining({ id: `route53:${f.zoneId}/${f.records[0]}/CNAME`, value: expect.arrayContaining([expect.objectContaining({ SetIdentifier: 'cloudfront-0', Weight: 100 })]) }));

    const applied = await run(f, ['apply', planFile(f), '--yes', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ ok: true, applied: true, kind: 'cdn.failover', status: 'INSYNC', changeId: expect.any(String) });
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect(await auditOutcomes(f)).toEqual(['applied', 'verified']);

    // the same plan again: recorded as applied beside the config, nothing is written (never a double change)
    await control.clearRequests();
    const twice = await run(f, ['apply', planFile(f), '--yes']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already applied at \S+ .*not applied again, nothing was changed/);
    // from another host (no record there), its preconditions no longer hold
    const again = await run(f, ['apply', planFile(f), '--yes'], { env: otherHost() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('things this plan was computed from changed since it was made: not applied, nothing was changed');
    expect(again.stderr).toContain('[SetIdentifier=cloudfront-0].Weight: 100 → 0');
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect(await route53Writes()).toEqual([]);
    expect(await auditOutcomes(f)).toEqual(['applied', 'verified']);

    // the direct command from the same start reaches the same end state
    const g = await fixture('weighted');
    expect((await run(g, ['cdn', 'failover', 'storefront', '--yes'])).code).toBe(0);
    expect(await weights(g)).toEqual(await weights(f));
  });

  it('failover routing: the health-check inversions are applied as planned, guarded by their versions', async () => {
    const f = await fixture('failover');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    const file = JSON.parse(await readFile(planFile(f), 'utf8')) as { actions: { call: string; params: { HealthCheckVersion: number } }[] };
    expect(file.actions.every((a) => a.call === 'route53:UpdateHealthCheck')).toBe(true);
    const res = await run(f, ['apply', planFile(f), '--yes']);
    expect(res.code, res.stderr).toBe(0);
    const primary = await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: f.healthChecks.primary }));
    expect(primary.HealthCheck!.HealthCheckConfig!.Inverted).toBe(true);
  });

  it('an out-of-band change (a record\'s TTL edited) refuses the plan with the difference, exit 1, nothing written', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    const sets = await f.sets(f.records[0]!);
    const edited = { ...sets['fastly-0']!, TTL: 300 };
    await f.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: f.zoneId, ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: edited }] } }));
    await control.clearRequests();
    const res = await run(f, ['apply', planFile(f), '--yes', '--json']);
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout) as { ok: boolean; applied: boolean; error: { code: string; details: string[] } };
    expect(doc).toMatchObject({ ok: false, applied: false, error: { code: 'PLAN_STALE' } });
    expect(doc.error.details.join('\n')).toContain('[SetIdentifier=fastly-0].TTL: 60 → 300');
    expect(await route53Writes()).toEqual([]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('a health check edited out of band (its version moved) refuses a failover-routing plan', async () => {
    const f = await fixture('failover');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    await f.route53.send(new UpdateHealthCheckCommand({ HealthCheckId: f.healthChecks.secondary, FailureThreshold: 5 }));
    await control.clearRequests();
    const res = await run(f, ['apply', planFile(f), '--yes']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`health check ${f.healthChecks.secondary}: changed: version: 1 → 2`);
    expect(await route53Writes()).toEqual([]);
    const primary = await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: f.healthChecks.primary }));
    expect(primary.HealthCheck!.HealthCheckConfig!.Inverted ?? false).toBe(false);
  });

  it('an edited plan (one weight changed) is exit 2 and writes nothing', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'shift', 'storefront', '--weights', 'cloudfront-0=90,fastly-0=10', '--plan-out', planFile(f)])).code).toBe(0);
    const text = await readFile(planFile(f), 'utf8');
    expect(text).toContain('"Weight": 10');
    await writeFile(planFile(f), text.replace('"Weight": 10', '"Weight": 50'));
    await control.clearRequests();
    const res = await run(f, ['apply', planFile(f), '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('digest does not match its content: the file was edited after it was made');
    expect(res.stderr.trim().split('\n').filter((l) => / error: /.test(l))).toHaveLength(1);
    expect(await route53Writes()).toEqual([]);
  });

  it('an expired plan is exit 1 "re-plan" and writes nothing', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f), '--plan-ttl', '1ms'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    await control.clearRequests();
    const res = await run(f, ['apply', planFile(f), '--yes']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/expired at \S+ .*re-plan, nothing was changed/);
    expect(await route53Writes()).toEqual([]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('credentials of another account (an assume-role profile) are exit 2, naming both accounts', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    const home = await mkdtemp(path.join(os.tmpdir(), 'retailctl-home-'));
    await writeFile(path.join(home, 'config'), '[profile base]\nregion = us-east-1\n[profile other]\nrole_arn = arn:aws:iam::111122223333:role/retailctl-deploy\nsource_profile = base\nregion = us-east-1\n');
    await writeFile(path.join(home, 'credentials'), '[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n');
    await control.clearRequests();
    const res = await spawnCli(['apply', planFile(f), '--yes', '--profile', 'other', '--config', f.configFile], {
      env: { AWS_ENDPOINT_URL: endpoint, AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials') },
    });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain('made for account 123456789012 in us-east-1, but these credentials are account 111122223333 in us-east-1: not applied');
    expect(await route53Writes()).toEqual([]);
  });

  it('RETAILCTL_PLAN_KEY: the plan carries an HMAC; apply needs the same key, and refuses an unsigned plan while a key is set', async () => {
    const f = await fixture('weighted');
    const key = { RETAILCTL_PLAN_KEY: 'ci-plan-secret-1' };
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)], { env: key })).code).toBe(0);
    expect(JSON.parse(await readFile(planFile(f), 'utf8')).digest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(await readFile(planFile(f), 'utf8')).not.toContain('ci-plan-secret-1');

    const noKey = await run(f, ['apply', planFile(f), '--yes']);
    expect([noKey.code, noKey.stderr]).toEqual([2, expect.stringContaining('RETAILCTL_PLAN_KEY is not set')]);
    const wrongKey = await run(f, ['apply', planFile(f), '--yes'], { env: { RETAILCTL_PLAN_KEY: 'another' } });
    expect([wrongKey.code, wrongKey.stderr]).toEqual([2, expect.stringContaining('HMAC does not match')]);

    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f, 'unsigned.json')])).code).toBe(0);
    const unsigned = await run(f, ['apply', planFile(f, 'unsigned.json'), '--yes'], { env: key });
    expect([unsigned.code, unsigned.stderr]).toEqual([2, expect.stringContaining('only a plan signed with that key is accepted')]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });

    const ok = await run(f, ['apply', planFile(f), '--yes'], { env: key });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
  });

  it('Ctrl-C while apply\'s write is in flight: the write finishes, exit 130; a rerun of the plan shows it as done (changed precondition), never a double change', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    await control.fault({ service: 'route53', method: 'POST', path: '/rrset', delayMs: 2500, forward: true });
    await control.clearRequests();
    const changeSent = async () => (await control.requests()).some((r) => r.service === 'route53' && r.method === 'POST' && r.path.endsWith('/rrset'));
    const res = await run(f, ['apply', planFile(f), '--yes'], { signalWhen: changeSent });
    await control.clearFaults();
    expect(res.code).toBe(130);
    expect(res.stderr).toContain('after the change was applied: storefront: 100% fastly-0');
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    await control.clearRequests();
    const spent = await run(f, ['apply', planFile(f), '--yes']);
    expect([spent.code, spent.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    const again = await run(f, ['apply', planFile(f), '--yes'], { env: otherHost() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('[SetIdentifier=fastly-0].Weight: 0 → 100');
    expect(await route53Writes()).toEqual([]);
    expect(await auditOutcomes(f)).toEqual(['applied']);
  });

  it('two applies of one plan started at once: one changes Route 53, the other is refused (exit 1); one batch sent', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    await control.clearRequests();
    const [a, b] = await Promise.all([run(f, ['apply', planFile(f), '--yes']), run(f, ['apply', planFile(f), '--yes'])]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    // refused by the claim if both got that far, or by its preconditions if the first had already written
    expect([a, b].find((r) => r.code === 1)!.stderr).toMatch(/already applied at|changed since it was made: not applied, nothing was changed/);
    expect((await route53Writes()).filter((p) => p.endsWith('/rrset'))).toHaveLength(1);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect(await auditOutcomes(f)).toEqual(['applied', 'verified']);
  });

  it('the audit copy denied after apply\'s change: exit 4 "change applied", the entry kept, and the plan spent (not applied again) [shim: AccessDenied on PutObject]', async () => {
    const { S3Client, CreateBucketCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const { awsErrors } = await import('../support/emulator.js');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'plan-audit-denied' }));
    const f = await fixture('weighted', { auditBucket: 'plan-audit-denied' });
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    await control.fault({ service: 's3', method: 'PUT', path: '^/plan-audit-denied/', times: 0, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    const res = await run(f, ['apply', planFile(f), '--yes', '--json']);
    await control.clearFaults();
    expect(res.code).toBe(4);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, applied: true, kind: 'cdn.failover', changeId: expect.stringMatching(/\S/) });
    expect(res.stderr).toMatch(/storefront: change applied \(change \S+ INSYNC\), audit entry not written to s3:\/\/plan-audit-denied\//);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect(await auditOutcomes(f)).toEqual(['applied', 'verified']);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'plan-audit-denied' }))).KeyCount ?? 0).toBe(0);
    await control.clearRequests();
    const again = await run(f, ['apply', planFile(f), '--yes']);
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    expect(await route53Writes()).toEqual([]);
    s3.destroy();
  });

  it('in GitHub Actions, the plan step\'s summary says planned, and apply\'s shows the traffic moved', async () => {
    const f = await fixture('weighted');
    const summary = path.join(f.dir, 'summary.md');
    const gh = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: f.dir };
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)], { env: gh })).code).toBe(0);
    expect(await readFile(summary, 'utf8')).toContain('**Planned, not applied**');
    await writeFile(summary, '');
    expect((await run(f, ['apply', planFile(f), '--yes'], { env: gh })).code).toBe(0);
    const md = await readFile(summary, 'utf8');
    expect(md).toContain('### retailctl apply');
    expect(md).toMatch(/\| storefront \| weighted \| 100% cloudfront-0 \| 100% fastly-0 \| \/change\/\S+ \(INSYNC\) \|/);
  });

  it('plan show renders the file for people and as Markdown (tables parse), reading no AWS', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    await control.clearRequests();
    const text = await spawnCli(['plan', 'show', planFile(f)]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('cdn.failover');
    expect(text.stdout).toContain('traffic after: 100% fastly-0');
    const md = await spawnCli(['plan', 'show', planFile(f), '--markdown']);
    expect(md.code).toBe(0);
    const tables = md.stdout.split('\n\n').filter((b) => b.startsWith('|'));
    expect(tables.length).toBeGreaterThanOrEqual(3);
    for (const t of tables) {
      const rows = t.split('\n').map((r) => r.replace(/\\\|/g, '').split('|').length);
      expect(new Set(rows).size, t).toBe(1);
      expect(t.split('\n')[1]).toMatch(/^\|( --- \|)+$/);
    }
    expect(md.stdout).toContain('100% cloudfront-0');
    expect(await control.requests()).toEqual([]);
  });

  it('a direct command still works exactly as before (dry run prints the plan object with kind and version)', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    const dry = await run(f, ['cdn', 'failover', 'storefront', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ ok: true, applied: false, dryRun: true, plan: { kind: 'cdn.failover', version: 1, trafficAfter: '100% fastly-0' }, actions: [{ call: 'route53:ChangeResourceRecordSets' }] });
    expect(await route53Writes()).toEqual([]);
  });
});

describe('forged plans (digest recomputed, no RETAILCTL_PLAN_KEY): refused unless every write is covered by a precondition', () => {
  async function forge(file: string, edit: (doc: { plan: Record<string, any>; preconditions: { id: string }[] } & Record<string, unknown>) => void): Promise<void> {
    const { digestOf } = await import('../../src/lib/plan/document.js');
    const { cdnKind } = await import('../../src/lib/cdn/kind.js');
    const doc = JSON.parse(await readFile(file, 'utf8'));
    edit(doc);
    doc.actions = cdnKind.actions(doc.plan);
    delete doc.digest;
    await writeFile(file, JSON.stringify({ ...doc, digest: digestOf(doc) }));
  }

  it('a change batch with another record, a batch for another zone, a DELETE-only batch without preconditions: exit 2, nothing written', async () => {
    const f = await fixture('weighted');
    const other = await fixture('weighted');
    const cases: [string, Parameters<typeof forge>[1], string][] = [
      ['extra record', (d) => d.plan.changeBatch.Changes.push({ Action: 'UPSERT', ResourceRecordSet: { Name: `login.${f.records[0]!.split('.').slice(1).join('.')}.`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: 'attacker.example.net' }] } }), 'not a record of group storefront'],
      ['other zone', (d) => (d.plan.zoneId = other.zoneId), 'is for another hosted zone than its group'],
      ['deletes only', (d) => { d.plan.changeBatch.Changes = d.plan.changeBatch.Changes.filter((c: { Action: string }) => c.Action === 'DELETE'); d.preconditions = []; }, 'its preconditions do not cover what it changes'],
    ];
    for (const [name, edit, message] of cases) {
      expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f, `${name}.json`)])).code).toBe(0);
      await forge(planFile(f, `${name}.json`), edit);
      await control.clearRequests();
      const res = await run(f, ['apply', planFile(f, `${name}.json`), '--yes']);
      expect([name, res.code]).toEqual([name, 2]);
      expect(res.stderr).toContain(message);
      expect(await route53Writes()).toEqual([]);
    }
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    expect(Object.keys(await other.sets(other.records[0]!)).sort()).toEqual(['cloudfront-0', 'fastly-0']);
  });

  it('a failed-back group does not take the same failover plan again (replay): exit 1, nothing written', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    expect((await run(f, ['apply', planFile(f), '--yes'])).code).toBe(0);
    expect((await run(f, ['cdn', 'failback', 'storefront', '--yes'])).code).toBe(0);
    await control.clearRequests();
    const replay = await run(f, ['apply', planFile(f), '--yes']);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toContain('already applied at');
    expect(await route53Writes()).toEqual([]);
    expect(await weights(f)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('plan show --markdown escapes a hostile group name: no fake heading, no HTML comment, no link', async () => {
    const f = await fixture('weighted');
    const hostile = 'sf**\n\n#### Write calls (0)\n\n_none_ <!-- [x](https://evil.example) ##[set-output name=x;]1';
    const yaml = (await readFile(f.configFile, 'utf8')).replace(/^  storefront:/m, `  ${JSON.stringify(hostile)}:`);
    await writeFile(f.configFile, yaml);
    expect((await run(f, ['cdn', 'failover', hostile, '--plan-out', planFile(f)])).code).toBe(0);
    const md = await spawnCli(['plan', 'show', planFile(f), '--markdown']);
    expect(md.code).toBe(0);
    expect(md.stdout).not.toContain('<!--');
    expect(md.stdout).not.toMatch(/(?<!\\)\](?=\(https:\/\/evil)/);
    expect(md.stdout.split('\n').filter((l) => l.startsWith('#### Write calls'))).toHaveLength(1);
    const gh = await spawnCli(['plan', 'show', planFile(f)], { env: { GITHUB_ACTIONS: 'true' } });
    expect(gh.stdout + gh.stderr).not.toContain('##[set-output');
  });

  it('--plan-out naming the config file is exit 2 and leaves the config as it was', async () => {
    const f = await fixture('weighted');
    const before = await readFile(f.configFile, 'utf8');
    const res = await run(f, ['cdn', 'failover', 'storefront', '--plan-out', f.configFile]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('is the config file: writing the plan would replace it');
    expect(await readFile(f.configFile, 'utf8')).toBe(before);
  });
});

describe('bad plan files: exit 2, one line, nothing read from AWS', () => {
  const cases: [string, string, RegExp][] = [
    ['empty', '', /is empty, not a plan file/],
    ['truncated', '{"kind": "cdn.failover", "version": 1, "pla', /is not JSON .*a truncated or wrong file/],
    ['not an object', '[1, 2]', /is not a plan file/],
    ['unknown kind', '{"kind": "dns.delete-zone", "version": 1}', /unknown plan kind dns\.delete-zone/],
    ['missing fields', '{"kind": "cdn.failover", "version": 1}', /is not a valid plan file: retailctl: missing/],
    ['a field of the wrong type', '{"kind": "cdn.failover", "version": "1"}', /is not a valid plan file: version: expected number, received string/],
    ['nested deeper than any plan', `{"kind": "cdn.failover", "plan": ${'['.repeat(5000)}${']'.repeat(5000)}}`, /is nested deeper than 64 levels/],
    ['a hostile kind', '{"kind": "\\u001b]0;pwned\\u0007x"}', /unknown plan kind \\x1b\]0;pwned\\x07x/],
  ];
  for (const [name, text, message] of cases) {
    it(name, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-badplan-'));
      const file = path.join(dir, 'plan.json');
      await writeFile(file, text);
      await control.clearRequests();
      for (const args of [['apply', file, '--yes'], ['plan', 'show', file]]) {
        const res = await spawnCli(args, { env });
        expect(res.code).toBe(2);
        expect(res.stderr).toMatch(message);
        expect(res.stderr.split('\n').filter((l) => / error: /.test(l))).toHaveLength(1);
        expect(res.stderr).not.toContain('\u001b');
        expect(res.stderr).not.toMatch(/\n\s+at /);
      }
      expect(await control.requests()).toEqual([]);
    });
  }

  it('a plan of a newer format is exit 2, naming the retailctl that made it', async () => {
    const f = await fixture('weighted');
    expect((await run(f, ['cdn', 'failover', 'storefront', '--plan-out', planFile(f)])).code).toBe(0);
    const doc = JSON.parse(await readFile(planFile(f), 'utf8')) as Record<string, unknown>;
    // re-signed as a newer retailctl would (the digest is not a secret without RETAILCTL_PLAN_KEY)
    const { digestOf } = await import('../../src/lib/plan/document.js');
    const newer = { ...doc, version: 2, retailctl: '9.0.0' };
    await writeFile(planFile(f), JSON.stringify({ ...newer, digest: digestOf(newer as never) }));
    const res = await run(f, ['apply', planFile(f), '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('is plan format version 2, made by retailctl 9.0.0; this retailctl reads version 1 and older');
  });

  it('--plan-out is checked before any work: a directory, /dev/full, or - with --json is exit 2', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    for (const [target, message] of [[f.dir, 'is a directory'], ['/dev/full', 'is under /dev or /proc']] as const) {
      const res = await run(f, ['cdn', 'failover', 'storefront', '--plan-out', target]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`--plan-out ${target}: ${message}`);
    }
    const json = await run(f, ['cdn', 'failover', 'storefront', '--plan-out', '-', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { message: '--plan-out -: stdout already carries the --json document' } });
    expect(await control.requests()).toEqual([]);
  });
});
