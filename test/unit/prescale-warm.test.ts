import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/lib/config/load.js';
import type { Campaign } from '../../src/lib/config/schema.js';
import { checkTarget } from '../../src/lib/prescale/check.js';
import { resolveTargets } from '../../src/lib/prescale/targets.js';
import { billingProblems, planWarm, resolveWarmTargets, updateTableInput, warmActions, type TableInfo } from '../../src/lib/prescale/warm.js';

function campaign(targets: string): Campaign {
  return parseConfigText(`campaigns:\n  spring:\n    sendAt: "2027-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets:\n${targets.replace(/^/gm, '      ')}`, 'r.yaml').campaigns!.spring!;
}

const WARM = campaign(`- dynamodb: Carts
  warm: { read: 40000, write: 12000 }
- dynamodb: Carts/index/ByUser
  warm: { read: 20000 }`);

const table = (billingMode: string, warm = { read: 12000, write: 4000 }, index = { read: 12000, write: 4000 }): TableInfo => ({
  exists: true,
  billingMode,
  status: 'ACTIVE',
  warm: { ...warm, status: 'ACTIVE' },
  indexes: { ByUser: { ...index, status: 'ACTIVE' } },
});

describe('warm throughput targets', () => {
  it('are not Application Auto Scaling targets', () => {
    expect(resolveTargets(WARM)).toEqual([]);
    expect(resolveWarmTargets(WARM).map((r) => [r.label, r.table, r.index ?? null, r.read ?? null, r.write ?? null])).toEqual([
      ['dynamodb Carts (warm)', 'Carts', null, 40000, 12000],
      ['dynamodb Carts/index/ByUser (warm)', 'Carts', 'ByUser', 20000, null],
    ]);
  });

  it('the config refuses warm together with read/write, and an empty warm', () => {
    expect(() => campaign('- dynamodb: Carts\n  read: 10\n  warm: { read: 40000 }')).toThrow(/not both/);
    expect(() => campaign('- dynamodb: Carts\n  warm: {}')).toThrow(/warm\.read/);
  });

  it('plans only the values that rise, and skips targets at or above the request', () => {
    const plans = planWarm(resolveWarmTargets(WARM), { Carts: table('PAY_PER_REQUEST', { read: 40000, write: 8000 }, { read: 30000, write: 4000 }) });
    expect(plans[0]!.update).toEqual({ write: 12000 });
    expect(plans[1]!.update).toBeUndefined();
    expect(plans[1]!.skip).toMatch(/already at or above/);
    expect(warmActions(plans)).toEqual([expect.objectContaining({ call: 'dynamodb:UpdateTable', params: { TableName: 'Carts', WarmThroughput: { WriteUnitsPerSecond: 12000 } } })]);
    expect(updateTableInput(resolveWarmTargets(WARM)[1]!, { read: 20000 })).toEqual({ TableName: 'Carts', GlobalSecondaryIndexUpdates: [{ Update: { IndexName: 'ByUser', WarmThroughput: { ReadUnitsPerSecond: 20000 } } }] });
  });

  it('refuses warm on a provisioned table and read/write on an on-demand one, naming the table and its billing mode', () => {
    expect(billingProblems('spring', WARM, { Carts: table('PROVISIONED') }).map((p) => p.message)).toEqual([
      expect.stringMatching(/^dynamodb table Carts is provisioned \(billing mode PROVISIONED\)/),
      expect.stringMatching(/^dynamodb table Carts is provisioned \(billing mode PROVISIONED\)/),
    ]);
    const rw = campaign('- dynamodb: Carts\n  read: 100');
    expect(billingProblems('spring', rw, { Carts: table('PAY_PER_REQUEST') })).toEqual([{ path: ['campaigns', 'spring', 'targets', 0, 'read'], message: expect.stringMatching(/^dynamodb table Carts is on-demand \(billing mode PAY_PER_REQUEST\)/) }]);
    expect(billingProblems('spring', rw, { Carts: table('PROVISIONED') })).toEqual([]);
    expect(billingProblems('spring', WARM, { Carts: { exists: false, billingMode: 'unknown', indexes: {} } })[0]!.message).toMatch(/does not exist/);
  });
});

describe('status --check verdicts', () => {
  const ref = resolveTargets(campaign('- ecs: storefront/web\n  min: 40'))[0]!;
  const now = Date.parse('2027-03-02T12:00:00Z');
  const a = (name: string, utc: string, min: number, max: number) => ({ name: `retailctl-spring-storefront-web-${name}`, schedule: `at(${utc.slice(0, 19)})`, timezone: 'UTC', utc, min, max });
  const actions = { up: a('up', '2027-03-02T08:40:00Z', 40, 40), drain: a('drain', '2027-03-02T10:00:00Z', 4, 12), down: a('down', '2027-03-02T10:02:00Z', 4, 20) };
  const base = { campaign: 'spring', ref, actions, others: [], hasPolicy: false };

  it('back at the baseline and the capacity before: ok', () => {
    expect(checkTarget({ ...base, registered: { min: 4, max: 20 }, capacity: 12 }, now)).toEqual(expect.objectContaining({ verdict: 'ok', fails: false }));
  });

  it('registered or capacity above: fails', () => {
    expect(checkTarget({ ...base, registered: { min: 40, max: 40 }, capacity: 40 }, now).verdict).toBe('above-baseline');
    expect(checkTarget({ ...base, registered: { min: 4, max: 20 }, capacity: 13 }, now).verdict).toBe('above-baseline');
    // a scaling policy owns the capacity: only the registered values count
    expect(checkTarget({ ...base, hasPolicy: true, registered: { min: 4, max: 20 }, capacity: 18 }, now).verdict).toBe('ok');
  });

  it('a missing down or drain fails; no actions at all is a restored campaign', () => {
    expect(checkTarget({ ...base, actions: { up: actions.up, drain: actions.drain }, registered: { min: 4, max: 20 } }, now)).toEqual(expect.objectContaining({ verdict: 'missing-actions', fails: true }));
    expect(checkTarget({ ...base, actions: { up: actions.up, down: actions.down }, registered: { min: 4, max: 20 } }, now).verdict).toBe('missing-actions');
    expect(checkTarget({ ...base, actions: {}, registered: { min: 4, max: 20 } }, now).verdict).toBe('ok');
  });

  it('a way down still to fire (planned together with a later campaign), or another campaign holding the target: not failed', () => {
    const later = { ...actions, drain: a('drain', '2027-03-02T14:00:00Z', 4, 12), down: a('down', '2027-03-02T14:02:00Z', 4, 20) };
    expect(checkTarget({ ...base, actions: later, registered: { min: 60, max: 60 } }, now).verdict).toBe('pending');
    const other = { campaign: 'late', down: { ...a('down', '2027-03-02T16:02:00Z', 4, 20), name: 'retailctl-late-storefront-web-down' } };
    expect(checkTarget({ ...base, others: [other], registered: { min: 60, max: 60 } }, now).verdict).toBe('held');
  });
});
