import type { AwsClients } from './context.js';

export interface S3Target {
  url: URL;
  pathStyle: boolean;
  region: string;
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  userAgent: string;
}

/**
 * Where S3 requests of this run go and with which credentials, taken from the run's one AWS
 * context (the same region, profile chain and endpoint the SDK clients use): for code that signs
 * its own requests (the image uploader's hot path).
 */
export async function s3Target(clients: AwsClients): Promise<S3Target> {
  const s = clients.settings;
  const region = await clients.region();
  const custom = s.endpointUrl ?? s.env.AWS_ENDPOINT_URL_S3 ?? s.env.AWS_ENDPOINT_URL;
  const url = new URL(custom ?? (region.startsWith('cn-') ? `https://s3.${region}.amazonaws.com.cn` : `https://s3.${region}.amazonaws.com`));
  return { url, pathStyle: Boolean(custom), region, credentials: await clients.credentialProvider(), userAgent: s.userAgent };
}
