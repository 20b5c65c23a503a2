import { describe, expect, it } from 'vitest';
import { translateAwsError } from '../../src/lib/aws/translate-error.js';
import { isAwsError, RetailctlError } from '../../src/lib/errors.js';

const sdkError = (name: string, status: number, message = 'msg') =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status, requestId: 'REQ1', attempts: 5 }, $fault: 'client' });

describe('translateAwsError', () => {
  it('AccessDenied names the IAM action to grant and keeps name, status and request id', () => {
    const e = translateAwsError(sdkError('AccessDenied', 403, 'User is not authorized'), { service: 'S3', operation: 'PutObject' });
    expect(e).toBeInstanceOf(RetailctlError);
    expect(e).toMatchObject({ code: 'AWS_ACCESS_DENIED', exitCode: 1, aws: { name: 'AccessDenied', httpStatus: 403, requestId: 'REQ1', service: 'S3', operation: 'PutObject' } });
    expect(e.message).toBe('S3 PutObject was denied (AccessDenied, HTTP 403, request id REQ1)');
    expect(e.hint).toContain('grant s3:PutObject');
    expect(isAwsError(e, 'AccessDenied')).toBe(true);
    expect(e.name).toBe('AccessDenied'); // SDK helpers that check .name keep working
    // operations whose IAM action is named differently
    expect(translateAwsError(sdkError('AccessDenied', 403), { service: 'S3', operation: 'ListObjectsV2' }).hint).toContain('grant s3:ListBucket to');
    expect(translateAwsError(sdkError('AccessDenied', 403), { service: 'S3', operation: 'ListMultipartUploads' }).hint).toContain('grant s3:ListBucketMultipartUploads to');
  });

  it('throttling says how many attempts were made and what to do', () => {
    const e = translateAwsError(sdkError('ThrottlingException', 400, 'Rate exceeded'), { service: 'ApplicationAutoScaling', operation: 'RegisterScalableTarget' });
    expect(e.code).toBe('AWS_THROTTLED');
    expect(e.message).toContain('still throttled after 5 attempts');
    expect(e.hint).toContain('--concurrency');
  });

  it('missing credentials, expired SSO and expired tokens each get their own message', () => {
    const missing = translateAwsError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), { profile: 'shop' });
    expect(missing).toMatchObject({ code: 'AWS_CREDENTIALS_MISSING', message: 'no AWS credentials found for profile shop' });
    const sso = translateAwsError(Object.assign(new Error('The SSO session associated with this profile has expired or is otherwise invalid.'), { name: 'TokenProviderError' }), { profile: 'shop' });
    expect(sso.code).toBe('AWS_SSO_EXPIRED');
    expect(sso.hint).toBe('run `aws sso login --profile shop` and retry');
    expect(translateAwsError(sdkError('ExpiredToken', 400)).code).toBe('AWS_CREDENTIALS_EXPIRED');
    expect(translateAwsError(sdkError('InvalidClientTokenId', 403)).code).toBe('AWS_CREDENTIALS_INVALID');
  });

  it('a missing region is a usage error (exit 2)', () => {
    expect(translateAwsError(new Error('Region is missing'))).toMatchObject({ code: 'AWS_REGION_MISSING', exitCode: 2 });
  });

  it('network failures name the endpoint', () => {
    const e = translateAwsError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), { endpoint: 'http://127.0.0.1:9', service: 'S3', operation: 'ListObjectsV2' });
    expect(e.code).toBe('AWS_UNREACHABLE');
    expect(e.message).toContain('cannot reach http://127.0.0.1:9 for S3 ListObjectsV2');
  });

  it('anything else keeps the AWS message and passes translated errors through', () => {
    const e = translateAwsError(sdkError('NoSuchBucket', 404, 'The specified bucket does not exist'), { service: 'S3', operation: 'HeadBucket' });
    expect(e.message).toBe('S3 HeadBucket failed: The specified bucket does not exist (NoSuchBucket, HTTP 404, request id REQ1)');
    expect(translateAwsError(e)).toBe(e);
  });
});
