/**
 * Route 53 TestDNSAnswer for the aws-shim (moto does not implement it): the answer Route 53's
 * authoritative servers would give for a record, computed from the zone's record sets as moto holds
 * them, in the documented response shape (Nameserver, RecordName, RecordType, RecordData,
 * ResponseCode, Protocol).
 *
 * - Weighted records: Route 53 draws each answer from the healthy record sets with a non-zero
 *   weight, in proportion to the weights (all of them, equally, if every weight is 0). Here the draw
 *   is a fixed rotation with the same shares (smooth weighted round-robin per name and type,
 *   restarted when the weights change) so that tests are deterministic: the first answer is the
 *   highest weight (ties: the lowest SetIdentifier), and at 90/10 one answer in every ten is the
 *   10% side — the share a random draw gives on average, without a long unlucky run.
 * - Failover records: PRIMARY unless its health check counts as unhealthy, then SECONDARY (if both
 *   are unhealthy, PRIMARY, as Route 53 does).
 * - Latency records: the healthy record set with the lowest SetIdentifier (the shim has no notion of
 *   where the resolver is; ResolverIP / EDNS0ClientSubnetIP are accepted and ignored).
 * - Health: a record set without a health check is healthy; with one, it is healthy unless the
 *   check is `Inverted` (a `Disabled` check counts as healthy). moto's checkers always report
 *   healthy, so inversion is the only way a check is unhealthy here; GetHealthCheckStatus faults
 *   injected through /__shim/faults do not change this answer.
 * - Alias records answer with the alias target's DNS name (no trailing dot).
 * - No record set at the name and type: NOERROR with no RecordData if the name has other types,
 *   NXDOMAIN otherwise.
 *
 * Test support only: never part of retailctl.
 */
import { XMLParser } from 'fast-xml-parser';

/** The reply shape of the aws-shim. */
export interface DnsShimReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

type XmlRecord = Record<string, unknown>;

const AUTH = (service: string) => `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name, jpath) => name === 'ResourceRecord' || String(jpath).endsWith('ResourceRecordSets.ResourceRecordSet'),
});

/** Is this request a TestDNSAnswer call? */
export function isTestDnsAnswer(method: string, url: URL): boolean {
  return method === 'GET' && url.pathname.replace(/\/$/, '') === '/2013-04-01/testdnsanswer';
}

const dns = (v: unknown) => String(v ?? '').toLowerCase().replace(/\.$/, '');
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function error(status: number, code: string, message: string): DnsShimReply {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>shim-${code}</RequestId></ErrorResponse>`,
  };
}

/** Per name and type: the weights the rotation runs on, and each set's running credit. */
const rotations = new Map<string, { signature: string; credit: Map<string, number> }>();

/** Smooth weighted round-robin: every set gains its weight, the richest is answered and pays the total. */
function draw(key: string, sets: XmlRecord[], byId: (a: XmlRecord, b: XmlRecord) => number): XmlRecord | undefined {
  const sorted = [...sets].sort((a, b) => Number(b.Weight) - Number(a.Weight) || byId(a, b));
  const signature = sorted.map((s) => `${String(s.SetIdentifier)}=${Number(s.Weight)}`).join(',');
  let rotation = rotations.get(key);
  if (rotation?.signature !== signature) rotations.set(key, (rotation = { signature, credit: new Map() }));
  const total = sorted.reduce((n, s) => n + Number(s.Weight), 0);
  let best: XmlRecord | undefined;
  for (const s of sorted) {
    const id = String(s.SetIdentifier);
    rotation.credit.set(id, (rotation.credit.get(id) ?? 0) + Number(s.Weight));
    if (!best || rotation.credit.get(id)! > rotation.credit.get(String(best.SetIdentifier))!) best = s;
  }
  if (best) rotation.credit.set(String(best.SetIdentifier), rotation.credit.get(String(best.SetIdentifier))! - total);
  return best;
}

