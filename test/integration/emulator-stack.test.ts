/**
 * The emulator stack itself: the seeded storefront exists as the example config describes it,
 * the shim's Lambda provisioned-concurrency routes behave as AWS documents them, and moto refuses
 * S3 conditional writes and deletes as AWS does (the images lock relies on it).
 */
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudFrontClient, GetDistributionCommand } from '@aws-sdk/client-cloudfront';
import { GetAccountSettingsCommand, GetProvisionedConcurrencyConfigCommand, LambdaClient, PutFunctionConcurrencyCommand, PutProvisionedConcurrencyConfigCommand } from '@aws-sdk/client-lambda';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorContext } from '../support/aws.js';
import { seedStorefront, type SeededStorefront } from '../support/seed.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const lambda = new LambdaClient(common);
let seeded: SeededStorefront;

beforeAll(async () => {
  seeded = await seedStorefront(endpoint);
  await control.configure({ pcReadyAfterMs: 300 });
});
afterAll(() => lambda.destroy());

describe('seeded storefront', () => {
  it('has weighted records for both CDNs, all traffic on CloudFront', async () => {
    const route53 = new Route53Client(common);
    const { ResourceRecordSets = [] } = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: seeded.zoneId, MaxItems: 300 }));
    route53.destroy();
    const weighted = ResourceRecordSets.filter((r) => r.Type === 'CNAME').map((r) => [r.SetIdentifier, r.Weight, r.ResourceRecords?.[0]?.Value]);
    expect(weighted).toEqual(expect.arrayContaining([['cloudfront', 100, seeded.distributionDomain], ['fastly', 0, seeded.secondaryTarget]]));
  });

  it('has an enabled CloudFront distribution and registered scalable targets', async () => {
    const cloudfront = new CloudFrontClient(common);
    const dist = await cloudfront.send(new GetDistributionCommand({ Id: seeded.distributionId }));
    cloudfront.destroy();
    expect(dist.Distribution?.DistributionConfig?.Enabled).toBe(true);
    const aas = await emulatorContext(endpoint).read.client('autoscaling');
    const targets = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'lambda' }));
    expect(targets.ScalableTargets?.map((t) => t.ResourceId).sort()).toEqual(['function:checkout-api:live', 'function:pricing-api:live']);
  });
});

describe('Lambda provisioned concurrency (shim)', () => {
  it('goes IN_PROGRESS, then READY with the requested amount allocated', async () => {
    const put = await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live', ProvisionedConcurrentExecutions: 50 }));
    expect(put).toMatchObject({ Status: 'IN_PROGRESS', RequestedProvisionedConcurrentExecutions: 50, AllocatedProvisionedConcurrentExecutions: 0 });
    await new Promise((r) => setTimeout(r, 400));
    const get = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live' }));
    expect(get).toMatchObject({ Status: 'READY', AllocatedProvisionedConcurrentExecutions: 50 });
  });

  it('refuses $LATEST, unknown aliases, and anything that leaves less than 100 unreserved', async () => {
    await expect(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: '$LATEST', ProvisionedConcurrentExecutions: 5 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'nope', ProvisionedConcurrentExecutions: 5 }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'pricing-api', ReservedConcurrentExecutions: 200 }));
    const settings = await lambda.send(new GetAccountSettingsCommand({}));
    expect(settings.AccountLimit).toMatchObject({ ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 800 });
    // 1000 - 200 reserved - 50 (checkout-api) - 651 = 99 < 100
    await expect(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pricing-api', Qualifier: 'live', ProvisionedConcurrentExecutions: 651 }))).rejects.toThrow(/below its minimum value of \[100\]/);
    await expect(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pricing-api', Qualifier: 'live' }))).rejects.toMatchObject({ name: 'ProvisionedConcurrencyConfigNotFoundException' });
  });
});

describe('S3 conditional writes (moto, no shim)', () => {
  it('If-None-Match: * creates only a missing key; If-Match replaces or deletes only the version named (412 otherwise)', async () => {
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'conditional' }));
      const first = await s3.send(new PutObjectCommand({ Bucket: 'conditional', Key: 'k', Body: 'a', IfNoneMatch: '*' }));
      await expect(s3.send(new PutObjectCommand({ Bucket: 'conditional', Key: 'k', Body: 'b', IfNoneMatch: '*' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      await expect(s3.send(new PutObjectCommand({ Bucket: 'conditional', Key: 'k', Body: 'b', IfMatch: '"0123456789abcdef0123456789abcdef"' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      const second = await s3.send(new PutObjectCommand({ Bucket: 'conditional', Key: 'k', Body: 'b', IfMatch: first.ETag }));
      await expect(s3.send(new DeleteObjectCommand({ Bucket: 'conditional', Key: 'k', IfMatch: first.ETag }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      await s3.send(new DeleteObjectCommand({ Bucket: 'conditional', Key: 'k', IfMatch: second.ETag }));
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'conditional', Key: 'k' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    } finally {
      s3.destroy();
    }
  });
});
