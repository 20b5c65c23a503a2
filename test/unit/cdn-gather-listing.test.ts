/**
 * readRecords (one listing for the records that sort together, one per record otherwise) against a fake Route 53 that lists as AWS does: names with labels reversed and
 * a trailing dot compared byte-wise, then type, then SetIdentifier; at most MaxItems (300) per page,
 * IsTruncated + NextRecordName/Type/Identifier; special characters returned as \ooo octal escapes.
 */
import { describe, expect, it } from 'vitest';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { readRecords } from '../../src/lib/cdn/gather.js';
import type { AwsClients } from '../../src/lib/aws/context.js';

const escape = (name: string) => name.toLowerCase().replace(/[^a-z0-9._-]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
const key = (name: string) => `${escape(name).replace(/\.$/, '').split('.').reverse().join('.')}.`;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function fakeZone(sets: ResourceRecordSet[]) {
  const zone = sets.map((s) => ({ ...s, Name: `${escape(s.Name!).replace(/\.$/, '')}.` })).sort((a, b) => cmp(key(a.Name), key(b.Name)) || cmp(a.Type!, b.Type!) || cmp(a.SetIdentifier ?? '', b.SetIdentifier ?? ''));
  const calls: unknown[] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, string | number | undefined> }) => {
    const i = command.input;
    calls.push({ op: command.constructor.name, ...i });
    if (command.constructor.name !== 'ListResourceRecordSetsCommand') throw new Error(`unexpected ${command.constructor.name}`);
    const max = Math.min(Number(i.MaxItems ?? 300), 300);
    const startKey = key(String(i.StartRecordName));
    const from = zone.findIndex((s) => {
      const c = cmp(key(s.Name), startKey) || (i.StartRecordType ? cmp(s.Type!, String(i.StartRecordType)) : 0) || (i.StartRecordIdentifier ? cmp(s.SetIdentifier ?? '', String(i.StartRecordIdentifier)) : 0);
      return c >= 0;
    });
    const page = from < 0 ? [] : zone.slice(from, from + max);
    const next = from < 0 ? undefined : zone[from + max];
    return { ResourceRecordSets: page.map((s) => ({ ...s })), IsTruncated: Boolean(next), MaxItems: String(max), ...(next ? { NextRecordName: next.Name, NextRecordType: next.Type, ...(next.SetIdentifier ? { NextRecordIdentifier: next.SetIdentifier } : {}) } : {}) };
  };
  return { aws: { client: async () => ({ send }) } as unknown as AwsClients, calls };
}

const w = (name: string, id: string, weight: number, value = `${id}.cdn.example.net`, type = 'CNAME'): ResourceRecordSet => ({ Name: name, Type: type as 'CNAME', SetIdentifier: id, Weight: weight, TTL: 60, ResourceRecords: [{ Value: value }] });
const filler = (n: number, under: string) => Array.from({ length: n }, (_, k) => ({ Name: `f${String(k).padStart(4, '0')}.${under}`, Type: 'TXT' as const, TTL: 60, ResourceRecords: [{ Value: '"x"' }] }));
const group = (record: string | string[], type = 'CNAME') => ({ zoneId: 'Z1', record, type, routing: 'weighted', primary: { setIdentifier: 'cf' }, secondary: { setIdentifier: 'fa' } }) as never;
const ids = (r: { name: string; sets: ResourceRecordSet[] }[]) => r.map((x) => [x.name, x.sets.map((s) => s.SetIdentifier)]);

describe("reading a group's records: Route 53 ordering and pagination", () => {
  it('two records whose runs straddle a page end exactly at a run boundary, and a split last run', async () => {
    // www.a: 3 sets, then filler such that page 1 ends exactly after www.b's run / in the middle of it
    for (const fill of [294, 295, 296, 297]) {
      const zone = [w('a.example.com', 'cf', 100), w('a.example.com', 'fa', 0), w('a.example.com', 'zz', 0), ...filler(fill, 'a.example.com'), w('www.a.example.com', 'cf', 100), w('www.a.example.com', 'fa', 0), w('www.a.example.com', 'zz', 0), w('zzz.a.example.com', 'cf', 1)];
      const { aws } = fakeZone(zone);
      expect(ids(await readRecords(aws, group(['a.example.com', 'www.a.example.com'])))).toEqual([['a.example.com', ['cf', 'fa', 'zz']], ['www.a.example.com', ['cf', 'fa', 'zz']]]);
    }
  });
  it('names that sort apart in Route 53 ("-" sorts before the trailing dot), case and trailing dots in the config', async () => {
    const zone = [w('shop.example.com', 'cf', 100), w('shop.example.com', 'fa', 0), w('shop-eu.example.com', 'cf', 100), w('shop-eu.example.com', 'fa', 0), w('shop.example.com', 'cf', 5, '1.1.1.1', 'A')];
    const { aws } = fakeZone(zone);
    expect(ids(await readRecords(aws, group(['Shop.Example.com.', 'shop-eu.example.com'])))).toEqual([['shop.example.com', ['cf', 'fa']], ['shop-eu.example.com', ['cf', 'fa']]]);
  });
  it('a wildcard record, as Route 53 lists it (\\052)', async () => {
    const zone = [w('*.shop.example.com', 'cf', 100), w('*.shop.example.com', 'fa', 0), w('shop.example.com', 'cf', 100), w('shop.example.com', 'fa', 0)];
    const { aws } = fakeZone(zone);
    expect(ids(await readRecords(aws, group(['*.shop.example.com', 'shop.example.com'])))).toEqual([['*.shop.example.com', ['cf', 'fa']], ['shop.example.com', ['cf', 'fa']]]);
  });
});
