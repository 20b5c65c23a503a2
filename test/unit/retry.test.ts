import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/lib/util/retry.js';

/** A breaker on a clock the test moves (its own timer is not relied on: check() is called by hand). */
function breaker(giveUpAfterMs: number) {
  let t = 1_000_000;
  const b = new CircuitBreaker(giveUpAfterMs, () => t);
  b.close();
  return { b, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('trips when nothing has succeeded for the whole give-up time while requests kept failing; since = the last success (here the start)', () => {
    const { b, advance } = breaker(30_000);
    b.failure(new Error('ECONNRESET: socket hang up'));
    advance(29_999);
    b.failure(new Error('ECONNRESET: socket hang up'));
    expect(b.tripped).toBe(false);
    advance(1);
    b.failure(new Error('ETIMEDOUT: no response within the timeout'));
    expect(b.tripped).toBe(true);
    expect(b.signal.aborted).toBe(true);
    expect(b.state).toEqual({ since: 1_000_000, failures: 3, lastError: 'ETIMEDOUT: no response within the timeout' });
  });

  it('requests that hang (no answer, no failure) trip it once nothing has succeeded for the give-up time; since = the last success', () => {
    const { b, advance } = breaker(2_000);
    b.begin();
    advance(500);
    b.success();
    b.end();
    b.begin(); // this one never answers
    advance(1_999);
    b.check();
    expect(b.tripped).toBe(false);
    advance(1);
    b.check();
    expect(b.tripped).toBe(true);
    expect(b.state).toEqual({ since: 1_000_500, failures: 0, lastError: 'no answer to 1 request in flight' });
  });

  it('time with nothing in flight does not count; any success starts the count again', () => {
    const { b, advance } = breaker(10_000);
    advance(60_000); // reading files, no request
    b.begin();
    b.check();
    expect(b.tripped).toBe(false);
    b.end();
    b.failure(new Error('x'));
    advance(9_000);
    b.success();
    expect(b.state).toBeUndefined();
    b.begin();
    advance(9_999);
    b.end();
    b.failure(new Error('y'));
    expect(b.tripped).toBe(false);
    expect(b.state?.since).toBe(1_069_000);
    advance(1);
    b.check();
    expect(b.tripped).toBe(true);
  });

  it('0 never gives up; a tripped breaker stays tripped', () => {
    const never = breaker(0);
    never.b.failure(new Error('x'));
    never.advance(86_400_000);
    never.b.failure(new Error('x'));
    never.b.check();
    expect(never.b.tripped).toBe(false);
    const { b, advance } = breaker(1);
    b.failure(new Error('x'));
    advance(1);
    b.failure(new Error('x'));
    b.success();
    expect(b.tripped).toBe(true);
  });
});
