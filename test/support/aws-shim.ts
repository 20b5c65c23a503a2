/**
 * A loopback proxy in front of moto that fills in, honestly and in the documented AWS wire format,
 * what moto lacks, and injects faults that moto cannot produce:
 *
 * - Lambda provisioned concurrency (Put/Get/Delete/ListProvisionedConcurrencyConfig[s]):
 *   status IN_PROGRESS, then READY after `pcReadyAfterMs`; the function/alias must exist in moto;
 *   `$LATEST` is refused; the account must keep 100 unreserved concurrency (AWS's rule).
 * - Lambda GetAccountSettings: limit (default 1000) minus reserved concurrency (tracked from
 *   PutFunctionConcurrency calls forwarded to moto).
 * - Application Auto Scaling acting on its targets, which moto does not do: after a successful
 *   RegisterScalableTarget the shim brings the capacity inside the new [min, max] the way AAS does
 *   (Lambda provisioned concurrency here; ECS desired count and DynamoDB capacity through moto).
 *   A Lambda target whose alias does not exist is refused (moto accepts it), and so is one that would
 *   leave the account less than 100 unreserved concurrency (AWS records a failed scaling activity
 *   instead; the shim refuses the call so that the failure is visible).
 * - Application Auto Scaling PutScheduledAction checked as AWS documents it (moto accepts anything):
 *   the scalable target must be registered (ObjectNotFoundException); the schedule must be
 *   `at(yyyy-mm-ddThh:mm:ss)`, `cron(...)` or `rate(...)`; a Timezone must be an IANA name spelt as the
 *   database spells it (`america/new_york` or `utc` is refused) (ValidationException).
 * - Route 53 compare-and-set, which moto does not enforce: a DELETE in ChangeResourceRecordSets must
 *   match the current record exactly, or the whole batch is refused with InvalidChangeBatch; and
 *   UpdateHealthCheck with a stale HealthCheckVersion is refused with HealthCheckVersionMismatch
 *   (the shim keeps the version count moto does not, and reports it in health-check responses,
 *   ListHealthChecks included).
 *   Changes to one zone, and to one health check, are checked and applied one at a time, as Route 53
 *   does, so two concurrent compare-and-set writes cannot both pass.
 * - SQS FIFO ids as AWS checks them (moto accepts any): a MessageGroupId or MessageDeduplicationId in
 *   SendMessage / SendMessageBatch must be 1–128 ASCII letters, digits and punctuation, else the
 *   call is refused with InvalidParameterValue (400, JSON protocol).
 * - Athena StartQueryExecution / GetQueryExecution / StopQueryExecution (test/support/athena-shim.ts):
 *   moto never runs a query; the shim runs it on DuckDB over the S3 objects the referenced Glue tables
 *   (in moto) point at, writes the result CSV to the output location in moto's S3, and reports
 *   QUEUED, RUNNING, then SUCCEEDED / FAILED / CANCELLED as Athena does (`athena` in the config:
 *   queuedMs, runningMs, fail; GET /__shim/athena lists the queries and which were stopped).
 * - DynamoDB warm throughput (test/support/dynamodb-warm-shim.ts): values only increase (a lower one
 *   is a ValidationException), status UPDATING for `dynamodbWarm.updatingMs`, then ACTIVE.
 * - Fault injection: POST /__shim/faults with a rule; matching requests get the given response
 *   (an AWS error shape, a 503 SlowDown, a delay) instead of reaching moto.
 * - S3 CopyObject's x-amz-copy-source-if-match, which moto ignores: 412 PreconditionFailed when the
 *   source's ETag is another, as S3 answers.
 * - Route 53 TestDNSAnswer (test/support/route53-dns-shim.ts): moto lacks it; the shim answers from
 *   the zone's record sets as Route 53 would (weighted: by weight, in a fixed rotation;
 *   failover: PRIMARY unless its check is inverted; alias: the target's DNS name).
 * - S3 Batch Operations (test/support/s3-batch-shim.ts): moto's S3 Control has no jobs; the shim
 *   takes CreateJob / DescribeJob / UpdateJobStatus / ListJobs as AWS documents them and runs the
 *   job in the background (S3PutObjectCopy, or LambdaInvoke of the shipped copy function), writing
 *   the completion report where AWS writes it (`s3Batch` in the config; GET /__shim/s3batch lists
 *   the jobs).
 * - A request log (GET /__shim/requests) so tests can prove a dry run made no write call, and which
 *   caller (access key id) sent what.
 *
 * Everything else is forwarded to moto unchanged. Test support only: never part of retailctl.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { ATHENA_OPERATIONS, createAthenaShim, type AthenaShimConfig } from './athena-shim.js';
import { createDynamoDbWarmShim, DYNAMODB_WARM_OPERATIONS, type DynamoDbWarmConfig } from './dynamodb-warm-shim.js';
import { isTestDnsAnswer, testDnsAnswer } from './route53-dns-shim.js';
import { createS3BatchShim, S3_BATCH_PATH, type S3BatchShimConfig } from './s3-batch-shim.js';

export interface FaultRule {
  /** AWS service from the SigV4 credential scope, e.g. `s3`, `route53`, `sts`, `lambda`. */
  service?: string;
  method?: string;
  /** Regular expression tested against the path and query. */
  path?: string;
  /** Operation: matched against the X-Amz-Target suffix or the query-protocol `Action`. */
  operation?: string;
  /** How many matching requests to fail (default 1; 0 = every one). */
  times?: number;
  /** Apply to every n-th matching request only (a share of the traffic: 3 = one in three). */
  every?: number;
  /** Drop the connection (after reading the request) instead of answering: a network failure. */
  reset?: boolean;
  /** Pass the request on (it is applied), then drop the connection instead of answering: a lost answer. */
  loseAnswer?: boolean;
  /** Wait this long before answering (or before forwarding, when `forward` is set). */
  delayMs?: number;
  /** Forward to moto after the delay instead of answering with `status`. */
  forward?: boolean;
  /**
   * The delay is the request in transit (with `forward`): a client that gives up (closes the
   * connection) before it ends never had its request reach AWS, so it is not applied.
   */
  inTransit?: boolean;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface ShimConfig {
  /** Account concurrency limit reported by GetAccountSettings (AWS default 1000). */
  accountConcurrency: number;
  /** How long provisioned concurrency stays IN_PROGRESS before READY. */
  pcReadyAfterMs: number;
  /** `function:qualifier` whose provisioned concurrency never becomes READY. */
  pcStuck: string[];
  /**
   * Partial batch failures as AWS reports them: for this many PutEvents / SendMessageBatch calls,
   * the first entry is not delivered and is reported failed (the rest reach moto).
   */
  failFirstEntry: { PutEvents?: number; SendMessageBatch?: number };
  /** Athena query timing and injected failure (athena-shim.ts); merged field by field by /__shim/config. */
  athena: AthenaShimConfig;
  /** DynamoDB warm throughput timing (dynamodb-warm-shim.ts). */
  dynamodbWarm?: DynamoDbWarmConfig;
  /** S3 Batch Operations pacing and injected task failures (s3-batch-shim.ts). */
  s3Batch?: S3BatchShimConfig;
}

