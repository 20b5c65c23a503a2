/**
 * On a real terminal (a pseudo-terminal from util-linux `script`) retailctl shows a spinner and
 * colours; with CI set, or on a terminal that reports no width, it prints plain lines and never
 * spins forever.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { BIN, scriptAvailable, STATE_DIR } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { env, control, endpoint } = useEmulator();
const EXAMPLE = path.join(ROOT, 'examples', 'retailctl.yaml');


/** Run retailctl on a pseudo-terminal of the given width; returns everything the terminal showed. */
function onTerminal(
  columns: number,
  args: string[],
  extraEnv: Record<string, string> = {},
  options: { cwd?: string; type?: { when: string; keys: string } } = {},
): Promise<{ code: number | null; screen: string }> {
  const command = `stty cols ${columns} rows 40; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: path.join(ROOT, 'test', 'fixtures', 'empty-home'), RETAILCTL_STATE_DIR: STATE_DIR, TERM: 'xterm-256color', ...env, ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    let typed = false;
    child.stdout.on('data', (c: Buffer) => {
      screen += c.toString();
      // answer a prompt once it is on screen, as a person would
      if (options.type && !typed && screen.includes(options.type.when)) {
        typed = true;
        child.stdin.write(options.type.keys);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

describe.skipIf(!scriptAvailable)('on a terminal', () => {
  it('shows a spinner and colours', async () => {
    const { code, screen } = await onTerminal(100, ['doctor', '--config', EXAMPLE]);
    expect(code).toBe(0);
    expect(screen).toContain('checking AWS region, endpoint and credentials');
    expect(screen).toContain('\u001b[32m✓\u001b[39m node');
  });

  it('with CI set: no spinner and no colours', async () => {
    const { code, screen } = await onTerminal(100, ['doctor', '--config', EXAMPLE], { CI: 'true' });
    expect(code).toBe(0);
    expect(screen).not.toMatch(/\u001b\[/);
    expect(screen).toContain('✓ node');
  });

  it('a terminal that reports no width gets plain output instead of an endless spinner', async () => {
    const { code, screen } = await onTerminal(0, ['doctor', '--config', EXAMPLE]);
    expect(code).toBe(0);
    expect(screen).not.toContain('checking AWS region');
    expect(screen).toContain('all required checks passed');
  });

  it('asks before overwriting: "n" changes nothing (exit 3), "y" writes and keeps a backup', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-tty-'));
    await writeFile(path.join(dir, 'retailctl.yaml'), '# mine\n');
    const no = await onTerminal(100, ['init'], {}, { cwd: dir, type: { when: 'Overwrite retailctl.yaml?', keys: 'n\r' } });
    expect(no.screen).toContain('Overwrite retailctl.yaml?');
    expect(no.code).toBe(3);
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toBe('# mine\n');
    const yes = await onTerminal(100, ['init'], {}, { cwd: dir, type: { when: 'Overwrite retailctl.yaml?', keys: 'y\r' } });
    expect(yes.code).toBe(0);
    expect(await readFile(path.join(dir, 'retailctl.yaml.bak'), 'utf8')).toBe('# mine\n');
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toContain('campaigns:');
  });

  it('images migrate shows a progress bar with files, bytes, rate and ETA', async () => {
    const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
    const { jpeg } = await import('../support/images.js');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'tty-images' }));
    s3.destroy();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-tty-images-'));
    for (let i = 0; i < 12; i++) await writeFile(path.join(dir, `p${i}.jpg`), jpeg(20_000, i + 1));
    await control.fault({ service: 's3', method: 'PUT', times: 0, delayMs: 150, forward: true });
    try {
      const { code, screen } = await onTerminal(120, ['images', 'migrate', '.', '--bucket', 'tty-images', '--concurrency', '2', '--yes'], {}, { cwd: dir });
      expect(code).toBe(0);
      expect(screen).toMatch(/\[#+\.+\] \d+\/12 files, [\d.]+ KB\/234 KB, [\d.]+ KB\/s, ETA \d/);
      expect(screen).toContain('12 uploaded');
    } finally {
      await control.clearFaults();
    }
  });
});
