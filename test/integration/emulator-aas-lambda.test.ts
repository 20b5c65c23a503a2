/**
 * The emulator's Application Auto Scaling on Lambda provisioned concurrency keeps AWS's rule that
 * the account keeps at least 100 unreserved concurrency, on RegisterScalableTarget as on a direct
 * PutProvisionedConcurrencyConfig: otherwise a prescale test could get 950 of 1,000 READY through
 * Application Auto Scaling where AWS would fail the scaling activity.
 */
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { GetProvisionedConcurrencyConfigCommand, LambdaClient, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { seedStorefront } from '../support/seed.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const lambda = new LambdaClient(common);
afterAll(() => [aas, lambda].forEach((c) => c.destroy()));

const target = (fn: string, min: number, max = Math.max(min, 1)) =>
  new RegisterScalableTargetCommand({ ServiceNamespace: 'lambda', ResourceId: `function:${fn}:live`, ScalableDimension: 'lambda:function:ProvisionedConcurrency', MinCapacity: min, MaxCapacity: max });
const provisioned = (fn: string) => lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn, Qualifier: 'live' }));
const registeredMin = async (fn: string) =>
  (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'lambda', ResourceIds: [`function:${fn}:live`] }))).ScalableTargets?.[0]?.MinCapacity;

beforeEach(async () => {
  await control.reset();
  await seedStorefront(endpoint);
  await control.configure({ pcReadyAfterMs: 0 });
});

describe('RegisterScalableTarget on Lambda provisioned concurrency (emulator)', () => {
  it('refuses a minimum that would leave less than 100 of the account\'s 1000 unreserved, and allocates nothing', async () => {
    await expect(aas.send(target('pricing-api', 950, 950))).rejects.toThrow(/UnreservedConcurrentExecution below its minimum value of \[100\]/);
    await expect(provisioned('pricing-api')).rejects.toMatchObject({ name: 'ProvisionedConcurrencyConfigNotFoundException' });
    // the registration itself did not change either
    expect(await registeredMin('pricing-api')).toBe(0);
  });

  it('counts reserved concurrency and other aliases\' provisioned concurrency: exactly 100 left is allowed, 99 is not', async () => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'checkout-api', ReservedConcurrentExecutions: 200 }));
    await aas.send(target('checkout-api', 100, 500));
    expect(await provisioned('checkout-api')).toMatchObject({ RequestedProvisionedConcurrentExecutions: 100 });
    // 1000 - 200 reserved - 100 (checkout-api) - 601 = 99
    await expect(aas.send(target('pricing-api', 601, 601))).rejects.toThrow(/below its minimum value of \[100\]/);
    await aas.send(target('pricing-api', 600, 600));
    expect(await provisioned('pricing-api')).toMatchObject({ RequestedProvisionedConcurrentExecutions: 600 });
    expect(await registeredMin('pricing-api')).toBe(600);
  });

  it('lowering the minimum is always allowed', async () => {
    await aas.send(target('pricing-api', 900, 900));
    await aas.send(target('pricing-api', 10, 900));
    // the minimum went down; capacity inside [10, 900] stays where it was
    expect(await registeredMin('pricing-api')).toBe(10);
    expect(await provisioned('pricing-api')).toMatchObject({ RequestedProvisionedConcurrentExecutions: 900 });
  });
});
