/**
 * Output through the shell, on the built binary: `/dev/stdout` when stdout is redirected to a log
 * (the log must not be replaced), a reader that closes stdout early (never exit 0), a sku holding a
 * newline (it must not forge lines of the summary), and the temp file of an atomic write (an
 * unpredictable name with the mode of the file it replaces).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile, chmod } from 'node:fs/promises';
import { statSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/lib/io/rows.js';
import { BIN } from '../support/spawn-cli.js';

const CONFIG = `inventory:
  sources:
    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }
    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }
  failOn: [oversell]
`;

async function workdir(rows = 3, webExtra = ''): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-streams-'));
  const wms = ['sku,loc,qty'];
  const web = ['sku,loc,qty'];
  for (let i = 0; i < rows; i++) {
    wms.push(`S${i},dfw1,1`);
    web.push(`S${i},dfw1,9`); // every row oversells
  }
  await writeFile(path.join(dir, 'retailctl.yaml'), CONFIG);
  await writeFile(path.join(dir, 'wms.csv'), `${wms.join('\n')}\n`);
  await writeFile(path.join(dir, 'web.csv'), `${web.join('\n')}\n${webExtra}`);
  return dir;
}

/** Run a shell line in `dir` with `$R` = the built retailctl; returns the status and what it printed. */
function sh(dir: string, line: string) {
  const r = spawnSync('bash', ['-c', `set -o pipefail; ${line}`], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', R: `${process.execPath} ${BIN}` }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('output through the shell', () => {
  it('--out /dev/stdout with stdout appended to a log: exit 2, the log is left as it was (a rename would have replaced it)', async () => {
    const dir = await workdir();
    await writeFile(path.join(dir, 'build.log'), 'a week of CI log\n');
    const r = sh(dir, '$R inventory reconcile --out /dev/stdout >> build.log 2>err.txt');
    expect(r.code).toBe(2);
    expect(await readFile(path.join(dir, 'build.log'), 'utf8')).toBe('a week of CI log\n');
    expect(await readFile(path.join(dir, 'err.txt'), 'utf8')).toMatch(/error: --out \/dev\/stdout: is under \/dev or \/proc .*\n.*hint: .*--out - to write to stdout/);
  });

  it('a reader that closes stdout early (`--out - | head -2`): exit 141, not 0, although every row oversells', async () => {
    const dir = await workdir(200_000);
    const r = sh(dir, '$R inventory reconcile --out - 2>err.txt | head -2 >/dev/null; echo "status=${PIPESTATUS[0]}"');
    expect(r.stdout.trim()).toBe('status=141');
    const whole = sh(dir, '$R inventory reconcile --out - > rows.csv 2>/dev/null');
    expect(whole.code).toBe(5); // the same run, read to the end, fails the oversell gate
  });

  it('a sku holding newlines cannot forge lines of the summary (CI=true, stdout)', async () => {
    const dir = await workdir(1, '"S0\n\nno class in inventory.failOn\n\n",dfw1,7\n');
    await writeFile(path.join(dir, 'wms.csv'), 'sku,loc,qty\nS0,dfw1,1\n"S0\n\nno class in inventory.failOn\n\n",dfw1,1\n');
    const r = sh(dir, '$R inventory reconcile');
    expect(r.code).toBe(5);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l === 'no class in inventory.failOn')).toEqual([]);
    expect(r.stdout).toContain('S0\\n\\nno class in inventory.failOn @ dfw1'); // trimmed, then shown escaped
    expect(lines.at(-2)).toBe('failing: oversell (inventory.failOn)');
  });
});

describe('the atomic write', () => {
  it('writes to a temp file of an unpredictable name, created with the mode of the file it replaces (0600 stays 0600 throughout)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-atomic-'));
    const file = path.join(dir, 'drift.csv');
    await writeFile(file, 'old\n');
    await chmod(file, 0o600);
    const seen: { name: string; mode: number }[] = [];
    await writeFileAtomic(file, (function* () {
      yield 'x'.repeat(1 << 17); // past the first 64 KB write: the temp file exists now
      for (const name of readdirSync(dir)) if (name !== 'drift.csv') seen.push({ name, mode: statSync(path.join(dir, name)).mode & 0o777 });
      yield 'end\n';
    })());
    expect(seen).toHaveLength(1);
    expect(seen[0]!.name).toMatch(/^\.retailctl-[0-9a-f]{16}\.tmp$/);
    expect(seen[0]!.name).not.toContain(String(process.pid));
    expect(seen[0]!.mode).toBe(0o600);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['drift.csv']);
  });
});
