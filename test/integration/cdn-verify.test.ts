/**
 * DNS verification after a cdn change, against moto + the shim: Route 53's answer comes from the
 * shim's TestDNSAnswer (moto has none: test/support/route53-dns-shim.ts answers from the zone's
 * record sets, weighted answers by weight in a fixed rotation), and "resolvers" are local DNS
 * servers on 127.0.0.1 (test/support/dns-server.ts) that switch to the new answer after a delay.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ChangeResourceRecordSetsCommand, TestDNSAnswerCommand, UpdateHealthCheckCommand } from '@aws-sdk/client-route-53';
import { afterAll, describe, expect, it } from 'vitest';
import { createCdnFixture, staleDnsAnswer, type CdnFixture, type Routing } from '../support/cdn-fixtures.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const fixtures: CdnFixture[] = [];
const servers: DnsServer[] = [];
afterAll(async () => {
  fixtures.forEach((f) => f.close());
  await Promise.all(servers.map((s) => s.close()));
});

async function fixture(routing: Routing, options: Parameters<typeof createCdnFixture>[2] = {}): Promise<CdnFixture> {
  const f = await createCdnFixture(endpoint, routing, options);
  fixtures.push(f);
  return f;
}

function cli(f: CdnFixture, args: string[]) {
  return runInProcess([...args, '--config', f.configFile, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now: () => new Date() });
}

async function auditLines(f: CdnFixture): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(f.dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const fastly = (f: CdnFixture, i = 0) => `${f.records[i]!}.global.prod.fastly.net`;

interface Check { record: string; type: string; via: string; switched: boolean; afterMs?: number; answer: string[] }

describe('the TestDNSAnswer shim', () => {
  it('answers as Route 53 would: weighted by weight (the highest first), failover by health and inversion, alias by its target name', async () => {
    const w = await fixture('weighted', { type: 'A' });
    const ask = async (f: CdnFixture, name = f.records[0]!, type: 'A' | 'CNAME' = 'CNAME') => f.route53.send(new TestDNSAnswerCommand({ HostedZoneId: f.zoneId, RecordName: name, RecordType: type }));
    const alias = await ask(w, w.records[0], 'A');
    expect(alias).toMatchObject({ RecordName: w.records[0], RecordType: 'A', RecordData: [w.distributionDomain], ResponseCode: 'NOERROR', Protocol: 'UDP' });
    expect(alias.Nameserver).toBeTruthy();
    expect((await ask(w, `nothing.${w.records[0]!}`, 'A')).ResponseCode).toBe('NXDOMAIN');

    const fo = await fixture('failover');
    expect((await ask(fo)).RecordData).toEqual([fo.distributionDomain]);
    await fo.route53.send(new UpdateHealthCheckCommand({ HealthCheckId: fo.healthChecks.primary, Inverted: true }));
    expect((await ask(fo)).RecordData).toEqual([fastly(fo)]);
    await fo.route53.send(new UpdateHealthCheckCommand({ HealthCheckId: fo.healthChecks.primary, Inverted: false }));

    const split = await fixture('weighted');
    const sets = await split.sets(split.records[0]!);
    await split.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: split.zoneId, ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { ...sets['cloudfront-0']!, Weight: 10 } }, { Action: 'UPSERT', ResourceRecordSet: { ...sets['fastly-0']!, Weight: 90 } }] } }));
    expect((await ask(split)).RecordData).toEqual([fastly(split)]);
  });
});

describe('cdn failover | failback | shift: the DNS answer is verified after INSYNC', () => {
  it('weighted: Route 53 answers with the destination for every record; the time is in --json and the audit entry', async () => {
    const f = await fixture('weighted', { records: ['www', '@'] });
    const res = await cli(f, ['cdn', 'failover', '--yes', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { status: string; changeId: string; verification: { ok: boolean; changedAt: string; checks: Check[] } };
    expect(doc.status).toBe('INSYNC');
    expect(doc.verification.ok).toBe(true);
    expect(doc.verification.checks.map((c) => [c.record, c.type, c.via, c.switched, c.answer])).toEqual([
      [f.records[0], 'CNAME', 'route53', true, [fastly(f, 0)]],
      [f.records[1], 'CNAME', 'route53', true, [fastly(f, 1)]],
    ]);
    expect(doc.verification.checks.every((c) => typeof c.afterMs === 'number' && c.afterMs >= 0)).toBe(true);
    const audit = await auditLines(f);
    expect(audit.map((a) => [a.action, a.outcome, a.changeId])).toEqual([
      ['failover', 'applied', doc.changeId],
      ['failover', 'verified', doc.changeId],
    ]);
    expect(audit[1]!.verification).toEqual(doc.verification);
    expect(audit[1]!.follows).toBe(audit[0]!.time);
  });

  it('failover routing: after the health check is inverted, Route 53 answers with the secondary', async () => {
    const f = await fixture('failover');
    const res = await cli(f, ['cdn', 'failover', '--yes', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { status: string; verification: { ok: boolean; checks: Check[] } };
    expect(doc.status).toBe('APPLIED');
    expect(doc.verification.checks.map((c) => [c.via, c.switched, c.answer])).toEqual([['route53', true, [fastly(f)]]]);
    const back = await cli(f, ['cdn', 'failback', '--yes']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/new DNS answer seen: route53 \d+\.\d s/);
  });

  it('TestDNSAnswer is called with --resolver-ip and --edns-subnet', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    expect((await cli(f, ['cdn', 'failover', '--yes', '--resolver-ip', '192.0.2.53', '--edns-subnet', '198.51.100.0/24'])).code).toBe(0);
    const calls = (await control.requests()).filter((r) => r.path.includes('/testdnsanswer'));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.path).toContain('resolverip=192.0.2.53');
    expect(calls[0]!.path).toContain('edns0clientsubnetip=198.51.100.0');
    expect(calls[0]!.path).toContain('edns0clientsubnetmask=24');
  });

  it('resolvers asked directly: each is polled until it switches, and the time to switch is recorded; one that never does is exit 5, the change stays applied', async () => {
    const f = await fixture('weighted');
    const name = f.records[0]!;
    const old = { type: 'CNAME' as const, values: [f.distributionDomain] };
    const next = { type: 'CNAME' as const, values: [fastly(f)] };
    const quick = await startDnsServer((n) => (n === name ? next : undefined));
    const slow = await startDnsServer((n, _t, ms) => (n === name ? (ms > 1500 ? next : old) : undefined));
    servers.push(quick, slow);
    const res = await cli(f, ['cdn', 'failover', '--yes', '--json', '--verify-resolvers', `${quick.address},${slow.address}`, '--verify-timeout', '20s']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { verification: { ok: boolean; checks: Check[] } };
    const by = Object.fromEntries(doc.verification.checks.map((c) => [c.via, c]));
    expect(Object.keys(by).sort()).toEqual([quick.address, slow.address, 'route53'].sort());
    expect(by[slow.address]).toMatchObject({ switched: true, answer: [fastly(f)] });
    expect(by[slow.address]!.afterMs!).toBeGreaterThan(by[quick.address]!.afterMs!);
    expect(slow.queries.length).toBeGreaterThan(1);

    // a resolver stuck on the old answer: exit 5 after --verify-timeout, nothing rolled back
    const stuck = await startDnsServer((n) => (n === name ? { type: 'CNAME', values: [fastly(f)] } : undefined));
    servers.push(stuck);
    const back = await cli(f, ['cdn', 'failback', '--yes', '--verify-resolvers', stuck.address, '--verify-timeout', '2s']);
    expect(back.code).toBe(5);
    expect(back.stdout + back.stderr).toContain(`${name} CNAME via ${stuck.address}: still ${fastly(f)}`);
    expect(back.stdout + back.stderr).toContain('The change stays applied');
    expect(Object.fromEntries(Object.entries(await f.sets(name)).map(([id, s]) => [id, s.Weight]))).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    const audit = await auditLines(f);
    expect(audit.slice(-2)).toEqual([expect.objectContaining({ action: 'failback', outcome: 'applied' }), expect.objectContaining({ action: 'failback', outcome: 'not-verified', verification: expect.objectContaining({ ok: false }) })]);
  });

  it('a 90/10 shift: Route 53 is asked until it draws the 10% side; a resolver, which caches one draw for the TTL, may answer either side and its line says so', async () => {
    const f = await fixture('weighted');
    const name = f.records[0]!;
    const cached = await startDnsServer((n) => (n === name ? { type: 'CNAME', values: [f.distributionDomain] } : undefined));
    servers.push(cached);
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'shift', '--weights', 'cloudfront-0=90,fastly-0=10', '--yes', '--json', '--verify-resolvers', cached.address]);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as { verification: { ok: boolean; shares: Record<string, number>; checks: (Check & { draws?: number; anyWeighted?: boolean })[] } };
    const by = Object.fromEntries(doc.verification.checks.map((c) => [c.via, c]));
    expect(by.route53).toMatchObject({ switched: true, answer: [fastly(f)] });
    // the shim's rotation answers the 10% side once in ten, starting with the 90% side
    expect(by.route53!.draws).toBeGreaterThan(1);
    expect(by.route53!.draws).toBeLessThanOrEqual(10);
    expect((await control.requests()).filter((r) => r.path.includes('/testdnsanswer'))).toHaveLength(by.route53!.draws!);
    expect(by[cached.address]).toMatchObject({ switched: true, anyWeighted: true, answer: [f.distributionDomain] });
    expect(doc.verification.shares).toEqual({ [`${name} CNAME`]: 0.1 });
  });

  it('cdn.verify in the config is used when no flag is given, and Route 53 answering the old record is exit 5', async () => {
    const f = await fixture('weighted');
    const { readFile: rf, writeFile } = await import('node:fs/promises');
    const text = await rf(f.configFile, 'utf8');
    await writeFile(f.configFile, text.replace('cdn:\n', 'cdn:\n  verify:\n    timeout: 1s\n'));
    // Route 53 still answering with CloudFront (a stale answer, injected: the shim would answer from the records)
    await control.fault(staleDnsAnswer(f.records[0]!, f.distributionDomain));
    try {
      const res = await cli(f, ['cdn', 'failover', '--yes', '--json']);
      expect(res.code).toBe(5);
      const doc = JSON.parse(res.stdout) as { applied: boolean; verification: { ok: boolean; timeoutMs: number }; error: { code: string } };
      expect(doc).toMatchObject({ applied: true, verification: { ok: false, timeoutMs: 1000 }, error: { code: 'CDN_NOT_VERIFIED' } });
    } finally {
      await control.clearFaults();
    }
  });

  it('--wait 0 does not wait, so it does not verify', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    expect((await cli(f, ['cdn', 'failover', '--yes', '--wait', '0'])).code).toBe(0);
    expect((await control.requests()).filter((r) => r.path.includes('/testdnsanswer'))).toHaveLength(0);
  });
});