export interface LoggedRequest {
  method: string;
  path: string;
  service?: string;
  operation?: string;
  userAgent?: string;
  /** The access key id of the SigV4 credential: tells two callers apart. */
  accessKeyId?: string;
  /** S3: the Range header of a GET, and the x-amz-copy-source of a CopyObject. */
  range?: string;
  copySource?: string;
}

interface PcConfig {
  functionName: string;
  qualifier: string;
  functionArn: string;
  requested: number;
  lastModified: string;
  readyAt: number;
}

const DEFAULT_CONFIG: ShimConfig = { accountConcurrency: 1000, pcReadyAfterMs: 1000, pcStuck: [], failFirstEntry: {}, athena: {} };
const MIN_UNRESERVED = 100;
const PC_PATH = /^\/2019-09-30\/functions\/([^/]+)\/provisioned-concurrency$/;
/** SQS FIFO MessageGroupId / MessageDeduplicationId: 1–128 ASCII letters, digits and punctuation. */
const SQS_FIFO_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;
const RRSET_PATH = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/;
const HEALTHCHECK_PATH = /^\/2013-04-01\/healthcheck\/([^/]+)\/?$/;
const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name, jpath) => name === 'Change' || name === 'ResourceRecord' || String(jpath).endsWith('ResourceRecordSets.ResourceRecordSet'),
});
const ROUTE53_AUTH = 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0';

type XmlRecord = Record<string, unknown>;

/** A record set reduced to what Route 53 compares when it matches a DELETE. */
function canonicalRecord(r: XmlRecord): string {
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const dns = (v: unknown) => str(v)?.toLowerCase().replace(/\.$/, '');
  const records = (r.ResourceRecords as { ResourceRecord?: { Value: unknown }[] } | undefined)?.ResourceRecord ?? [];
  const alias = r.AliasTarget as XmlRecord | undefined;
  return JSON.stringify({
    name: dns(r.Name),
    type: str(r.Type),
    setIdentifier: str(r.SetIdentifier),
    weight: str(r.Weight),
    region: str(r.Region),
    failover: str(r.Failover),
    // alias records have no TTL (moto lists them with TTL 0)
    ttl: alias ? undefined : str(r.TTL),
    values: records.map((x) => String(x.Value)).sort(),
    alias: alias ? { zone: str(alias.HostedZoneId), dns: dns(alias.DNSName), evaluate: str(alias.EvaluateTargetHealth) } : undefined,
    healthCheckId: str(r.HealthCheckId),
  });
}

function describeRecord(r: XmlRecord): string {
  return `[name='${String(r.Name).replace(/\.?$/, '.')}', type='${String(r.Type)}'${r.SetIdentifier !== undefined ? `, set-identifier='${String(r.SetIdentifier)}'` : ''}]`;
}
const RESERVED_PATH = /^\/2017-10-31\/functions\/([^/]+)\/concurrency$/;

