import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/lib/util/retry.js';

/** A breaker on a clock the test moves. */
function breaker(giveUpAfterMs: number) {
  let t = 1_000_000;
  const b = new CircuitBreaker(giveUpAfterMs, () => t);
  return { b, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('trips only when requests have kept failing for the whole give-up time with none succeeding', () => {
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

  it('any success starts the count again', () => {
    const { b, advance } = breaker(10_000);
    b.failure(new Error('x'));
    advance(9_000);
    b.success();
    expect(b.state).toBeUndefined();
    advance(9_000);
    b.failure(new Error('y'));
    advance(9_999);
    b.failure(new Error('y'));
    expect(b.tripped).toBe(false);
    expect(b.state?.since).toBe(1_018_000);
  });

  it('0 never gives up; a tripped breaker stays tripped', () => {
    const never = breaker(0);
    never.b.failure(new Error('x'));
    never.advance(86_400_000);
    never.b.failure(new Error('x'));
    expect(never.b.tripped).toBe(false);
    const { b, advance } = breaker(1);
    b.failure(new Error('x'));
    advance(1);
    b.failure(new Error('x'));
    b.success();
    expect(b.tripped).toBe(true);
  });
});
