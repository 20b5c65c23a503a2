import { describe, expect, it } from 'vitest';
import { describeHolder, localLockPath, lockKey, parseLockBody } from '../../src/lib/images/lock.js';

describe('images lock names and bodies', () => {
  it('the lock key sits under the prefix; the local lock file beside the journal, one per bucket and prefix', () => {
    expect(lockKey('catalog/')).toBe('catalog/.retailctl-lock');
    expect(lockKey('')).toBe('.retailctl-lock');
    expect(localLockPath('/s', 'shop-images', '')).toBe('/s/images/shop-images.lock');
    expect(localLockPath('/s', 'shop-images', 'catalog/eu/')).toBe('/s/images/shop-images@catalog+eu.lock');
  });

  it('a lock body is read back, and one that is not a lock is not taken for one', () => {
    const body = { holder: 'ci', host: 'runner-7', pid: 42, startedAt: '2026-11-27T08:00:00.000Z', expiresAt: '2026-11-27T08:02:00.000Z', command: 'retailctl images migrate', runId: 'r1' };
    const parsed = parseLockBody(JSON.stringify(body))!;
    expect(parsed).toEqual(body);
    expect(describeHolder(parsed)).toBe('ci on runner-7 (pid 42) since 2026-11-27T08:00:00.000Z, expires 2026-11-27T08:02:00.000Z');
    expect(parseLockBody('not json')).toBeUndefined();
    expect(parseLockBody('{"holder":"x"}')).toBeUndefined();
  });
});
