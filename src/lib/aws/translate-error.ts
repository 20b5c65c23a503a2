import { ExitCode, RetailctlError, type AwsErrorInfo } from '../errors.js';

/** Where the failing call was going; filled in by the client middleware. */
export interface CallSite {
  service?: string;
  operation?: string;
  profile?: string;
  endpoint?: string;
  maxAttempts?: number;
}

/**
 * An AWS failure translated for the user. It keeps the AWS error `name` and `$metadata`, so SDK
 * helpers that inspect errors (waiters, lib-storage) and `isAwsError()` keep working on it.
 */
export class AwsError extends RetailctlError {
  readonly $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number };
  readonly $fault: 'client' | 'server' | undefined;
  constructor(code: string, message: string, info: AwsErrorInfo, options: { hint?: string; cause: unknown; exitCode?: 1 | 2; attempts?: number; fault?: 'client' | 'server' }) {
    super(code, message, { hint: options.hint, cause: options.cause, aws: info, exitCode: options.exitCode ?? ExitCode.Failure });
    this.name = info.name;
    this.$metadata = { httpStatusCode: info.httpStatus, requestId: info.requestId, attempts: options.attempts };
    this.$fault = options.fault;
  }
}

const THROTTLING = new Set([
  'Throttling', 'ThrottlingException', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded',
  'SlowDown', 'PriorRequestNotComplete', 'ProvisionedThroughputExceededException', 'RequestThrottled',
  'RequestThrottledException', 'BandwidthLimitExceeded', 'TransactionInProgressException', 'EC2ThrottledException',
]);
/** API operations whose IAM action has another name. */
const IAM_ACTIONS: Record<string, string> = {
  'S3:ListObjectsV2': 's3:ListBucket',
  'S3:HeadBucket': 's3:ListBucket',
  'S3:ListMultipartUploads': 's3:ListBucketMultipartUploads',
  'S3:HeadObject': 's3:GetObject',
  'S3:CreateMultipartUpload': 's3:PutObject',
  'S3:UploadPart': 's3:PutObject',
  'S3:CompleteMultipartUpload': 's3:PutObject',
};
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedException', 'Forbidden', 'AuthorizationError']);
const BAD_CREDENTIALS = new Set(['InvalidClientTokenId', 'UnrecognizedClientException', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidSignatureException']);
const EXPIRED_CREDENTIALS = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'RequestExpired']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

interface RawError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; attempts?: number };
  $fault?: 'client' | 'server';
  $response?: { statusCode?: number };
}

function profileFlag(site: CallSite): string {
  return site.profile ? ` --profile ${site.profile}` : '';
}

/**
 * Turn anything an SDK call threw into a RetailctlError with a one-line message and a hint.
 * Already-translated errors pass through unchanged.
 */
