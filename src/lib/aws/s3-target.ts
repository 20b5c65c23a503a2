import { ExitCode, RetailctlError } from '../errors.js';
import type { AwsClients } from './context.js';

/**
 * Where S3 requests of this run go and with which credentials, taken from the run's one AWS
 * context (the same region, profile chain and endpoint the SDK clients use): for code that signs
 * its own requests (the image uploader's hot path).
 */
export async function s3Target(clients: AwsClients): Promise<{ url: URL; pathStyle: boolean; region: string; credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> }> {
  const s = clients.settings;
  const client = await clients.client('s3');
  let region: string;
  try {
    region = await client.config.region();
  } catch {
    throw new RetailctlError('AWS_REGION_MISSING', 'no AWS region: pass --region, set AWS_REGION, or set one in the profile', { exitCode: ExitCode.Usage });
  }
  const custom = s.endpointUrl ?? s.env.AWS_ENDPOINT_URL_S3 ?? s.env.AWS_ENDPOINT_URL;
  const url = new URL(custom ?? (region.startsWith('cn-') ? `https://s3.${region}.amazonaws.com.cn` : `https://s3.${region}.amazonaws.com`));
  const provider = client.config.credentials;
  return {
    url,
    pathStyle: Boolean(custom),
    region,
    credentials: async () => {
      try {
        return await provider();
      } catch (err) {
        const { translateAwsError } = await import('./translate-error.js');
        throw translateAwsError(err, { profile: s.profile, endpoint: s.endpointUrl, maxAttempts: s.maxAttempts, service: 'S3', operation: 'PutObject' });
      }
    },
  };
}
