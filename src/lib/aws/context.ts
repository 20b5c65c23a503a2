import { RetailctlError } from '../errors.js';
import type { RunSignals } from '../interrupt.js';
import { shown } from '../util/sanitize.js';
import type { LeanS3, LeanS3Options } from './lean-s3.js';
import { translateAwsError } from './translate-error.js';

/** What a caller chooses for a LeanS3 client; the endpoint, credentials, trace and guards come from the context. */
export type LeanS3Tuning = Omit<LeanS3Options, 'endpoint' | 'bucket' | 'credentials' | 'userAgent' | 'trace' | 'access' | 'signals' | 'site'>;

/**
 * Every SDK client retailctl uses, loaded on first use only: importing the SDK costs ~100-170 ms,
 * which `retailctl --help` must not pay.
 */
const loaders = {
  s3: async () => (await import('@aws-sdk/client-s3')).S3Client,
  s3control: async () => (await import('@aws-sdk/client-s3-control')).S3ControlClient,
  route53: async () => (await import('@aws-sdk/client-route-53')).Route53Client,
  cloudfront: async () => (await import('@aws-sdk/client-cloudfront')).CloudFrontClient,
  autoscaling: async () => (await import('@aws-sdk/client-application-auto-scaling')).ApplicationAutoScalingClient,
  lambda: async () => (await import('@aws-sdk/client-lambda')).LambdaClient,
  ecs: async () => (await import('@aws-sdk/client-ecs')).ECSClient,
  dynamodb: async () => (await import('@aws-sdk/client-dynamodb')).DynamoDBClient,
  cloudwatch: async () => (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient,
  eventbridge: async () => (await import('@aws-sdk/client-eventbridge')).EventBridgeClient,
  sqs: async () => (await import('@aws-sdk/client-sqs')).SQSClient,
  sts: async () => (await import('@aws-sdk/client-sts')).STSClient,
  athena: async () => (await import('@aws-sdk/client-athena')).AthenaClient,
  glue: async () => (await import('@aws-sdk/client-glue')).GlueClient,
};

export type ServiceName = keyof typeof loaders;
export type ClientFor<S extends ServiceName> = InstanceType<Awaited<ReturnType<(typeof loaders)[S]>>>;

/** The one AWS configuration a run uses; built from global flags and the environment. */
export interface AwsSettings {
  /** `--region`, else AWS_REGION / AWS_DEFAULT_REGION; undefined lets the SDK read the profile's region. */
  region?: string;
  /** `--profile`, else AWS_PROFILE; undefined = the SDK default chain. */
  profile?: string;
  /** `--endpoint-url`: overrides every service. Without it the SDK honours AWS_ENDPOINT_URL(_<SERVICE>) itself. */
  endpointUrl?: string;
  /** Total attempts per call with adaptive retry (AWS_MAX_ATTEMPTS, default 5). */
  maxAttempts: number;
  /** `retailctl/<version>`, appended to the SDK user agent. */
  userAgent: string;
  /** Process environment, for endpoint overrides (tests pass their own). */
  env: NodeJS.ProcessEnv;
  /** One line per AWS call (service, operation, outcome, time, request id): -vv. */
  trace?: (message: string) => void;
  /** The SDK's own logger (inputs/outputs with sensitive fields filtered by the SDK): -vvv. */
  debug?: (message: string) => void;
  /**
   * Ctrl-C/SIGTERM handling for writes (see RunSignals): once `stop` is aborted no write call
   * starts (side-write clients excepted), and a write already sent is given `kill` as its abort
   * signal instead of the caller's, so the first signal lets it answer.
   */
  signals?: RunSignals;
}

/** Read-only verbs: the only operations a read-only client lets through. */
const READ_ONLY_OPERATION = /^(Get|List|Describe|Head|Select|Test)[A-Z]/;

/** `side`: writes that record what happened (audit, lock release) and may still start after the first signal. */
export type Access = 'read' | 'write' | 'side';

type CredentialProvider = () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
const providers = new WeakMap<AwsSettings, Promise<CredentialProvider>>();

/** Lazily built SDK clients for one access level. */
export class AwsClients {
  readonly #cache = new Map<string, Promise<unknown>>();
  constructor(
    readonly settings: AwsSettings,
    readonly access: Access,
  ) {}

  /**
   * The client for `service`, built once per run. `region` overrides the run's region for services
   * that live in one region only (Route 53 health-check metrics are in us-east-1).
   */
  client<S extends ServiceName>(service: S, options: { region?: string } = {}): Promise<ClientFor<S>> {
    const key = `${service}@${options.region ?? ''}`;
    let pending = this.#cache.get(key);
    if (!pending) {
      pending = loaders[service]().then((Ctor) => this.#build(service, Ctor as never, options.region));
      this.#cache.set(key, pending);
    }
    return pending as Promise<ClientFor<S>>;
  }

  #build(service: ServiceName, Ctor: new (config: Record<string, unknown>) => MiddlewareClient, region?: string): MiddlewareClient {
    const s = this.settings;
    const config: Record<string, unknown> = {
      maxAttempts: s.maxAttempts,
      retryMode: 'adaptive',
      customUserAgent: s.userAgent,
    };
    if (region ?? s.region) config.region = region ?? s.region;
    if (s.profile) config.profile = s.profile;
    if (s.endpointUrl) config.endpoint = s.endpointUrl;
    if (service === 's3' && endpointOverridden(s, 'S3')) config.forcePathStyle = true;
    // S3 Control puts the account id in front of the host (<account>.s3-control.<region>…): an
    // overridden endpoint (an emulator, a VPC endpoint URL) is used as given instead
    const control = service === 's3control' ? overriddenEndpoint(s, 'S3_CONTROL') : undefined;
    if (control) config.endpointProvider = () => ({ url: new URL(control) });
    if (s.debug) {
      const debug = s.debug;
      const log = (...a: unknown[]) => debug(a.map((x) => (typeof x === 'string' ? x : safeJson(x))).join(' '));
      config.logger = { trace: () => {}, debug: log, info: log, warn: log, error: log };
    }
    const client = new Ctor(config);
    const site = { profile: s.profile, endpoint: s.endpointUrl, maxAttempts: s.maxAttempts };
    const access = this.access;
    const trace = s.trace;
    if (access !== 'read' && s.signals) guardWrites(client, Ctor.name.replace(/Client$/, ''), s.signals, access === 'side');
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = String(context.clientName ?? '').replace(/Client$/, '');
        const operation = String(context.commandName ?? '').replace(/Command$/, '');
        if (access === 'read' && !READ_ONLY_OPERATION.test(operation)) {
          throw new RetailctlError('READ_ONLY_VIOLATION', `internal error: ${service} ${operation} is a write and this client is read-only (dry run or planning)`, {
            hint: 'please report this: a dry run must never write',
          });
        }
        const started = Date.now();
        try {
          const result = (await next(args)) as { output?: { $metadata?: { requestId?: string; attempts?: number } } };
          const meta = result.output?.$metadata;
          trace?.(`aws: ${service} ${operation} ok in ${Date.now() - started} ms${meta?.attempts && meta.attempts > 1 ? ` after ${meta.attempts} attempts` : ''}${meta?.requestId ? ` (request id ${meta.requestId})` : ''}`);
          return result;
        } catch (err) {
          const translated = translateAwsError(err, { ...site, service, operation });
          trace?.(`aws: ${service} ${operation} failed in ${Date.now() - started} ms: ${translated.aws?.name ?? translated.code}`);
          throw (await unknownProfile(s, translated)) ?? translated;
        }
      },
      { step: 'initialize', priority: 'high', name: 'retailctlBoundary' },
    );
    return client;
  }

  /**
   * The credentials every client of this run uses (the SDK's default chain for the run's profile),
   * for code that signs its own requests; memoised and refreshed by the SDK. Loading it costs
   * ~35 ms instead of the ~125 ms of a whole S3 client.
   */
  credentialProvider(): Promise<CredentialProvider> {
    // one provider per run, shared by the read and the write side (an assume-role profile is assumed once)
    let pending = providers.get(this.settings);
    if (pending) return pending;
    pending = import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) => {
      const provider = defaultProvider(this.settings.profile ? { profile: this.settings.profile } : {});
      return async () => {
        try {
          return await provider();
        } catch (err) {
          const s = this.settings;
          const translated = translateAwsError(err, { profile: s.profile, endpoint: s.endpointUrl, maxAttempts: s.maxAttempts, service: 'S3', operation: 'credentials' });
          throw (await unknownProfile(s, translated)) ?? translated;
        }
      };
    });
    providers.set(this.settings, pending);
    return pending;
  }

  /**
   * The lean S3 client (src/lib/aws/lean-s3.ts) for one bucket, on this access level: the run's
   * region, endpoint, credentials and user agent, the same read-only and write guards as the SDK
   * clients, the same `-vv` trace line and the same error translation. Not cached: each caller
   * owns its connection pool and closes it.
   */
  async leanS3(bucket: string, tuning: LeanS3Tuning): Promise<LeanS3> {
    const { LeanS3, s3Endpoint } = await import('./lean-s3.js');
    const s = this.settings;
    const endpoint = s3Endpoint(s, await this.region());
    const credentials = await this.credentialProvider();
    const site = { profile: s.profile, endpoint: s.endpointUrl, maxAttempts: s.maxAttempts };
    return new LeanS3({ endpoint, bucket, credentials, userAgent: s.userAgent, access: this.access, site, ...(s.trace ? { trace: s.trace } : {}), ...(s.signals ? { signals: s.signals } : {}), ...tuning });
  }

  /** The run's region: --region / AWS_REGION / AWS_DEFAULT_REGION, else the profile's (through an SDK client). */
  async region(): Promise<string> {
    const s = this.settings;
    const quick = s.region ?? s.env.AWS_REGION ?? s.env.AWS_DEFAULT_REGION;
    if (quick) return quick;
    try {
      return await (await this.client('s3')).config.region();
    } catch {
      const missing = new RetailctlError('AWS_REGION_MISSING', 'no AWS region: pass --region, set AWS_REGION, or set one in the profile', { exitCode: 2 });
      throw (await unknownProfile(s, missing)) ?? missing;
    }
  }

  /** Close every client built so far (releases keep-alive sockets). */
  async destroy(): Promise<void> {
    for (const pending of this.#cache.values()) {
      try {
        ((await pending) as MiddlewareClient).destroy();
      } catch {
        // a client that failed to build has nothing to release
      }
    }
    this.#cache.clear();
  }
}

