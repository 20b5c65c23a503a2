/**
 * AWS profiles go through the SDK's default credential chain: an assume-role profile really
 * assumes the role (against the emulator's STS), and an SSO profile without a valid token gets
 * the specific "run aws sso login" message.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint } = useEmulator();
const EXAMPLE = path.join(ROOT, 'examples', 'retailctl.yaml');

async function homeWith(files: Record<string, string>): Promise<string> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'retailctl-home-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(home, name)), { recursive: true });
    await writeFile(path.join(home, name), text);
  }
  return home;
}

interface Report {
  ok: boolean;
  region: string;
  identity?: { arn: string };
  checks: { id: string; ok: boolean; detail: string; hint?: string }[];
}

describe('AWS profiles', () => {
  it('an assume-role profile assumes the role, and its region is used', async () => {
    const home = await homeWith({
      '.aws/credentials': '[base]\naws_access_key_id = AKIDBASEEXAMPLE\naws_secret_access_key = base-secret\n',
      '.aws/config': '[profile base]\nregion = eu-west-1\n[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/retailctl-deploy\nsource_profile = base\nregion = eu-west-1\n',
    });
    const res = await spawnCli(['doctor', '--json', '--config', EXAMPLE, '--profile', 'deploy'], { home, env: { AWS_ENDPOINT_URL: endpoint } });
    const report = JSON.parse(res.stdout) as Report;
    expect(res.code).toBe(0);
    expect(report.region).toBe('eu-west-1');
    expect(report.identity?.arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/retailctl-deploy\//);
    expect(res.stdout + res.stderr).not.toContain('base-secret');
  });

  it('AWS_PROFILE works like --profile', async () => {
    const home = await homeWith({ '.aws/credentials': '[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = ops-secret\n', '.aws/config': '[profile ops]\nregion = ap-southeast-2\n' });
    const res = await spawnCli(['doctor', '--json', '--config', EXAMPLE], { home, env: { AWS_ENDPOINT_URL: endpoint, AWS_PROFILE: 'ops' } });
    expect(res.code).toBe(0);
    expect((JSON.parse(res.stdout) as Report).region).toBe('ap-southeast-2');
  });

  it('an SSO profile with an expired token says to run aws sso login for that profile', async () => {
    const home = await homeWith({
      '.aws/config':
        '[profile shop-sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = StorefrontOps\nregion = us-east-1\n' +
        '[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n',
      [`.aws/sso/cache/${createHash('sha1').update('corp').digest('hex')}.json`]: JSON.stringify({ accessToken: 'expired', expiresAt: '2020-01-01T00:00:00Z', region: 'us-east-1', startUrl: 'https://corp.awsapps.com/start' }),
    });
    const res = await spawnCli(['doctor', '--json', '--config', EXAMPLE, '--profile', 'shop-sso'], { home, env: { AWS_ENDPOINT_URL: endpoint } });
    expect(res.code).toBe(1);
    const credentials = (JSON.parse(res.stdout) as Report).checks.find((c) => c.id === 'credentials');
    expect(credentials).toMatchObject({ ok: false, detail: expect.stringMatching(/^AWS SSO session expired or missing for profile shop-sso/), hint: 'run `aws sso login --profile shop-sso` and retry' });
  });

  it('service-specific AWS_ENDPOINT_URL_<SERVICE> is honoured', async () => {
    const res = await spawnCli(['doctor', '--json', '--config', EXAMPLE], {
      env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_STS: endpoint },
    });
    expect(res.code).toBe(0);
    expect((JSON.parse(res.stdout) as { endpoint: string }).endpoint).toBe(endpoint);
  });
});