export interface AwsShim {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

function functionNameOf(raw: string): string {
  const decoded = decodeURIComponent(raw);
  const m = /function:([^:]+)/.exec(decoded);
  return m ? m[1]! : decoded;
}

function accessKeyOf(req: http.IncomingMessage): string | undefined {
  return /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
}

function serviceOf(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  const m = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return m?.[1];
}

function operationOf(req: http.IncomingMessage, url: URL, body: Buffer): string | undefined {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop();
  const fromQuery = url.searchParams.get('Action');
  if (fromQuery) return fromQuery;
  if (String(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded')) {
    return new URLSearchParams(body.toString()).get('Action') ?? undefined;
  }
  return undefined;
}

/**
 * A time zone name as AWS accepts it (IANA names, case-sensitive): Intl's canonical names, UTC, or a
 * name Intl resolves to itself. Intl alone accepts any case, which AWS does not.
 */
function isSpeltZone(tz: string): boolean {
  if (tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT' || Intl.supportedValuesOf('timeZone').includes(tz)) return true;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone === tz;
  } catch {
    return false;
  }
}

/** Start the shim on 127.0.0.1 in front of `upstream` (moto's endpoint). */
export async function startAwsShim(upstream: string, options: { port?: number } = {}): Promise<AwsShim> {
  const upstreamUrl = new URL(upstream);
  let config: ShimConfig = { ...DEFAULT_CONFIG };
  let faults: (FaultRule & { used: number; seen: number })[] = [];
  let requests: LoggedRequest[] = [];
  const pc = new Map<string, PcConfig>();
  const reserved = new Map<string, number>();
  const healthCheckVersions = new Map<string, number>();
  const tableLocks = new Map<string, Promise<void>>();
  const agent = new http.Agent({ keepAlive: true });
  const athena = createAthenaShim(upstream, () => config.athena);
  const dynamodbWarm = createDynamoDbWarmShim(upstream, () => config.dynamodbWarm);
  let selfUrl = '';
  const s3Batch = createS3BatchShim(() => selfUrl, () => config.s3Batch ?? {});

  function forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = http.request(
        { host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) }, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  /** Ask moto whether a function (at a qualifier) exists. */
  async function functionExists(name: string, qualifier: string): Promise<string | undefined> {
    // moto routes by the SigV4 credential scope; it does not verify the signature
    const res = await fetch(`${upstream}/2015-03-31/functions/${encodeURIComponent(name)}?Qualifier=${encodeURIComponent(qualifier)}`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0' },
    });
    if (res.status !== 200) return undefined;
    const doc = (await res.json()) as { Configuration?: { FunctionArn?: string } };
    const arn = doc.Configuration?.FunctionArn ?? `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
    return arn.endsWith(`:${qualifier}`) ? arn : `${arn}:${qualifier}`;
  }

  function totalReserved(): number {
    let sum = 0;
    for (const v of reserved.values()) sum += v;
    return sum;
  }

  function totalProvisioned(exceptKey?: string): number {
    let sum = 0;
    for (const [key, v] of pc) if (key !== exceptKey) sum += v.requested;
    return sum;
  }

  function pcView(c: PcConfig, withArn: boolean): Record<string, unknown> {
    const ready = Date.now() >= c.readyAt && !config.pcStuck.includes(`${c.functionName}:${c.qualifier}`);
    const view: Record<string, unknown> = {
      AllocatedProvisionedConcurrentExecutions: ready ? c.requested : 0,
      AvailableProvisionedConcurrentExecutions: ready ? c.requested : 0,
      LastModified: c.lastModified,
      RequestedProvisionedConcurrentExecutions: c.requested,
      Status: ready ? 'READY' : 'IN_PROGRESS',
    };
    if (withArn) view.FunctionArn = c.functionArn;
    return view;
  }

  type Reply = { status: number; headers?: Record<string, string>; body?: string | Buffer; reset?: boolean };
  const json = (status: number, doc: unknown): Reply => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
  const lambdaError = (status: number, type: string, message: string): Reply => ({
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: 'User', message }),
  });

  async function provisionedConcurrency(method: string, name: string, url: URL, body: Buffer): Promise<Reply> {
    if (method === 'GET' && url.searchParams.get('List') === 'ALL') {
      const configs = [...pc.values()].filter((c) => c.functionName === name).map((c) => pcView(c, true));
      return json(200, { ProvisionedConcurrencyConfigs: configs });
    }
    const qualifier = url.searchParams.get('Qualifier');
    if (!qualifier) return lambdaError(400, 'InvalidParameterValueException', 'Qualifier is required');
    const key = `${name}:${qualifier}`;
    if (method === 'GET') {
      const c = pc.get(key);
      return c ? json(200, pcView(c, false)) : lambdaError(404, 'ProvisionedConcurrencyConfigNotFoundException', `No Provisioned Concurrency Config found for this function: ${key}`);
    }
    if (method === 'DELETE') {
      if (!(await functionExists(name, qualifier))) return lambdaError(404, 'ResourceNotFoundException', `Function not found: ${key}`);
      pc.delete(key);
      return { status: 204 };
    }
    if (method === 'PUT') {
      if (qualifier === '$LATEST') return lambdaError(400, 'InvalidParameterValueException', 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
      const arn = await functionExists(name, qualifier);
      if (!arn) return lambdaError(404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:us-east-1:123456789012:function:${key}`);
      const requested = Number((JSON.parse(body.toString() || '{}') as { ProvisionedConcurrentExecutions?: number }).ProvisionedConcurrentExecutions);
      if (!Number.isInteger(requested) || requested < 1) return lambdaError(400, 'InvalidParameterValueException', 'ProvisionedConcurrentExecutions must be a positive integer');
      const unreservedAfter = config.accountConcurrency - totalReserved() - totalProvisioned(key) - requested;
      if (unreservedAfter < MIN_UNRESERVED) {
        return lambdaError(400, 'InvalidParameterValueException', `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MIN_UNRESERVED}].`);
      }
      const c: PcConfig = { functionName: name, qualifier, functionArn: arn, requested, lastModified: new Date().toISOString().replace('Z', '+0000'), readyAt: Date.now() + config.pcReadyAfterMs };
      pc.set(key, c);
      return json(202, pcView(c, false));
    }
    return lambdaError(405, 'InvalidRequestException', `${method} not supported`);
  }

  async function handle(req: http.IncomingMessage, requestBody: Buffer): Promise<Reply> {
    let body = requestBody;
    const url = new URL(req.url ?? '/', 'http://shim');
    const method = req.method ?? 'GET';

    if (url.pathname.startsWith('/__shim/')) return control(method, url.pathname, body);
    if (url.pathname === '/moto-api/reset' && method === 'POST') {
      pc.clear();
      reserved.clear();
      healthCheckVersions.clear();
      athena.reset();
      dynamodbWarm.reset();
      s3Batch.reset();
      faults = [];
      requests = [];
      config = { ...DEFAULT_CONFIG };
    } else {
      const logged: LoggedRequest = { method, path: url.pathname + url.search, service: serviceOf(req), operation: operationOf(req, url, body), userAgent: String(req.headers['user-agent'] ?? ''), accessKeyId: accessKeyOf(req) };
      if (typeof req.headers.range === 'string') logged.range = req.headers.range;
      if (typeof req.headers['x-amz-copy-source'] === 'string') [logged.copySource, logged.operation] = [req.headers['x-amz-copy-source'], 'CopyObject'];
      requests.push(logged);
    }

    const rule = faults.find((f) => matches(f, req, url, body));
    if (rule) {
      rule.used += 1;
      // unref'd: a long delay (a hung endpoint) must not keep the test run alive once the shim is closed
      let gone = false;
      if (rule.inTransit) req.socket.once('close', () => (gone = true));
      if (rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs).unref());
      if (gone) return { status: 0, reset: true };
      if (rule.reset) return { status: 0, reset: true };
      if (rule.loseAnswer) {
        // the request reaches AWS and is applied; its answer never reaches the client
        await serve(req, url, method, body);
        return { status: 0, reset: true };
      }
      if (!rule.forward) return { status: rule.status ?? 500, headers: rule.headers ?? {}, body: rule.body ?? '' };
    }
    return serve(req, url, method, body);
  }

  /** What AWS (moto plus the rules the shim adds) answers to a request. */
  async function serve(req: http.IncomingMessage, url: URL, method: string, requestBody: Buffer): Promise<Reply> {
    const body = requestBody;
    // Route 53 applies one change to a zone (or a health check) at a time: check and apply are one
    // step, so two concurrent compare-and-set writes cannot both pass the check
    const rrsetMatch = RRSET_PATH.exec(url.pathname);
    if (rrsetMatch && method === 'POST') {
      return serialized(`zone:${rrsetMatch[1]}`, async () => {
        const checked = await checkChangeBatch(rrsetMatch[1]!, body);
        return checked.refusal ?? relay(req, checked.body!);
      });
    }
    if (isTestDnsAnswer(method, url)) return testDnsAnswer(upstream, url);
    if (S3_BATCH_PATH.test(url.pathname) && serviceOf(req) === 's3' && typeof req.headers['x-amz-account-id'] === 'string') return s3Batch.handle(method, url, req.headers['x-amz-account-id'], body);
    if (method === 'PUT' && typeof req.headers['x-amz-copy-source-if-match'] === 'string') {
      const refused = await copySourceChanged(req);
      if (refused) return refused;
    }
    const healthCheckMatch = HEALTHCHECK_PATH.exec(url.pathname);
    if (healthCheckMatch) return serialized(`healthcheck:${healthCheckMatch[1]}`, () => healthCheck(req, method, healthCheckMatch[1]!, body));
    if (method === 'GET' && url.pathname.replace(/\/$/, '') === '/2013-04-01/healthcheck') return listHealthChecks(req, body);

    const pcMatch = PC_PATH.exec(url.pathname);
    if (pcMatch) return provisionedConcurrency(method, functionNameOf(pcMatch[1]!), url, body);
    if (url.pathname.replace(/\/$/, '') === '/2016-08-19/account-settings' && method === 'GET') {
      const reservedSum = totalReserved();
      return json(200, {
        AccountLimit: {
          CodeSizeUnzipped: 262144000,
          CodeSizeZipped: 52428800,
          ConcurrentExecutions: config.accountConcurrency,
          TotalCodeSize: 80530636800,
          UnreservedConcurrentExecutions: config.accountConcurrency - reservedSum,
        },
        AccountUsage: { FunctionCount: 0, TotalCodeSize: 0 },
      });
    }

    const operation = operationOf(req, url, body);
    if (operation && ATHENA_OPERATIONS.has(operation) && serviceOf(req) === 'athena') return athena.handle(operation, body);
    if (operation && DYNAMODB_WARM_OPERATIONS.has(operation) && serviceOf(req) === 'dynamodb') {
      const reply = await dynamodbWarm.handle(operation, body, (b) => relay(req, b));
      if (reply) return reply;
    }
    if (operation === 'RegisterScalableTarget' && serviceOf(req) === 'application-autoscaling') return registerScalableTarget(req, body);
    if (operation === 'PutScheduledAction' && serviceOf(req) === 'application-autoscaling') {
      const refusal = await checkScheduledAction(body);
      if (refusal) return refusal;
    }
    if ((operation === 'SendMessage' || operation === 'SendMessageBatch') && serviceOf(req) === 'sqs') {
      const refusal = checkSqsMessageIds(operation, body);
      if (refusal) return refusal;
    }
    if ((operation === 'PutEvents' || operation === 'SendMessageBatch') && (config.failFirstEntry[operation] ?? 0) > 0) {
      config.failFirstEntry = { ...config.failFirstEntry, [operation]: config.failFirstEntry[operation]! - 1 };
      return failFirstEntry(req, operation, body);
    }

    const reply = await relay(req, body);
    const reservedMatch = RESERVED_PATH.exec(url.pathname);
    if (reservedMatch && reply.status < 300) {
      const name = functionNameOf(reservedMatch[1]!);
      if (method === 'PUT') reserved.set(name, Number((JSON.parse(body.toString()) as { ReservedConcurrentExecutions: number }).ReservedConcurrentExecutions));
      if (method === 'DELETE') reserved.delete(name);
    }
    return reply;
  }

  /** Pass a request to moto and its answer back. */
  /**
   * CopyObject's `x-amz-copy-source-if-match` (moto ignores it): 412 PreconditionFailed when the
   * source object's ETag is not the one given, as S3 answers.
   */
  async function copySourceChanged(req: http.IncomingMessage): Promise<Reply | undefined> {
    const source = decodeURIComponent(String(req.headers['x-amz-copy-source']).split('?')[0]!).replace(/^\/?/, '/');
    const head = await fetch(`${upstream}${source.split('/').map(encodeURIComponent).join('/')}`, { method: 'HEAD', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0' } });
    const wanted = String(req.headers['x-amz-copy-source-if-match']).replace(/"/g, '');
    if (head.ok && String(head.headers.get('etag') ?? '').replace(/"/g, '') === wanted) return undefined;
    return { status: 412, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>x-amz-copy-source-If-Match</Condition></Error>' };
  }

  async function relay(req: http.IncomingMessage, body: Buffer): Promise<Reply> {
    const res = await forward(req, body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.status, headers, body: res.body };
  }

  /** Run `work` for `key` only after every earlier work for the same key has finished. */
  const queues = new Map<string, Promise<unknown>>();
  function serialized(key: string, work: () => Promise<Reply>): Promise<Reply> {
    const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
    queues.set(key, next.catch(() => undefined));
    return next;
  }

  const route53Error = (status: number, code: string, message: string): Reply => ({
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `shim-${code}` },
    body: `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>shim-${code}</RequestId></ErrorResponse>`,
  });

  /**
   * Route 53's batch rules, which moto does not enforce: every DELETE must match the current record
   * exactly, and a CREATE must not collide with an existing record unless the batch deletes it first.
   * A valid batch is passed on with CREATE sent as UPSERT (same length, so the body size is unchanged):
   * moto refuses a CREATE identical to any earlier one in its journal even after the record was
   * deleted, which would break every failback. retailctl itself always sends CREATE.
   */
  async function checkChangeBatch(zoneId: string, body: Buffer): Promise<{ refusal?: Reply; body?: Buffer }> {
    const doc = xml.parse(body.toString()) as { ChangeResourceRecordSetsRequest?: { ChangeBatch?: { Changes?: { Change?: { Action: string; ResourceRecordSet: XmlRecord }[] } } } };
    const changes = doc.ChangeResourceRecordSetsRequest?.ChangeBatch?.Changes?.Change ?? [];
    const key = (r: XmlRecord) => `${String(r.Name).toLowerCase().replace(/\.$/, '')}|${String(r.Type)}|${String(r.SetIdentifier ?? '')}`;
    const current = new Map<string, XmlRecord[]>();
    const setsAt = async (r: XmlRecord): Promise<XmlRecord[]> => {
      const at = `${String(r.Name)}|${String(r.Type)}`;
      if (!current.has(at)) {
        const res = await fetch(`${upstream}/2013-04-01/hostedzone/${zoneId}/rrset?name=${encodeURIComponent(String(r.Name))}&type=${encodeURIComponent(String(r.Type))}&maxitems=300`, {
          headers: { authorization: ROUTE53_AUTH },
        });
        const listed = xml.parse(await res.text()) as { ListResourceRecordSetsResponse?: { ResourceRecordSets?: { ResourceRecordSet?: XmlRecord[] } } };
        current.set(at, listed.ListResourceRecordSetsResponse?.ResourceRecordSets?.ResourceRecordSet ?? []);
      }
      return current.get(at)!.filter((x) => key(x) === key(r));
    };
    const deleted = new Set<string>();
    for (const change of changes) {
      const wanted = change.ResourceRecordSet;
      if (change.Action === 'DELETE') {
        const [existing] = await setsAt(wanted);
        if (!existing || deleted.has(key(wanted))) return { refusal: route53Error(400, 'InvalidChangeBatch', `[Tried to delete resource record set ${describeRecord(wanted)} but it was not found]`) };
        if (canonicalRecord(existing) !== canonicalRecord(wanted)) {
          return { refusal: route53Error(400, 'InvalidChangeBatch', `[Tried to delete resource record set ${describeRecord(wanted)} but the values provided do not match the current values]`) };
        }
        deleted.add(key(wanted));
      } else if (change.Action === 'CREATE') {
        const [existing] = await setsAt(wanted);
        if (existing && !deleted.has(key(wanted))) return { refusal: route53Error(400, 'InvalidChangeBatch', `[Tried to create resource record set ${describeRecord(wanted)} but it already exists]`) };
        deleted.delete(key(wanted));
      }
    }
    return { body: Buffer.from(body.toString().replace(/<Action>CREATE<\/Action>/g, '<Action>UPSERT</Action>')) };
  }

  /** Keep a HealthCheckVersion per health check (moto always says 1) and refuse stale updates. */
  async function healthCheck(req: http.IncomingMessage, method: string, id: string, body: Buffer): Promise<Reply> {
    const current = healthCheckVersions.get(id) ?? 1;
    if (method === 'POST') {
      const doc = xml.parse(body.toString()) as { UpdateHealthCheckRequest?: { HealthCheckVersion?: string } };
      const expected = doc.UpdateHealthCheckRequest?.HealthCheckVersion;
      if (expected !== undefined && Number(expected) !== current) {
        return route53Error(409, 'HealthCheckVersionMismatch', `The value of HealthCheckVersion in the request (${expected}) doesn't match the value of HealthCheckVersion in the health check (${current}).`);
      }
    }
    const res = await forward(req, body);
    let version = current;
    if (method === 'POST' && res.status < 300) {
      version = current + 1;
      healthCheckVersions.set(id, version);
    }
    const text = res.body.toString().replace(/<HealthCheckVersion>\d+<\/HealthCheckVersion>/, `<HealthCheckVersion>${version}</HealthCheckVersion>`);
    return { status: res.status, headers: { 'content-type': String(res.headers['content-type'] ?? 'text/xml') }, body: text };
  }

  /** ListHealthChecks with each check's HealthCheckVersion as the shim counts it. */
  async function listHealthChecks(req: http.IncomingMessage, body: Buffer): Promise<Reply> {
    const res = await forward(req, body);
    const text = res.body.toString().replace(/<HealthCheck>([\s\S]*?)<\/HealthCheck>/g, (whole, inner: string) => {
      const id = /<Id>([^<]+)<\/Id>/.exec(inner)?.[1];
      return id ? whole.replace(/<HealthCheckVersion>\d+<\/HealthCheckVersion>/, `<HealthCheckVersion>${healthCheckVersions.get(id) ?? 1}</HealthCheckVersion>`) : whole;
    });
    return { status: res.status, headers: { 'content-type': String(res.headers['content-type'] ?? 'text/xml') }, body: text };
  }

  /** Call moto's JSON-protocol API for a service (used to act on ECS and DynamoDB as AAS would). */
  async function motoJson(service: string, target: string, payload: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${upstream}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': target,
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(payload),
    });
    return (await res.json()) as Record<string, unknown>;
  }

  /** PutScheduledAction's documented rules, which moto does not check: a registered target, a valid schedule, a real zone name. */
  async function checkScheduledAction(body: Buffer): Promise<Reply | undefined> {
    const input = JSON.parse(body.toString()) as { ServiceNamespace: string; ResourceId: string; ScalableDimension: string; Schedule?: string; Timezone?: string };
    const aasError = (type: string, message: string): Reply => ({ status: 400, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type }, body: JSON.stringify({ __type: type, Message: message }) });
    if (input.Schedule !== undefined && !/^(at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)|cron\(.+\)|rate\(.+\))$/.test(input.Schedule)) {
      return aasError('ValidationException', `Unsupported schedule format: ${input.Schedule}`);
    }
    if (input.Timezone !== undefined && !isSpeltZone(input.Timezone)) return aasError('ValidationException', `Invalid value for Timezone: ${input.Timezone}`);
    const described = await motoJson('application-autoscaling', 'AnyScaleFrontendService.DescribeScalableTargets', { ServiceNamespace: input.ServiceNamespace, ResourceIds: [input.ResourceId], ScalableDimension: input.ScalableDimension });
    if (!((described.ScalableTargets as unknown[] | undefined)?.length)) {
      return aasError('ObjectNotFoundException', `No scalable target registered for service namespace: ${input.ServiceNamespace}, resource ID: ${input.ResourceId}, scalable dimension: ${input.ScalableDimension}`);
    }
    return undefined;
  }

  /** RegisterScalableTarget, then move the capacity inside [min, max] as Application Auto Scaling does. */
  async function registerScalableTarget(req: http.IncomingMessage, body: Buffer): Promise<Reply> {
    const input = JSON.parse(body.toString()) as { ServiceNamespace: string; ResourceId: string; ScalableDimension: string; MinCapacity?: number; MaxCapacity?: number };
    const clamp = (value: number) => Math.min(input.MaxCapacity ?? Infinity, Math.max(input.MinCapacity ?? -Infinity, value));
    let lambdaTarget: { name: string; qualifier: string; arn: string } | undefined;
    if (input.ServiceNamespace === 'lambda') {
      const [, name, qualifier] = input.ResourceId.split(':') as [string, string, string];
      const arn = await functionExists(name, qualifier);
      if (!arn) return json(400, { __type: 'ValidationException', Message: `Unable to register scalable target: function ${name} with qualifier ${qualifier} does not exist` });
      lambdaTarget = { name, qualifier, arn };
      // the 100-unreserved rule holds on this path too (AWS fails the scaling activity; the shim refuses the call, which is easier to see)
      const key = `${name}:${qualifier}`;
      const current = pc.get(key)?.requested ?? 0;
      const next = clamp(current);
      if (next > current && config.accountConcurrency - totalReserved() - totalProvisioned(key) - next < MIN_UNRESERVED) {
        return {
          status: 400,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ValidationException' },
          body: JSON.stringify({ __type: 'ValidationException', Message: `Failed to set provisioned concurrency for ${key}: Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MIN_UNRESERVED}].` }),
        };
      }
    }
    const res = await forward(req, body);
    if (res.status < 300) {
      if (lambdaTarget) {
        const key = `${lambdaTarget.name}:${lambdaTarget.qualifier}`;
        const current = pc.get(key)?.requested ?? 0;
        const next = clamp(current);
        if (next === 0) pc.delete(key);
        else if (next !== current) pc.set(key, { functionName: lambdaTarget.name, qualifier: lambdaTarget.qualifier, functionArn: lambdaTarget.arn, requested: next, lastModified: new Date().toISOString().replace('Z', '+0000'), readyAt: Date.now() + config.pcReadyAfterMs });
      } else if (input.ServiceNamespace === 'ecs') {
        const [, cluster, service] = input.ResourceId.split('/') as [string, string, string];
        const described = await motoJson('ecs', 'AmazonEC2ContainerServiceV20141113.DescribeServices', { cluster, services: [service] });
        const current = ((described.services as { desiredCount?: number }[] | undefined)?.[0]?.desiredCount) ?? 0;
        if (clamp(current) !== current) await motoJson('ecs', 'AmazonEC2ContainerServiceV20141113.UpdateService', { cluster, service, desiredCount: clamp(current) });
      } else if (input.ServiceNamespace === 'dynamodb') {
        const table = input.ResourceId.replace(/^table\//, '').split('/')[0]!;
        // read and write capacity of one table are separate targets: update them one at a time
        const previous = tableLocks.get(table) ?? Promise.resolve();
        let release!: () => void;
        tableLocks.set(table, new Promise<void>((r) => (release = r)));
        await previous;
        try {
        const described = await motoJson('dynamodb', 'DynamoDB_20120810.DescribeTable', { TableName: table });
        const throughput = ((described.Table as { ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number } } | undefined)?.ProvisionedThroughput) ?? { ReadCapacityUnits: 1, WriteCapacityUnits: 1 };
        const read = input.ScalableDimension.endsWith('ReadCapacityUnits');
        const current = read ? throughput.ReadCapacityUnits : throughput.WriteCapacityUnits;
        if (clamp(current) !== current) {
          await motoJson('dynamodb', 'DynamoDB_20120810.UpdateTable', { TableName: table, ProvisionedThroughput: { ReadCapacityUnits: read ? clamp(current) : throughput.ReadCapacityUnits, WriteCapacityUnits: read ? throughput.WriteCapacityUnits : clamp(current) } });
        }
        } finally {
          release();
        }
      }
    }
    return { status: res.status, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/x-amz-json-1.1') }, body: res.body };
  }

  /**
   * SQS's rule for FIFO ids, which moto does not check: MessageGroupId and MessageDeduplicationId are
   * 1 to 128 characters from ASCII letters, digits and punctuation. AWS refuses the whole call
   * (SendMessageBatch too) with InvalidParameterValue, 400, in the JSON protocol the SDK speaks
   * (awsJson1_0, query-compatible: the query error code in x-amzn-query-error).
   */
  function checkSqsMessageIds(operation: 'SendMessage' | 'SendMessageBatch', body: Buffer): Reply | undefined {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString()) as Record<string, unknown>;
    } catch {
      return undefined; // not the JSON protocol: moto answers it
    }
    const messages = operation === 'SendMessage' ? [input] : ((input.Entries as Record<string, unknown>[] | undefined) ?? []);
    for (const m of messages) {
      for (const name of ['MessageGroupId', 'MessageDeduplicationId']) {
        const value = m[name];
        if (value === undefined || (typeof value === 'string' && SQS_FIFO_ID.test(value))) continue;
        return {
          status: 400,
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'com.amazonaws.sqs#InvalidParameterValue', 'x-amzn-query-error': 'InvalidParameterValue;Sender', 'x-amzn-requestid': 'shim-InvalidParameterValue' },
          body: JSON.stringify({
            __type: 'com.amazonaws.sqs#InvalidParameterValue',
            message: `Value ${String(value)} for parameter ${name} is invalid. Reason: ${name} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
          }),
        };
      }
    }
    return undefined;
  }

  /** Deliver all but the first entry of a batch, and report the first as failed, in the API's own shape. */
  async function failFirstEntry(req: http.IncomingMessage, operation: 'PutEvents' | 'SendMessageBatch', body: Buffer): Promise<Reply> {
    const input = JSON.parse(body.toString()) as { Entries: { Id?: string }[] };
    const [first, ...rest] = input.Entries;
    if (rest.length === 0) {
      const doc = operation === 'PutEvents'
        ? { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'injected by the test shim' }] }
        : { Successful: [], Failed: [{ Id: first!.Id, SenderFault: false, Code: 'InternalError', Message: 'injected by the test shim' }] };
      return json(200, doc);
    }
    const res = await forward(req, Buffer.from(JSON.stringify({ ...input, Entries: rest })));
    const out = JSON.parse(res.body.toString()) as Record<string, unknown>;
    if (operation === 'PutEvents') {
      out.Entries = [{ ErrorCode: 'InternalFailure', ErrorMessage: 'injected by the test shim' }, ...((out.Entries as unknown[]) ?? [])];
      out.FailedEntryCount = Number(out.FailedEntryCount ?? 0) + 1;
    } else {
      out.Failed = [...((out.Failed as unknown[]) ?? []), { Id: first!.Id, SenderFault: false, Code: 'InternalError', Message: 'injected by the test shim' }];
    }
    return { status: res.status, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/x-amz-json-1.1') }, body: JSON.stringify(out) };
  }

  function matches(rule: FaultRule & { used: number; seen: number }, req: http.IncomingMessage, url: URL, body: Buffer): boolean {
    if (rule.times !== 0 && rule.used >= (rule.times ?? 1)) return false;
    if (rule.method && rule.method.toUpperCase() !== req.method) return false;
    if (rule.service && rule.service !== serviceOf(req)) return false;
    if (rule.path && !new RegExp(rule.path).test(url.pathname + url.search)) return false;
    if (rule.operation && rule.operation !== operationOf(req, url, body)) return false;
    rule.seen += 1;
    if (rule.every && rule.seen % rule.every !== 0) return false;
    return true;
  }

  function control(method: string, pathname: string, body: Buffer): Reply {
    const doc = body.length ? (JSON.parse(body.toString()) as unknown) : undefined;
    if (pathname === '/__shim/faults' && method === 'POST') {
      faults.push({ ...(doc as FaultRule), used: 0, seen: 0 });
      return json(201, { faults: faults.length });
    }
    if (pathname === '/__shim/faults' && method === 'DELETE') {
      faults = [];
      return json(200, {});
    }
    if (pathname === '/__shim/faults' && method === 'GET') return json(200, { faults });
    if (pathname === '/__shim/config' && method === 'POST') {
      const update = doc as Partial<ShimConfig>;
      config = { ...config, ...update, athena: { ...config.athena, ...update.athena } };
      return json(200, config);
    }
    if (pathname === '/__shim/requests' && method === 'GET') return json(200, { requests });
    if (pathname === '/__shim/athena' && method === 'GET') return json(200, { queries: athena.queries() });
    if (pathname === '/__shim/s3batch' && method === 'GET') return json(200, { jobs: s3Batch.jobs() });
    const cancel = /^\/__shim\/s3batch\/([^/]+)\/cancel$/.exec(pathname);
    if (cancel && method === 'POST') return json(200, { cancelled: s3Batch.cancel(cancel[1]!) });
    if (pathname === '/__shim/requests' && method === 'DELETE') {
      requests = [];
      return json(200, {});
    }
    return json(404, { message: `unknown shim control ${method} ${pathname}` });
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks)).then(
        (reply) => {
          if (reply.reset) {
            req.socket.destroy();
            return;
          }
          res.writeHead(reply.status, reply.headers ?? {});
          res.end(reply.body ?? '');
        },
        (err: Error) => {
          res.writeHead(502, { 'content-type': 'application/json', 'x-amzn-errortype': 'ShimError' });
          res.end(JSON.stringify({ message: `aws-shim: ${err.message}` }));
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  selfUrl = `http://127.0.0.1:${port}`;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        athena.close();
        s3Batch.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
