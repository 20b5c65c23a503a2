/**
 * Where `init --config` and `loadtest --out` write, through the built binary: a symlink is written
 * through (its target gets the new content, the link stays), a directory, FIFO or device is refused
 * with exit 2 before anything is read or written, and `loadtest --out -` prints the script.
 */
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { spawnCli } from '../support/spawn-cli.js';

const TEMPLATE = await readFile(path.join(ROOT, 'examples', 'retailctl.yaml'), 'utf8');
const tmp = () => mkdtemp(path.join(os.tmpdir(), 'retailctl-out-'));
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^(\S+Z )?error: /.test(l));

describe('init --config', () => {
  it('a symlinked config is written through: the target gets the starter config, the link stays, the old content is kept as .bak', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'shared'));
    await writeFile(path.join(dir, 'shared', 'real.yaml'), 'images: {}\n');
    await symlink('shared/real.yaml', path.join(dir, 'link.yaml'));
    const r = await spawnCli(['init', '--config', 'link.yaml', '--yes'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await lstat(path.join(dir, 'link.yaml'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(dir, 'link.yaml'))).toBe('shared/real.yaml');
    expect(await readFile(path.join(dir, 'shared', 'real.yaml'), 'utf8')).toBe(TEMPLATE);
    expect(await readFile(path.join(dir, 'link.yaml.bak'), 'utf8')).toBe('images: {}\n');
  });

  it('a dangling symlink: its target is created', async () => {
    const dir = await tmp();
    await symlink('conf/retailctl.yaml', path.join(dir, 'retailctl.yaml'));
    const r = await spawnCli(['init', '--yes'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'conf', 'retailctl.yaml'), 'utf8')).toBe(TEMPLATE);
  });

  it.each([
    ['a directory', 'conf.yaml', 'is a directory, not a file'],
    ['a symlink to a directory', 'link.yaml', 'is a directory, not a file'],
    ['a FIFO', 'fifo.yaml', 'is not a regular file (a device, FIFO or socket)'],
    ['a device', '/dev/null', 'is under /dev or /proc'],
  ])('%s is refused with exit 2, at once, and nothing is written beside it', async (_what, target, why) => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'conf.yaml'));
    await symlink('conf.yaml', path.join(dir, 'link.yaml'));
    expect(spawnSync('mkfifo', [path.join(dir, 'fifo.yaml')]).status).toBe(0);
    const r = await spawnCli(['init', '--config', target, '--yes'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`error: --config ${target}: ${why}`)]);
    // no backup copied from a device or a FIFO, nothing created in the directory
    await expect(lstat(`${path.isAbsolute(target) ? target : path.join(dir, target)}.bak`)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(spawnSync('ls', ['-A', path.join(dir, 'conf.yaml')]).stdout.toString()).toBe('');
  });
});

describe('loadtest --out', () => {
  const config = async (dir: string) => {
    await writeFile(path.join(dir, 'retailctl.yaml'), TEMPLATE);
  };

  it('writes through a symlink, and `-` prints the script on stdout', async () => {
    const dir = await tmp();
    await config(dir);
    await symlink('k6/spike.js', path.join(dir, 'spike.js'));
    const r = await spawnCli(['loadtest', '--campaign', 'spring-sale-email', '--out', 'spike.js'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await lstat(path.join(dir, 'spike.js'))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(dir, 'k6', 'spike.js'), 'utf8')).toContain("import http from 'k6/http'");
    const toStdout = await spawnCli(['loadtest', '--campaign', 'spring-sale-email', '--out', '-'], { cwd: dir });
    expect(toStdout.code, toStdout.stderr).toBe(0);
    expect(toStdout.stdout).toContain("import http from 'k6/http'");
    expect(toStdout.stdout).toBe(`${await readFile(path.join(dir, 'k6', 'spike.js'), 'utf8')}`);
  });

  it.each([
    ['a directory', 'scripts', 'is a directory, not a file'],
    ['a FIFO', 'fifo.js', 'is not a regular file (a device, FIFO or socket)'],
    ['a device', '/dev/null', 'is under /dev or /proc'],
    ['below a file', 'retailctl.yaml/spike.js', 'is not a directory'],
  ])('%s: exit 2 naming --out, before anything runs', async (_what, target, why) => {
    const dir = await tmp();
    await config(dir);
    await mkdir(path.join(dir, 'scripts'));
    expect(spawnSync('mkfifo', [path.join(dir, 'fifo.js')]).status).toBe(0);
    const r = await spawnCli(['loadtest', '--campaign', 'spring-sale-email', '--out', target], { cwd: dir, env: { K6_PATH: '/nonexistent/k6' } });
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`error: --out ${target}: `)]);
    expect(errorLines(r.stderr)[0]).toContain(why);
    expect(await readFile(path.join(dir, 'retailctl.yaml'), 'utf8')).toBe(TEMPLATE);
    expect(spawnSync('ls', ['-A', path.join(dir, 'scripts')]).stdout.toString()).toBe('');
  });
});
