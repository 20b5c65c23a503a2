/**
 * Ctrl-C and SIGTERM during a large inventory reconcile, on the built binary: whether the signal
 * lands while the exports are read, while the keys are compared or while the drift rows are
 * written, the run stops within a second with exit 130, and no --out file (nor its temp file) is
 * left behind. (The run used to finish — minutes of work, hundreds of MB written — and exit 130 after.)
 */
import { spawn } from 'node:child_process';
import { open, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const emulator = useEmulator();

/** Rows per export: every one an oversell, so the drift file is as long as the exports. */
const ROWS = 2_000_000;
let dir: string;
let inputs: string[];

/** An export of ROWS keys; `qty(i)` for the i-th. */
async function writeExport(file: string, qty: (i: number) => number): Promise<void> {
  const out = await open(file, 'w');
  await out.write('sku,loc,qty\n');
  const block = 100_000;
  for (let start = 0; start < ROWS; start += block) {
    let text = '';
    for (let i = start; i < start + block; i++) text += `SKU-${i},dc${i & 3},${qty(i)}\n`;
    await out.write(text);
  }
  await out.close();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-cancel-'));
  await writeExport(path.join(dir, 'wms.csv'), () => 10);
  // oversold by 1 to 97 units in no order: sorting the rows by severity is real work
  await writeExport(path.join(dir, 'web.csv'), (i) => 11 + ((i * 7919) % 97));
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }\n  failOn: [oversell]\n',
  );
  inputs = (await readdir(dir)).sort();
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Stopped {
  code: number | null;
  stderr: string;
  /** From the signal to the exit. */
  latencyMs: number;
}

/** Run a reconcile writing `out`; send `signal` once `when` says so (a stderr line seen, or a delay). */
function runAndSignal(args: string[], signal: NodeJS.Signals, when: { afterMs: number } | { line: RegExp }, env: Record<string, string> = {}): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'inventory', 'reconcile', '-v', '--config', 'retailctl.yaml', ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let sentAt: number | undefined;
    const send = () => {
      if (sentAt !== undefined) return;
      sentAt = Date.now();
      child.kill(signal);
    };
    child.stdout.resume();
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if ('line' in when && when.line.test(stderr)) send();
    });
    if ('afterMs' in when) setTimeout(send, when.afterMs);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, latencyMs: sentAt === undefined ? Number.NaN : Date.now() - sentAt }));
  });
}

describe('inventory reconcile stops on a signal', () => {
  it.each([
    ['SIGTERM', 'reading the exports (1 s in)', '1', { afterMs: 1000 }],
    ['SIGINT', 'comparing the keys (the last export read)', '1', { line: /read web \(channel\)/ }],
    ['SIGTERM', 'writing the drift rows', '1', { line: /reconciled [\d,]+ sku\/location keys/ }],
    ['SIGTERM', 'reading the exports (1 s in)', '2', { afterMs: 1000 }],
    ['SIGINT', 'comparing the keys (the last export read)', '2', { line: /read web \(channel\)/ }],
    ['SIGTERM', 'writing the drift rows', '2', { line: /reconciled [\d,]+ sku\/location keys/ }],
    ['SIGTERM', 'writing every row (--all)', '2', { line: /reconciled [\d,]+ sku\/location keys/ }],
  ] as const)('%s while %s (--threads %s): exit 130 within a second, no --out file and no temp file', async (signal, phase, threads, when) => {
    const res = await runAndSignal(['--out', 'drift.csv', '--threads', threads, ...(phase.includes('--all') ? ['--all'] : [])], signal, when);
    expect(res.code, res.stderr).toBe(130);
    expect(res.latencyMs, res.stderr).toBeLessThan(1500);
    expect(res.stderr).toMatch(new RegExp(`error: interrupted by ${signal}`));
    expect((await readdir(dir)).sort()).toEqual(inputs);
  }, 60_000);

  it('SIGTERM while every row is turned into an event (--publish --dry-run): exit 130 within a second', async () => {
    // the queue must exist: --publish is checked (a read call) before any source is read
    const sqs = new SQSClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'cancel-drift' })).finally(() => sqs.destroy());
    const res = await runAndSignal(['--publish', `sqs:${QueueUrl}`, '--dry-run'], 'SIGTERM', { line: /built [\d,]+ result rows/ }, emulator.env);
    expect(res.code, res.stderr).toBe(130);
    expect(res.latencyMs, res.stderr).toBeLessThan(1500);
    expect(res.stderr).not.toContain('events would be sent');
  }, 60_000);

  it('--out - (rows on stdout) stops too', async () => {
    const res = await runAndSignal(['--out', '-'], 'SIGTERM', { line: /reconciled [\d,]+ sku\/location keys/ });
    expect(res.code, res.stderr).toBe(130);
    expect(res.latencyMs, res.stderr).toBeLessThan(1500);
  }, 60_000);
});
