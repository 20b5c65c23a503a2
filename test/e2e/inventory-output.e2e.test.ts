/**
 * What users open, on the built binary: the drift CSV in a spreadsheet (cells a spreadsheet would
 * run as formulas are escaped, numbers stay numbers) and the terminal summary in CI (a sku holding
 * ESC/OSC sequences is shown escaped, never sent to the terminal).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli, scriptAvailable } from '../support/spawn-cli.js';


/** Run retailctl on a pseudo-terminal (stdout and stderr both on it); returns what the terminal showed. */
function onTerminal(args: string[], cwd: string): Promise<{ code: number | null; screen: string }> {
  const command = `stty cols 200 rows 40; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (c: Buffer) => (screen += c.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

const CONFIG = 'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }\n  failOn: [oversell]\n';

/** Case directories, removed when the file is done. */
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function workspace(wms: string, web: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-invout-e2e-'));
  made.push(dir);
  await writeFile(path.join(dir, 'retailctl.yaml'), CONFIG);
  await writeFile(path.join(dir, 'wms.csv'), wms);
  await writeFile(path.join(dir, 'web.csv'), web);
  return dir;
}

describe('inventory --out drift.csv is safe to open in a spreadsheet', () => {
  it('formula-leading skus get a leading quote; negative deltas stay plain numbers', async () => {
    const skus = ['=HYPERLINK("http://x","y")', '+cmd', '@SUM(1+1)', '-2+3'];
    const cell = (s: string) => `"${s.replace(/"/g, '""')}"`;
    // every sku undersold by 2: delta -2 on each row
    const dir = await workspace(`sku,loc,qty\n${skus.map((s) => `${cell(s)},dfw1,10`).join('\n')}\n`, `sku,loc,qty\n${skus.map((s) => `${cell(s)},dfw1,8`).join('\n')}\n`);
    const res = await spawnCli(['inventory', 'reconcile', '--out', 'drift.csv'], { cwd: dir, home: dir });
    expect(res.code, res.stderr).toBe(0);
    const text = await readFile(path.join(dir, 'drift.csv'), 'utf8');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.sku).sort()).toEqual(skus.map((s) => `'${s}`).sort());
    for (const r of rows) expect([r.class, r.expected, r.actual, r.delta]).toEqual(['undersell', '10', '8', '-2']);
    // no cell of the file starts with a formula character, but the numbers
    const cells = (parse(text) as string[][]).slice(1).flat();
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual(rows.map(() => '-2'));
  });
});

describe('the terminal summary in CI', () => {
  it('shows a sku holding ESC/OSC sequences escaped in the "most severe" list, on stdout', async () => {
    const evil = 'EVIL\x1b]8;;http://x\x07click\x1b]8;;\x07\x1b[2J\x9b31m';
    const dir = await workspace(`sku,loc,qty\n${evil},dfw1,10\n`, `sku,loc,qty\n${evil},dfw1,15\n`);
    const res = await spawnCli(['inventory', 'reconcile'], { cwd: dir, home: dir, env: { CI: 'true' } });
    expect(res.code, res.stderr).toBe(5);
    expect(res.stdout).toContain('most severe:');
    expect(res.stdout).not.toMatch(/[\x1b\x07\x9b]/);
    expect(res.stdout).toContain('oversell            EVIL\\x1b]8;;http://x\\x07click\\x1b]8;;\\x07\\x1b[2J\\x9b31m @ dfw1: web offers 15, expected 10 (+5)');
    // the rows on stdout (--out -) carry the sku as it is: it is data, not a message
    const rows = await spawnCli(['inventory', 'reconcile', '--out', '-'], { cwd: dir, home: dir, env: { CI: 'true' } });
    expect((parse(rows.stdout, { columns: true }) as { sku: string }[])[0]!.sku).toBe(evil);
    expect(rows.stderr).not.toMatch(/[\x1b\x07\x9b]/);
  });

  it.skipIf(!scriptAvailable)('--out - on a terminal shows such a sku escaped too (piped, the rows are the data as it is)', async () => {
    const evil = 'EVIL\x1b]8;;http://x\x07click\x1b]8;;\x07\x1b[2J';
    const dir = await workspace(`sku,loc,qty\n${evil},dfw1,10\n`, `sku,loc,qty\n${evil},dfw1,15\n`);
    const res = await onTerminal(['inventory', 'reconcile', '--out', '-'], dir);
    expect(res.code, res.screen).toBe(5);
    expect(res.screen).toContain('oversell,EVIL\\x1b]8;;http://x\\x07click');
    expect(res.screen).not.toContain('\x1b]8');
    expect(res.screen).not.toContain('\x1b[2J');
    expect(res.screen).not.toContain('\x07');
  });
});

describe('--out of a million drift rows in bounded memory', () => {
  // A 64 MB JavaScript heap: the drift rows are written as bytes from the compact results, never
  // as a million row objects (a run that builds them, such as --since, needs several times this).
  it.each([
    ['drift.csv', '1'],
    ['drift.json', '2'],
  ])('writes %s on %s thread(s) with a 64 MB heap', async (out, threads) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-invout-mem-'));
    made.push(dir);
    const rows = 1_000_000;
    const exportOf = (qty: (i: number) => number) => {
      const lines = ['sku,loc,qty'];
      for (let i = 0; i < rows; i++) lines.push(`SKU-${i},dc${i & 3},${qty(i)}`);
      return `${lines.join('\n')}\n`;
    };
    await writeFile(path.join(dir, 'retailctl.yaml'), CONFIG.replace('failOn: [oversell]', 'failOn: []'));
    await writeFile(path.join(dir, 'wms.csv'), exportOf(() => 10));
    await writeFile(path.join(dir, 'web.csv'), exportOf((i) => 11 + ((i * 7919) % 97))); // every row an oversell
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--max-old-space-size=64', BIN, 'inventory', 'reconcile', '--out', out, '--threads', threads], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr: stderr.slice(-2000) }));
    });
    expect(res.code, res.stderr).toBe(0);
    const text = await readFile(path.join(dir, out), 'utf8');
    const lines = text.trimEnd().split('\n');
    if (out.endsWith('.csv')) {
      expect(lines).toHaveLength(rows + 1);
      expect(lines[1]).toMatch(/^oversell,SKU-\d+,dc\d,web,10,0,0,10,\d+,\d+,,$/);
    } else {
      expect(lines).toHaveLength(rows + 2);
      expect(JSON.parse(lines[1]!.replace(/,$/, ''))).toMatchObject({ location: 'dc0', channel: 'web', class: 'oversell' });
    }
  }, 60_000);
});
