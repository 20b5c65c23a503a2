import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsErrors } from '../support/emulator.js';
import { ROOT } from '../support/moto.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { control, env } = useEmulator();
const EXAMPLE = path.join(ROOT, 'examples', 'retailctl.yaml');
const NO_STACK = /\n\s+at .+:\d+:\d+/;

describe('the built binary, run as CI runs it', () => {
  it('--help lists every command and exits 0 with nothing on stderr', async () => {
    const res = await spawnCli(['--help']);
    expect(res.code).toBe(0);
    for (const command of ['doctor', 'init', 'config', 'cdn', 'prescale', 'loadtest', 'inventory']) expect(res.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    expect(res.stderr).toBe('');
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const res = await spawnCli(['--version']);
    expect(res).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('doctor --json against the emulator: all required checks pass and it says whose credentials', async () => {
    const res = await spawnCli(['doctor', '--json', '--config', EXAMPLE], { env });
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { ok: boolean; identity: { account: string; arn: string }; checks: { id: string; ok: boolean }[]; region: string };
    expect(report.ok).toBe(true);
    expect(report.identity.account).toBe('123456789012');
    expect(report.region).toBe('us-east-1');
    expect(report.checks.map((c) => c.id)).toEqual(['node', 'config', 'region', 'endpoint', 'credentials', 'k6']);
    expect(report.checks.filter((c) => c.id !== 'k6').every((c) => c.ok)).toBe(true);
  });

  it('doctor exits 1 with a specific line when AWS denies the identity call', async () => {
    await control.fault({ service: 'sts', operation: 'GetCallerIdentity', ...awsErrors.query('AccessDenied', 'not authorized', 403) });
    const res = await spawnCli(['doctor', '--config', EXAMPLE], { env });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/✗ credentials\s+STS GetCallerIdentity was denied \(AccessDenied, HTTP 403, request id req-AccessDenied\)/);
    expect(res.stdout).toContain('grant sts:GetCallerIdentity');
  });

  it('doctor exits 1 and says how to fix missing credentials, without printing any secret', async () => {
    const res = await spawnCli(['doctor', '--config', EXAMPLE, '--region', 'us-east-1', '--endpoint-url', env.AWS_ENDPOINT_URL!], { env: { AWS_EC2_METADATA_DISABLED: 'true' } });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('✗ credentials  no AWS credentials found');
    expect(res.stdout).toContain('aws sso login');
    const secret = 'wJalrXUtnFEMI-not-to-be-printed';
    const verbose = await spawnCli(['doctor', '--json', '-vvv', '--config', EXAMPLE], { env: { ...env, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: 'token-not-to-be-printed' } });
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toContain('GetCallerIdentity'); // -vvv really logs the requests
    expect(verbose.stdout + verbose.stderr).not.toMatch(/wJalrXUtnFEMI|token-not-to-be-printed/);
  });

  it('a bad config: exit 2, one clear line naming file, line and path, no stack trace', async () => {
    const res = await spawnCli(['config', 'validate', '--config', 'test/fixtures/bad-config.yaml']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/Z error: test\/fixtures\/bad-config\.yaml:9:9: campaigns\.spring-sale\.targets\[1\]: expected a target with one of the keys `lambda`, `ecs` or `dynamodb`$/);
    expect(lines).toHaveLength(2); // the problem and the hint
    expect(res.stderr).not.toMatch(NO_STACK);
  });

  it('a bad config with --json: exit 2 and the error document on stdout', async () => {
    const res = await spawnCli(['config', 'validate', '--json'], { env: { RETAILCTL_CONFIG: 'test/fixtures/bad-config.yaml' } });
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID', message: expect.stringContaining('campaigns.spring-sale.targets[1]'), hint: expect.any(String) } });
  });

  it('a writing command without --yes exits 3, names the command to rerun, and changes nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-'));
    await writeFile(path.join(dir, 'retailctl.yaml'), 'images: { bucket: my-images }\n');
    const res = await spawnCli(['init'], { cwd: dir });
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('rerun with --yes: retailctl init --yes');
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toBe('images: { bucket: my-images }\n');
  });
});

describe('Ctrl-C', () => {
  it('SIGINT while an AWS call is in flight stops cleanly with exit 130', async () => {
    // hold GetCallerIdentity for 10 s so the signal arrives mid-call
    await control.fault({ service: 'sts', operation: 'GetCallerIdentity', delayMs: 10_000, forward: true });
    const started = Date.now();
    const res = await spawnCli(['doctor', '--config', EXAMPLE], { env, signalAfterMs: 1500 });
    expect(res.code).toBe(130);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(res.stderr).toContain('SIGINT: stopping; completed work is kept');
    expect(res.stderr).toMatch(/error: interrupted/);
    expect(res.stderr).not.toMatch(NO_STACK);
  });
});

describe('pipes', () => {
  it('`retailctl --help | true` ends quietly when the reader has gone away', async () => {
    const { execFile } = await import('node:child_process');
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'bin', 'retailctl.js'))} --help | true`], (err, stdout, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
    expect(res.stderr).toBe('');
  });
});

describe('inventory reconcile (built binary)', () => {
  it('reconciles the shipped example exports: exit 5 on oversell, every class counted', async () => {
    const res = await spawnCli(['inventory', 'reconcile', '--json', '--config', EXAMPLE]);
    expect(res.code).toBe(5);
    const doc = JSON.parse(res.stdout) as { failing: string[]; summary: { byClass: Record<string, number> } };
    expect(doc.failing).toEqual(['oversell']);
    expect(doc.summary.byClass).toEqual({ oversell: 1, negative: 1, 'unknown-sku': 1, undersell: 1, 'missing-in-channel': 1, ok: 6 });
  });
});
