import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, describe, expect, it } from 'vitest';
import { RetailctlError } from '../../src/lib/errors.js';
import { emulatorContext } from '../support/aws.js';
import { awsErrors } from '../support/emulator.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const aws = emulatorContext(endpoint);
afterAll(() => aws.destroy());

async function bucketNames(): Promise<string[]> {
  const s3 = await aws.read.client('s3');
  return ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name!);
}

describe('AWS client context over the wire (moto)', () => {
  it('read clients refuse writes before anything is sent; write clients write', async () => {
    const reader = await aws.read.client('s3');
    await control.clearRequests();
    await expect(reader.send(new CreateBucketCommand({ Bucket: 'refused-bucket' }))).rejects.toMatchObject({ code: 'READ_ONLY_VIOLATION' });
    expect(await control.requests()).toEqual([]);
    expect(await bucketNames()).not.toContain('refused-bucket');

    const writer = await aws.write().client('s3');
    await writer.send(new CreateBucketCommand({ Bucket: 'written-bucket' }));
    expect(await bucketNames()).toContain('written-bucket');
  });

  it('a dry-run context hands out no write clients at all', () => {
    const dry = emulatorContext(endpoint, { dryRun: true });
    expect(() => dry.write()).toThrow(RetailctlError);
  });

  it('identifies itself with retailctl/<version> in the user agent', async () => {
    await control.clearRequests();
    const sts = await aws.read.client('sts');
    await sts.send(new GetCallerIdentityCommand({}));
    const [request] = await control.requests();
    expect(request?.userAgent).toContain('retailctl/0.0.0-test');
  });

  it('translates AccessDenied from the wire, keeping name, status and request id', async () => {
    await control.fault({ service: 'sts', operation: 'GetCallerIdentity', ...awsErrors.query('AccessDenied', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:GetCallerIdentity', 403) });
    const sts = await aws.read.client('sts');
    const err = (await sts.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e)) as RetailctlError;
    expect(err).toBeInstanceOf(RetailctlError);
    expect(err.code).toBe('AWS_ACCESS_DENIED');
    expect(err.aws).toMatchObject({ name: 'AccessDenied', httpStatus: 403, requestId: 'req-AccessDenied', service: 'STS', operation: 'GetCallerIdentity' });
    expect(err.hint).toContain('grant sts:GetCallerIdentity');
  });

  it('retries throttling (adaptive) and succeeds when AWS recovers', async () => {
    await control.clearRequests();
    await control.fault({ service: 'sts', operation: 'GetCallerIdentity', times: 2, ...awsErrors.query('Throttling', 'Rate exceeded', 400) });
    const sts = await aws.read.client('sts');
    const who = await sts.send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe('123456789012');
    expect((await control.requests()).filter((r) => r.operation === 'GetCallerIdentity')).toHaveLength(3);
  });

  it('gives up after maxAttempts with a throttling message', async () => {
    await control.fault({ service: 'sts', operation: 'GetCallerIdentity', times: 0, ...awsErrors.query('Throttling', 'Rate exceeded', 400) });
    const sts = await aws.read.client('sts');
    const err = (await sts.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e)) as RetailctlError;
    await control.clearFaults();
    expect(err.code).toBe('AWS_THROTTLED');
    expect(err.message).toMatch(/^STS GetCallerIdentity was still throttled after 3 attempts \(Throttling, HTTP 400/);
  });
});
