import type { AthenaQueryView } from './athena-shim.js';
import type { BatchJobView } from './s3-batch-shim.js';
import { startAwsShim, type FaultRule, type LoggedRequest, type ShimConfig } from './aws-shim.js';
import { startMoto } from './moto.js';

/** Credentials and region the emulator accepts; never real ones. */
export const EMULATOR_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' } as const;

export interface Emulator {
  /** The endpoint to give retailctl (`--endpoint-url` / AWS_ENDPOINT_URL): the shim in front of moto. */
  endpoint: string;
  motoEndpoint: string;
  motoVersion: string;
  /** Environment that points the AWS SDK (and retailctl) at the emulator. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** moto server plus the loopback shim, both on 127.0.0.1. */
export async function startEmulator(options: { port?: number; log?: (line: string) => void } = {}): Promise<Emulator> {
  const moto = await startMoto({ log: options.log });
  let shim;
  try {
    shim = await startAwsShim(moto.endpoint, { port: options.port });
  } catch (err) {
    await moto.stop();
    throw err;
  }
  return {
    endpoint: shim.endpoint,
    motoEndpoint: moto.endpoint,
    motoVersion: moto.version,
    env: { ...EMULATOR_CREDENTIALS, AWS_ENDPOINT_URL: shim.endpoint },
    async stop() {
      await shim.close();
      await moto.stop();
    },
  };
}

/** Control a running emulator over HTTP (works from any test worker or process). */
export class EmulatorControl {
  constructor(readonly endpoint: string) {}

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.endpoint}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`emulator ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  }

  /** Forget every AWS resource, fault, logged request and shim setting. */
  reset(): Promise<unknown> {
    return this.#call('POST', '/moto-api/reset');
  }

  /** Make matching requests fail (or slow down) the way AWS would. */
  fault(rule: FaultRule): Promise<unknown> {
    return this.#call('POST', '/__shim/faults', rule);
  }

  clearFaults(): Promise<unknown> {
    return this.#call('DELETE', '/__shim/faults');
  }

  configure(config: Partial<ShimConfig>): Promise<unknown> {
    return this.#call('POST', '/__shim/config', config);
  }

  async requests(): Promise<LoggedRequest[]> {
    return ((await this.#call('GET', '/__shim/requests')) as { requests: LoggedRequest[] }).requests;
  }

  clearRequests(): Promise<unknown> {
    return this.#call('DELETE', '/__shim/requests');
  }

  /** The S3 Batch Operations jobs the shim has taken (and is running): request, status, progress, status updates. */
  async s3BatchJobs(): Promise<BatchJobView[]> {
    return ((await this.#call('GET', '/__shim/s3batch')) as { jobs: BatchJobView[] }).jobs;
  }

  /** Cancel a job as the console or `aws s3control update-job-status` would. */
  s3BatchCancel(id: string): Promise<unknown> {
    return this.#call('POST', `/__shim/s3batch/${id}/cancel`);
  }

  /** The Athena queries the shim has run (or is running), and which were stopped. */
  async athenaQueries(): Promise<AthenaQueryView[]> {
    return ((await this.#call('GET', '/__shim/athena')) as { queries: AthenaQueryView[] }).queries;
  }
}

/** The AWS error body shapes the SDK parses, for fault rules. */
export const awsErrors = {
  /** awsQuery protocol (STS, SQS query): XML ErrorResponse. */
  query(code: string, message: string, status = 400): Pick<FaultRule, 'status' | 'headers' | 'body'> {
    return {
      status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${code}` },
      body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-${code}</RequestId></ErrorResponse>`,
    };
  },
  /** JSON protocols (Application Auto Scaling, DynamoDB, ECS, Lambda). */
  json(code: string, message: string, status = 400): Pick<FaultRule, 'status' | 'headers' | 'body'> {
    return { status, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code, 'x-amzn-requestid': `req-${code}` }, body: JSON.stringify({ __type: code, message }) };
  },
  /** REST-XML (S3, Route 53, CloudFront). */
  restXml(code: string, message: string, status = 400): Pick<FaultRule, 'status' | 'headers' | 'body'> {
    return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': `req-${code}` }, body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>req-${code}</RequestId></Error>` };
  },
};