/**
 * Writes are never abandoned on the first signal: a write that has not started is refused once the
 * run is stopping (unless it is a side write), and one that has started runs on the `kill` signal,
 * not the caller's. The SDK's command class names are its operation names.
 */
function guardWrites(client: MiddlewareClient, service: string, signals: RunSignals, side: boolean): void {
  const send = client.send.bind(client);
  client.send = (command: { constructor: { name: string } }, options?: { abortSignal?: AbortSignal }) => {
    const operation = command.constructor.name.replace(/Command$/, '');
    if (READ_ONLY_OPERATION.test(operation)) return send(command, options);
    const label = `${service} ${operation}`;
    if (!side && signals.stop.aborted) return Promise.reject(signals.notSent(label));
    if (signals.kill.aborted) return Promise.reject(signals.outcomeUnknown(label));
    const done = signals.begin(label);
    // a caller's own signal (a request's deadline) still applies; the run's stop signal (the first
    // Ctrl-C), which callers also pass for reads, never abandons a write that was sent
    const own = options?.abortSignal && options.abortSignal !== signals.stop ? options.abortSignal : undefined;
    return send(command, { ...options, abortSignal: own ? AbortSignal.any([own, signals.kill]) : signals.kill }).then(
      (result) => {
        done();
        return result;
      },
      (err: unknown) => {
        done();
        if (signals.kill.aborted) throw signals.outcomeUnknown(label);
        if (sentButUnanswered(err)) throw signals.sentUnanswered(label, err);
        throw err;
      },
    );
  };
}