export function translateAwsError(err: unknown, site: CallSite = {}): RetailctlError {
  if (err instanceof RetailctlError) return err;
  const raw = (err && typeof err === 'object' ? err : { message: String(err) }) as RawError;
  const name = raw.name && raw.name !== 'Error' ? raw.name : raw.code ?? 'Error';
  const message = (raw.message ?? '').split('\n')[0]!.trim();
  const status = raw.$metadata?.httpStatusCode ?? raw.$response?.statusCode;
  const info: AwsErrorInfo = {
    name,
    service: site.service,
    operation: site.operation,
    requestId: raw.$metadata?.requestId,
    httpStatus: status,
  };
  const call = [site.service, site.operation].filter(Boolean).join(' ') || 'AWS call';
  const facts = [name, status ? `HTTP ${status}` : undefined, info.requestId ? `request id ${info.requestId}` : undefined]
    .filter(Boolean)
    .join(', ');
  const make = (code: string, text: string, hint: string | undefined, exitCode: 1 | 2 = 1) =>
    new AwsError(code, text, info, { hint, cause: err, exitCode, attempts: raw.$metadata?.attempts, fault: raw.$fault });

  if (name === 'AbortError') {
    return new RetailctlError('INTERRUPTED', `interrupted during ${call}`, { exitCode: ExitCode.Interrupted, cause: err, aws: info });
  }
  const lower = message.toLowerCase();
  if (name === 'TokenProviderError' || /sso session .*expired|token is expired|sso token/i.test(message) || (name === 'CredentialsProviderError' && /sso/i.test(message))) {
    return make('AWS_SSO_EXPIRED', `AWS SSO session expired or missing for ${site.profile ? `profile ${site.profile}` : 'this profile'}: ${message}`, `run \`aws sso login${profileFlag(site)}\` and retry`);
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return make('AWS_CREDENTIALS_MISSING', `no AWS credentials found${site.profile ? ` for profile ${site.profile}` : ''}`,
      `pass --profile or set AWS_PROFILE (SSO and assume-role profiles work; \`aws sso login${profileFlag(site)}\` first for SSO), run \`aws configure\`, or in CI assume a role with OIDC (docs/ci.md)`);
  }
  if (/region is missing/i.test(message)) {
    return make('AWS_REGION_MISSING', 'no AWS region set', 'pass --region, set AWS_REGION, or set `region` in the profile in ~/.aws/config', ExitCode.Usage);
  }
  if (EXPIRED_CREDENTIALS.has(name)) {
    return make('AWS_CREDENTIALS_EXPIRED', `AWS credentials have expired (${facts})`, `refresh them (\`aws sso login${profileFlag(site)}\` or re-assume the role) and retry`);
  }
  if (BAD_CREDENTIALS.has(name)) {
    return make('AWS_CREDENTIALS_INVALID', `AWS rejected the credentials for ${call} (${facts})`, 'check the access key, the profile and the system clock; `retailctl doctor` shows whose credentials are in use');
  }
  if (ACCESS_DENIED.has(name) || (status === 403 && !THROTTLING.has(name))) {
    const action = site.service && site.operation ? (IAM_ACTIONS[`${site.service}:${site.operation}`] ?? `${iamPrefix(site.service)}:${site.operation}`) : 'the needed permission';
    return make('AWS_ACCESS_DENIED', `${call} was denied (${facts})`, `grant ${action} to the caller (see docs/iam.md for each command's permissions); \`retailctl doctor\` shows who the caller is`);
  }
  if (THROTTLING.has(name) || status === 429 || (status === 503 && name === 'SlowDown')) {
    const attempts = raw.$metadata?.attempts ?? site.maxAttempts;
    return make('AWS_THROTTLED', `${call} was still throttled after ${attempts ?? 'several'} attempts (${facts})`, 'retry in a few minutes, lower --concurrency, or raise AWS_MAX_ATTEMPTS');
  }
  if (NETWORK_CODES.has(raw.code ?? '') || NETWORK_CODES.has(name) || name === 'TimeoutError' || /connect econnrefused|getaddrinfo|socket hang up/i.test(lower)) {
    return make('AWS_UNREACHABLE', `cannot reach ${site.endpoint ?? `the ${site.service ?? 'AWS'} endpoint`} for ${call}: ${raw.code ?? name}${message ? ` ${message}` : ''}`,
      'check the network, proxy settings and --endpoint-url / AWS_ENDPOINT_URL');
  }
  return make('AWS_ERROR', `${call} failed: ${message || name} (${facts})`, status && status >= 500 ? 'AWS reported a server error: retry; the request id helps AWS support' : undefined);
}

/** IAM action prefix for an SDK service id (the `clientName` minus `Client`). */
function iamPrefix(service: string): string {
  const map: Record<string, string> = {
    S3: 's3', STS: 'sts', 'Route 53': 'route53', Route53: 'route53', CloudFront: 'cloudfront',
    'Application Auto Scaling': 'application-autoscaling', ApplicationAutoScaling: 'application-autoscaling',
    Lambda: 'lambda', ECS: 'ecs', DynamoDB: 'dynamodb', EventBridge: 'events', SQS: 'sqs',
  };
  return map[service] ?? service.toLowerCase().replace(/\s+/g, '');
}
