import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../support/streams.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'retailctl-cli-'));
}

describe('exit codes and output routing', () => {
  it('--help and --version exit 0 and print on stdout only', async () => {
    const help = await runInProcess(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: retailctl');
    expect(help.stdout).toContain('doctor');
    expect(help.stderr).toBe('');
    const version = await runInProcess(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('every command has help with an example', async () => {
    const commands = [['doctor'], ['init'], ['config'], ['config', 'validate'], ['cdn'], ['cdn', 'status'], ['cdn', 'failover'], ['cdn', 'failback'], ['cdn', 'shift'], ['prescale'], ['prescale', 'status'], ['prescale', 'restore'], ['loadtest'], ['inventory'], ['inventory', 'reconcile']];
    for (const command of commands) {
      const help = await runInProcess([...command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Examples:\n\s+\$ retailctl /);
      expect(help.stdout).toContain('--dry-run'); // global options are listed too
      expect(help.stderr).toBe('');
    }
  });

  it('an unknown option is a usage error: exit 2, one line on stderr, nothing on stdout', async () => {
    const res = await runInProcess(['doctor', '--frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/error: unknown option '--frobnicate'/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('with --json a usage error is one JSON document on stdout', async () => {
    const res = await runInProcess(['doctor', '--frobnicate', '--json']);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stdout)).toEqual({ ok: false, error: { code: 'USAGE', message: "unknown option '--frobnicate'", hint: 'run the command with --help to see its options' } });
  });

  it('no command is a usage error (exit 2)', async () => {
    const res = await runInProcess([]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no command given');
  });

  it('an empty or malformed --region, and an empty --profile, are usage errors before any AWS call (no silent default region)', async () => {
    for (const [args, message] of [
      [['cdn', 'status', '--region', ''], "--region: empty (give a region like us-east-1, or leave the flag out to use AWS_REGION or the profile's)"],
      [['cdn', 'status', '--region=US-EAST-1'], '--region: "US-EAST-1" is not an AWS region name (expected e.g. us-east-1 or eu-west-1, lower case)'],
      [['prescale', 'status', '--campaign', 'x', '--region', 'us east 1'], '--region: "us east 1" is not an AWS region name'],
      [['doctor', '--profile', ''], '--profile: empty (give a profile name from ~/.aws/config, or leave the flag out)'],
    ] as const) {
      const res = await runInProcess([...args], { env: { CI: 'true', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toContain(`error: ${message}`);
    }
    for (const region of ['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-4', 'il-central-1']) {
      expect((await runInProcess(['config', 'validate', '--region', region, '--config', 'nope.yaml'])).stderr).not.toContain('--region');
    }
  });

  it('a bad --endpoint-url is a usage error naming the flag', async () => {
    const res = await runInProcess(['doctor', '--endpoint-url', 'localhost:5000']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--endpoint-url: expected an http:// or https:// URL, got "localhost:5000"');
  });

  it('a bad config exits 2 with the problem line, and a stack trace only with --verbose', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'retailctl.yaml'), 'images:\n  bucket: Not_A_Bucket\n');
    const res = await runInProcess(['config', 'validate'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^\S+Z error: retailctl\.yaml:2:3: images\.bucket: expected an S3 bucket name \(lower case, 3-63 characters\)\n/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    const verbose = await runInProcess(['config', 'validate', '-v'], { cwd: dir });
    expect(verbose.code).toBe(2);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    const missing = await runInProcess(['config', 'validate', '--config', 'nope.yaml', '--json'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_NOT_FOUND', message: 'config file nope.yaml not found' } });
  });

  it('doctor reports a bad config as a failed check', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'retailctl.yaml'), 'images:\n  bucket: Not_A_Bucket\n');
    const bad = await runInProcess(['doctor', '--region', 'us-east-1', '--endpoint-url', 'http://127.0.0.1:9'], { cwd: dir });
    expect(bad.code).toBe(1); // doctor reports the config as a failed check
    expect(bad.stdout).toContain('✗ config       retailctl.yaml:2:3: images.bucket: expected an S3 bucket name');
  });

  it('stdout stays one JSON document even when the command also logs', async () => {
    const dir = await tempDir();
    const res = await runInProcess(['init', '--json'], { cwd: dir });
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { ok: boolean; plan: { action: string }; applied: boolean };
    expect(doc).toMatchObject({ ok: true, applied: true, plan: { action: 'create' } });
    expect(res.stderr).toMatch(/^2026-11-27T09:00:00Z create retailctl\.yaml/);
  });
});

describe('confirmation', () => {
  it('a write that needs confirmation exits 3 without a TTY, naming the command to rerun; nothing changes', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'retailctl.yaml'), '# my edited config\n');
    const res = await runInProcess(['init', '--config', 'retailctl.yaml'], { cwd: dir });
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('hint: review the plan, then rerun with --yes: retailctl init --config retailctl.yaml --yes');
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toBe('# my edited config\n');

    const json = await runInProcess(['init', '--json'], { cwd: dir });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_REQUIRED', hint: expect.stringContaining('retailctl init --json --yes') } });
  });

  it('even on a TTY, CI=true means nobody can answer: exit 3 rather than hang', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'retailctl.yaml'), '# mine\n');
    const res = await runInProcess(['init'], { cwd: dir, tty: true, env: { CI: 'true' } });
    expect(res.code).toBe(3);
  });

  it('--yes applies, keeping the old file as .bak; --dry-run writes nothing', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'retailctl.yaml'), '# mine\n');
    const dry = await runInProcess(['init', '--dry-run'], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toBe('# mine\n');
    const res = await runInProcess(['init', '--yes'], { cwd: dir });
    expect(res.code).toBe(0);
    expect(await readFile(path.join(dir, 'retailctl.yaml.bak'), 'utf8')).toBe('# mine\n');
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toContain('campaigns:');
  });
});