/** Connection failures that happen before a request is sent: the write was certainly not applied. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A network failure after the request may have reached AWS (reset, timeout): its outcome is unknown. */
function sentButUnanswered(err: unknown): err is RetailctlError {
  if (!(err instanceof RetailctlError) || err.code !== 'AWS_UNREACHABLE') return false;
  const code = (err.cause as { code?: string } | undefined)?.code;
  return !NEVER_SENT.has(code ?? '') && !NEVER_SENT.has(err.aws?.name ?? '');
}

interface MiddlewareClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  middlewareStack: {
    add(
      mw: (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; priority: 'high'; name: string },
    ): void;
  };
  destroy(): void;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** True when requests for `serviceEnvId` (e.g. `S3`) go somewhere other than AWS's own endpoints. */
/** The endpoint URL given for a service (--endpoint-url, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL), if any. */
function overriddenEndpoint(settings: Pick<AwsSettings, 'endpointUrl' | 'env'>, serviceEnvId: string): string | undefined {
  return settings.endpointUrl || settings.env[`AWS_ENDPOINT_URL_${serviceEnvId}`] || settings.env.AWS_ENDPOINT_URL || undefined;
}

export function endpointOverridden(settings: Pick<AwsSettings, 'endpointUrl' | 'env'>, serviceEnvId: string): boolean {
  return Boolean(overriddenEndpoint(settings, serviceEnvId));
}

