/**
 * The edge corpus: bad inputs, flags, configs and paths, each run through the built binary against
 * the emulator. For every case: the documented exit code (2 for a user's mistake), one `error:` line
 * naming the file or flag, no stack trace and no "unexpected error", no write request reaching AWS,
 * and nothing created or changed at the output paths. The cases live in test/e2e/corpus/*.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoggedRequest } from '../support/aws-shim.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';
import type { CorpusCase } from './corpus/types.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const corpusDir = path.join(import.meta.dirname, 'corpus');
const files = readdirSync(corpusDir).filter((f) => f.endsWith('.ts') && f !== 'types.ts').sort();
const groups: { file: string; cases: CorpusCase[] }[] = [];
for (const f of files) groups.push({ file: f, cases: ((await import(path.join(corpusDir, f))) as { cases: CorpusCase[] }).cases });
const isRoot = process.getuid?.() === 0;

/** A request that changes something in AWS (reads are GET/HEAD, or an operation named like a read). */
function isWrite(r: LoggedRequest): boolean {
  if (r.method === 'GET' || r.method === 'HEAD') return false;
  if (r.operation && /^(Describe|Get|List|Test|Head|Query|Scan|Select)/.test(r.operation)) return false;
  return true;
}

async function snapshot(p: string): Promise<string> {
  const st = await lstat(p).catch(() => undefined);
  if (!st) return 'absent';
  if (st.isFile()) return `file ${(await readFile(p)).toString('base64')}`;
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'special';
}

it('holds at least 60 cases', () => {
  expect(groups.reduce((n, g) => n + g.cases.length, 0)).toBeGreaterThanOrEqual(60);
});

for (const { file, cases } of groups) {
  describe(file.replace(/\.ts$/, ''), () => {
    for (const c of cases) {
      it.skipIf(c.rootOnly && !isRoot)(c.name, async () => {
        const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-corpus-'));
        for (const [rel, content] of Object.entries(c.files ?? {})) {
          const at = path.join(dir, rel);
          await mkdir(path.dirname(at), { recursive: true });
          if (typeof content === 'string' || Buffer.isBuffer(content)) await writeFile(at, content);
          else if ('symlink' in content) await symlink(content.symlink, at);
          else if ('dir' in content) await mkdir(at, { recursive: true });
          else if (spawnSync('mkfifo', [at]).status !== 0) throw new Error(`mkfifo ${at} failed`);
        }
        await c.setup?.({ dir, endpoint, s3 });
        const watched = (c.untouched ?? []).map((p) => (path.isAbsolute(p) ? p : path.join(dir, p)));
        const before = await Promise.all(watched.map(snapshot));
        await control.clearRequests();
        const args = c.noEndpoint ? c.args : [...c.args, '--endpoint-url', endpoint];
        const r = await spawnCli(args, { cwd: dir, home: dir, env: { ...env, ...c.env } });
        const requests = await control.requests();
        const errorLines = r.stderr.split('\n').filter((l) => /^(\S+Z )?error: /.test(l));
        expect(r.code, r.stderr).toBe(c.code ?? 2);
        expect(errorLines, r.stderr).toHaveLength(1);
        if (typeof c.message === 'string') expect(errorLines[0]).toContain(c.message);
        else expect(errorLines[0]).toMatch(c.message);
        expect(r.stderr).not.toMatch(/unexpected error|please report it/);
        expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
        expect(r.stderr + r.stdout).not.toContain('\x1b');
        if (!c.allowWrites) expect(requests.filter(isWrite).map((q) => `${q.method} ${q.path} ${q.operation ?? ''}`)).toEqual([]);
        expect(await Promise.all(watched.map(snapshot))).toEqual(before);
        await c.check?.({ stdout: r.stdout, stderr: r.stderr, dir });
      });
    }
  });
}

it('every case file is a module the runner found', () => {
  expect(existsSync(corpusDir)).toBe(true);
  expect(files.length).toBeGreaterThan(0);
});
