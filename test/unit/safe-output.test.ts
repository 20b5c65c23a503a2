/** The shared output layer: the terminal sanitiser, bounded directory creation, the atomic writer. */
import { chmod, lstat, mkdtemp, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/lib/io/paths.js';
import { writeFileAtomic, writeRowsFile } from '../../src/lib/io/rows.js';
import { Output } from '../../src/lib/io/output.js';
import { sanitizeText, shown } from '../../src/lib/util/sanitize.js';

describe('sanitizeText', () => {
  it('shows control characters, OSC/CSI sequences and bidi overrides escaped, keeps newlines', () => {
    expect(sanitizeText('sku\x1b]8;;https://evil\x07X\x1b]8;;\x07\n\u202eabc\x9b2J\x00')).toBe('sku\\x1b]8;;https://evil\\x07X\\x1b]8;;\\x07\n\\u202eabc\\x9b2J\\x00');
  });
  it('escapes every ESC, also colour codes (Output restores only its own, see below)', () => {
    expect(sanitizeText('\x1b[31mred\x1b[39m \x1b[2J')).toBe('\\x1b[31mred\\x1b[39m \\x1b[2J');
  });
  it('cuts long lines saying how much was left out; shown() cuts a value at 200', () => {
    const line = sanitizeText(`${'a'.repeat(5000)}\nshort`);
    expect(line).toBe(`${'a'.repeat(4000)}… [1,000 more characters not shown]\nshort`);
    expect(shown('b'.repeat(50_000))).toBe(`${'b'.repeat(200)}… [49,800 more characters not shown]`);
  });
});

describe('Output prints nothing raw', () => {
  it('stdout and stderr lines are sanitised even off a terminal (CI)', () => {
    let out = '';
    let err = '';
    const o = new Output({ stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, json: false, verbose: 0, interactive: false, color: false });
    o.print('most severe: SKU\x1b]0;owned\x07');
    o.warn(`bad sku ${'z'.repeat(10_000)}`);
    expect(out).toBe('most severe: SKU\\x1b]0;owned\\x07\n');
    expect(err).not.toContain('\x1b');
    expect(err.length).toBeLessThan(4200);
  });
});

describe('Output with colours on (a terminal)', () => {
  it('prints its own colours, but colour codes from data (ESC [8m hides text) are escaped', () => {
    let out = '';
    const o = new Output({ stdout: { write: (s: string) => (out += s) }, stderr: { write: () => {} }, json: false, verbose: 0, interactive: true, color: true });
    o.print(`${o.style('red', 'oversell')} \x1b[8mHIDDEN\x1b[0m`);
    expect(out.startsWith(o.style('red', 'oversell').replace(/\ue000[0-9a-f]+\ue001/g, '\x1b'))).toBe(true);
    expect(out).toContain('\\x1b[8mHIDDEN\\x1b[0m');
  });
});

describe('makeDirs', () => {
  it('fails at once on a path under /proc instead of looping (Node recursive mkdir spins there)', async () => {
    await expect(makeDirs('/proc/self/nope/deeper')).rejects.toMatchObject({ code: expect.stringMatching(/ENOENT|EACCES|EPERM|ENOTDIR/) });
    await expect(makeDirs('/proc/nope/x')).rejects.toBeTruthy();
  });
  it('creates the missing levels below the nearest existing directory; a file in the way is ENOTDIR', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-dirs-'));
    await makeDirs(path.join(dir, 'a', 'b', 'c'));
    expect((await stat(path.join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    await writeFile(path.join(dir, 'f'), 'x');
    await expect(makeDirs(path.join(dir, 'f', 'g'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('writeFileAtomic', () => {
  it('writes through a symlink: the link stays, its target gets the content', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-atomic-'));
    await writeFile(path.join(dir, 'real.csv'), 'old\n');
    await symlink('real.csv', path.join(dir, 'link.csv'));
    await writeFileAtomic(path.join(dir, 'link.csv'), ['new\n']);
    expect((await lstat(path.join(dir, 'link.csv'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(dir, 'link.csv'))).toBe('real.csv');
    expect(await readFile(path.join(dir, 'real.csv'), 'utf8')).toBe('new\n');
  });
  it('keeps the mode of the file it replaces', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-atomic-'));
    await writeFile(path.join(dir, 'private.csv'), 'old\n');
    await chmod(path.join(dir, 'private.csv'), 0o600);
    await writeFileAtomic(path.join(dir, 'private.csv'), ['new\n']);
    expect((await stat(path.join(dir, 'private.csv'))).mode & 0o777).toBe(0o600);
  });
  it('refuses a device instead of replacing it (exit 2), and - writes to the stdout given', async () => {
    await expect(writeFileAtomic('/dev/null', ['x'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('under /dev or /proc') });
    expect((await stat('/dev/null')).isCharacterDevice()).toBe(true);
    let got = '';
    await writeRowsFile('-', [{ sku: 'A', qty: 1 }], ['sku', 'qty'], { stdout: { write: (s: string) => (got += s) } });
    expect(got).toBe('sku,qty\nA,1\n');
    await expect(writeFileAtomic('-', ['x'])).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('CSV formula escaping', () => {
  it('prefixes cells a spreadsheet would run with a quote; negative numbers stay numbers', async () => {
    let got = '';
    const rows = [
      { sku: '=HYPERLINK("http://x","y")', qty: -2 },
      { sku: '+cmd|/C calc', qty: 0 },
      { sku: '@SUM(1+1)', qty: 3 },
      { sku: '-2+3', qty: 1 },
      { sku: '\tTAB', qty: 1 },
      { sku: 'SAFE-1', qty: 1 },
    ];
    await writeRowsFile('-', rows, ['sku', 'qty'], { stdout: { write: (s: string) => (got += s) } });
    expect(got.split('\n')).toEqual(['sku,qty', `"'=HYPERLINK(""http://x"",""y"")",-2`, "'+cmd|/C calc,0", "'@SUM(1+1),3", "'-2+3,1", "'\tTAB,1", 'SAFE-1,1', '']);
  });
});

describe('shown', () => {
  it('keeps a value on one line: a newline in it cannot forge a line of retailctl\'s own', () => {
    expect(shown('a.jpg\n2026-12-01T00:00:00Z error: fake')).toBe('a.jpg\\n2026-12-01T00:00:00Z error: fake');
  });
});

describe('checkOutputFile beside concurrent runs', () => {
  it('never creates or removes the target itself (another run may be appending to it): only a probe of its own name appears', async () => {
    const { watch } = await import('node:fs');
    const { checkOutputFile } = await import('../../src/lib/io/paths.js');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-race-'));
    const seen = new Set<string>();
    const watcher = watch(dir, (_event, name) => name && seen.add(String(name)));
    try {
      await checkOutputFile(path.join(dir, 'audit.jsonl'), '--audit-log');
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      watcher.close();
    }
    expect(seen.size).toBeGreaterThan(0); // the probe was made (and seen)
    expect([...seen]).not.toContain('audit.jsonl');
    expect(await readdir(dir)).toEqual([]);
  });
});