/**
 * One AWS context per run. `read` clients refuse every non-read operation, so planning and
 * `--dry-run` cannot write; `write()` hands out writing clients only when the run may write.
 */
export class AwsContext {
  readonly read: AwsClients;
  readonly #write: AwsClients;
  readonly #side: AwsClients;
  constructor(
    readonly settings: AwsSettings,
    readonly dryRun: boolean,
  ) {
    this.read = new AwsClients(settings, 'read');
    this.#write = new AwsClients(settings, 'write');
    this.#side = new AwsClients(settings, 'side');
  }

  /**
   * Writing clients. Throws in a dry run: an executor must never be reached then.
   * `side: true`: for writes that record what happened (audit copy, lock release), which must still
   * be made after the first Ctrl-C; every other write is refused once the run is stopping.
   */
  write(options: { side?: boolean } = {}): AwsClients {
    if (this.dryRun) {
      throw new RetailctlError('READ_ONLY_VIOLATION', 'internal error: write access requested during --dry-run', {
        hint: 'please report this: a dry run must never write',
      });
    }
    return options.side ? this.#side : this.#write;
  }

  async destroy(): Promise<void> {
    await Promise.all([this.read.destroy(), this.#write.destroy(), this.#side.destroy()]);
  }
}

/**
 * "No credentials" for a profile that is in neither shared file is a typo in --profile or
 * AWS_PROFILE: a usage error (exit 2) naming the files and the profiles they have.
 */
async function unknownProfile(s: Pick<AwsSettings, 'profile' | 'env'>, translated: RetailctlError): Promise<RetailctlError | undefined> {
  if (!s.profile || (translated.code !== 'AWS_CREDENTIALS_MISSING' && translated.code !== 'AWS_REGION_MISSING')) return undefined;
  const { knownProfiles } = await import('./profiles.js');
  const known = await knownProfiles(s.env);
  if (known.names.has(s.profile)) return undefined;
  const list = [...known.names].sort();
  return new RetailctlError('AWS_PROFILE_UNKNOWN', `--profile ${shown(s.profile)}: no such profile in ${known.configFile} or ${known.credentialsFile}${list.length ? ` (they have ${list.map((n) => shown(n, 60)).join(', ')})` : ' (neither has any profile)'}`, {
    exitCode: 2,
    hint: 'check the name (also AWS_PROFILE), or add the profile with `aws configure --profile <name>` or `aws configure sso`',
    cause: translated,
  });
}
