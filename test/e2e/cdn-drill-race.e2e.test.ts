/**
 * Failover routing keeps the guard write of the destination's check: a drill's rollback
 * re-inverts a secondary that was inverted when the drill started, and a `cdn failover` that read the
 * secondary un-inverted in between would, without that guard, invert the primary at the version it
 * read and leave both checks inverted (both count unhealthy: Route 53 answers with the drained primary).
 * With the guard one of the two writes of the secondary is refused.
 */
import { GetHealthCheckCommand, UpdateHealthCheckCommand } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { useCdnFixtures, type CdnFixture } from '../support/cdn-fixtures.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const { fixture, cdn } = useCdnFixtures(endpoint, env);

async function inverted(f: CdnFixture, id: string): Promise<boolean> {
  return (await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: id }))).HealthCheck!.HealthCheckConfig!.Inverted ?? false;
}

describe('failover routing: a failover racing a drill\'s rollback', () => {
  it('a failover during a drill\'s rollback never leaves both health checks inverted, and never reports success when it does', async () => {
    const f = await fixture('failover');
    // normal state (all traffic on the primary) with the secondary drained by hand
    await f.route53.send(new UpdateHealthCheckCommand({ HealthCheckId: f.healthChecks.secondary, Inverted: true }));
    await control.clearRequests();
    // hold every write of the secondary's check: the drill's forward (restore) and its rollback (re-invert)
    await control.fault({ service: 'route53', method: 'POST', path: `/healthcheck/${f.healthChecks.secondary}$`, times: 0, delayMs: 6000, forward: true });
    const drill = cdn(f, ['drill', '--hold', '1s', '--yes']);
    // the rollback's write of the secondary has reached the shim (its second write): the primary's is back
    for (;;) {
      const n = (await control.requests()).filter((r) => r.service === 'route53' && r.method === 'POST' && r.path.endsWith(`/healthcheck/${f.healthChecks.secondary}`)).length;
      if (n >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const over = await cdn(f, ['failover', '--yes', '--wait', '0']);
    const d = await drill;
    await control.clearFaults();
    const both = [await inverted(f, f.healthChecks.primary), await inverted(f, f.healthChecks.secondary)];
    // both inverted = both count unhealthy: Route 53 answers with the primary the operator drained
    expect({ both, over: over.code, drill: d.code }, over.stdout + over.stderr + d.stdout + d.stderr).not.toMatchObject({ both: [true, true] });
  }, 90_000);
});