/** Answer a TestDNSAnswer request from moto's record sets and health checks. */
export async function testDnsAnswer(upstream: string, url: URL): Promise<DnsShimReply> {
  const q = url.searchParams;
  const zoneId = (q.get('hostedzoneid') ?? '').replace(/^\/?hostedzone\//, '');
  const recordName = q.get('recordname') ?? '';
  const recordType = q.get('recordtype') ?? '';
  if (!zoneId || !recordName || !recordType) return error(400, 'InvalidInput', 'hostedzoneid, recordname and recordtype are required');

  const res = await fetch(`${upstream}/2013-04-01/hostedzone/${encodeURIComponent(zoneId)}/rrset?name=${encodeURIComponent(recordName)}&maxitems=300`, { headers: { authorization: AUTH('route53') } });
  if (res.status === 404) return error(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`);
  const listed = xml.parse(await res.text()) as { ListResourceRecordSetsResponse?: { ResourceRecordSets?: { ResourceRecordSet?: XmlRecord[] } } };
  const atName = (listed.ListResourceRecordSetsResponse?.ResourceRecordSets?.ResourceRecordSet ?? []).filter((r) => dns(r.Name) === dns(recordName));
  const sets = atName.filter((r) => String(r.Type) === recordType);

  const healthy = new Map<string, boolean>();
  const isHealthy = async (set: XmlRecord): Promise<boolean> => {
    const id = set.HealthCheckId === undefined ? undefined : String(set.HealthCheckId);
    if (!id) return true;
    if (!healthy.has(id)) {
      const hc = await fetch(`${upstream}/2013-04-01/healthcheck/${encodeURIComponent(id)}`, { headers: { authorization: AUTH('route53') } });
      const doc = xml.parse(await hc.text()) as { GetHealthCheckResponse?: { HealthCheck?: { HealthCheckConfig?: { Inverted?: string; Disabled?: string } } } };
      const config = doc.GetHealthCheckResponse?.HealthCheck?.HealthCheckConfig ?? {};
      // moto's checkers always see the endpoint healthy; a disabled check counts as healthy
      healthy.set(id, config.Disabled === 'true' ? true : config.Inverted !== 'true');
    }
    return healthy.get(id)!;
  };
  const byId = (a: XmlRecord, b: XmlRecord) => String(a.SetIdentifier ?? '').localeCompare(String(b.SetIdentifier ?? ''));

  let chosen: XmlRecord | undefined;
  if (sets.length && sets[0]!.Weight !== undefined) {
    const flags = await Promise.all(sets.map(isHealthy));
    const healthySets = sets.filter((_, i) => flags[i]);
    const pool = healthySets.length ? healthySets : sets;
    const weighted = pool.filter((s) => Number(s.Weight) > 0);
    chosen = draw(`${zoneId} ${dns(recordName)} ${recordType}`, weighted.length ? weighted : pool.map((s) => ({ ...s, Weight: 1 })), byId);
  } else if (sets.length && sets[0]!.Failover !== undefined) {
    const primary = sets.find((s) => String(s.Failover) === 'PRIMARY');
    const secondary = sets.find((s) => String(s.Failover) === 'SECONDARY');
    const primaryHealthy = primary ? await isHealthy(primary) : false;
    const secondaryHealthy = secondary ? await isHealthy(secondary) : false;
    chosen = primary && (primaryHealthy || !secondaryHealthy) ? primary : secondary;
  } else if (sets.length && sets[0]!.Region !== undefined) {
    const flags = await Promise.all(sets.map(isHealthy));
    const healthySets = sets.filter((_, i) => flags[i]);
    chosen = [...(healthySets.length ? healthySets : sets)].sort(byId)[0];
  } else {
    chosen = sets[0];
  }

  const alias = chosen?.AliasTarget as XmlRecord | undefined;
  const data = !chosen ? [] : alias ? [dns(alias.DNSName)] : ((chosen.ResourceRecords as { ResourceRecord?: { Value: unknown }[] } | undefined)?.ResourceRecord ?? []).map((r) => String(r.Value));
  const code = chosen || atName.length ? 'NOERROR' : 'NXDOMAIN';
  const body =
    '<?xml version="1.0" encoding="UTF-8"?><TestDNSAnswerResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
    '<Nameserver>ns-2048.awsdns-64.com</Nameserver>' +
    `<RecordName>${escapeXml(recordName)}</RecordName><RecordType>${escapeXml(recordType)}</RecordType>` +
    `<RecordData>${data.map((d) => `<RecordDataEntry>${escapeXml(d)}</RecordDataEntry>`).join('')}</RecordData>` +
    `<ResponseCode>${code}</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>`;
  return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `shim-testdns-${Date.now()}` }, body };
}
