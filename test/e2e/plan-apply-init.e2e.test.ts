/**
 * `retailctl init --plan-out` then `retailctl apply`, through the built binary (the plan is bound to
 * the emulator's account): the end state equals the direct command's; a config edited in between,
 * an edited or expired plan, or a second apply is refused and nothing is written.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { spawnCli } from '../support/spawn-cli.js';
import { otherHost } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { env } = useEmulator();
const template = () => readFile(path.join(ROOT, 'examples', 'retailctl.yaml'), 'utf8');
const NO_STACK = /\n\s+at /;

async function workdir(config?: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-init-plan-'));
  if (config !== undefined) await writeFile(path.join(dir, 'retailctl.yaml'), config);
  return dir;
}

const run = (dir: string, args: string[], more: Record<string, string> = {}) => spawnCli(args, { env: { ...env, ...more }, cwd: dir });
const read = (dir: string, name: string) => readFile(path.join(dir, name), 'utf8').catch(() => undefined);
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => / error: /.test(l));

describe('init: --plan-out, then apply', () => {
  it('overwrite: the plan writes nothing; apply keeps the old file as .bak and writes the starter config, like init --yes; a second apply is refused', async () => {
    const dir = await workdir('# mine\n');
    const planned = await run(dir, ['init', '--plan-out', 'init.json', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout)).toMatchObject({ ok: true, applied: false, kind: 'init', account: '123456789012', region: 'us-east-1', plan: { kind: 'init', action: 'overwrite' } });
    expect(await read(dir, 'retailctl.yaml')).toBe('# mine\n');
    expect(existsSync(path.join(dir, 'retailctl.yaml.bak'))).toBe(false);

    const doc = JSON.parse((await read(dir, 'init.json'))!) as { preconditions: { id: string; value: unknown }[]; actions: { call: string; target: string }[] };
    const config = path.join(dir, 'retailctl.yaml');
    expect(doc.preconditions).toContainEqual({ id: `file:${config}`, what: 'retailctl.yaml (--config)', value: { bytes: 7, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(doc.preconditions).toContainEqual(expect.objectContaining({ id: `file:${config}.bak`, value: null }));
    expect(doc.actions.map((a) => [a.call, a.target])).toEqual([['fs:CopyFile', `${config}.bak`], ['fs:WriteFile', config]]);

    const md = await run(dir, ['plan', 'show', 'init.json', '--markdown']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('**init**: overwrite retailctl.yaml with the starter config (3627 bytes); the current file is kept as retailctl.yaml.bak');
    expect(md.stdout).toContain('| 1 | fs:CopyFile |');

    // applied from another directory: the plan names the file absolutely
    const elsewhere = await workdir();
    const applied = await run(elsewhere, ['apply', path.join(dir, 'init.json'), '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('wrote retailctl.yaml');
    expect(await read(dir, 'retailctl.yaml')).toBe(await template());
    expect(await read(dir, 'retailctl.yaml.bak')).toBe('# mine\n');
    expect(existsSync(path.join(elsewhere, 'retailctl.yaml'))).toBe(false);

    // the same plan again: refused by its record; on another host the file it was made from is gone, so nothing is written (the .bak keeps the old file)
    const spent = await run(dir, ['apply', 'init.json', '--yes']);
    expect([spent.code, spent.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    const again = await run(dir, ['apply', 'init.json', '--yes'], otherHost());
    expect(again.code).toBe(1);
    expect(errorLines(again.stderr)).toEqual([expect.stringContaining('init.json: 2 of 3 things this plan was computed from changed since it was made: not applied, nothing was changed')]);
    expect(again.stderr).toContain('retailctl.yaml (--config): changed: bytes: 7 → 3627');
    expect(again.stderr).toContain('retailctl.yaml.bak (the backup it replaces): absent when planned, now {"bytes":7,');
    expect(again.stderr).not.toMatch(NO_STACK);
    expect(await read(dir, 'retailctl.yaml.bak')).toBe('# mine\n');

    // the direct command from the same start ends the same
    const direct = await workdir('# mine\n');
    expect((await run(direct, ['init', '--yes'])).code).toBe(0);
    expect([await read(direct, 'retailctl.yaml'), await read(direct, 'retailctl.yaml.bak')]).toEqual([await read(dir, 'retailctl.yaml'), '# mine\n']);
  });

  it('a config written after the plan (create) refuses it with exit 1, one error line, the file left as it is', async () => {
    const dir = await workdir();
    await mkdir(path.join(dir, 'ci'));
    expect((await run(dir, ['init', '--config', 'ci/retailctl.yaml', '--plan-out', 'init.json'])).code).toBe(0);
    expect(existsSync(path.join(dir, 'ci', 'retailctl.yaml'))).toBe(false);
    await writeFile(path.join(dir, 'ci', 'retailctl.yaml'), 'images: {}\n');
    const res = await run(dir, ['apply', 'init.json', '--yes']);
    expect(res.code).toBe(1);
    expect(errorLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toMatch(/ci\/retailctl\.yaml \(--config\): absent when planned, now \{"bytes":11,"sha256":"[0-9a-f]{64}"\}/);
    expect(res.stderr).not.toMatch(NO_STACK);
    expect(await read(dir, 'ci/retailctl.yaml')).toBe('images: {}\n');
    expect(existsSync(path.join(dir, 'ci', 'retailctl.yaml.bak'))).toBe(false);

    // a fresh plan of the create applies, without a question (as init itself creates without one)
    const empty = await workdir();
    expect((await run(empty, ['init', '--plan-out', 'create.json'])).code).toBe(0);
    const created = await run(empty, ['apply', 'create.json']);
    expect(created.code, created.stderr).toBe(0);
    expect(await read(empty, 'retailctl.yaml')).toBe(await template());
  });

  it('an edited plan is exit 2, an expired one exit 1; neither writes', async () => {
    const dir = await workdir('# mine\n');
    expect((await run(dir, ['init', '--plan-out', 'init.json'])).code).toBe(0);
    const text = (await read(dir, 'init.json'))!;
    await writeFile(path.join(dir, 'edited.json'), text.replace('"action": "overwrite"', '"action": "create"'));
    const edited = await run(dir, ['apply', 'edited.json', '--yes']);
    expect(edited.code).toBe(2);
    expect(errorLines(edited.stderr)).toEqual([expect.stringContaining('edited.json: digest does not match its content: the file was edited after it was made')]);

    expect((await run(dir, ['init', '--plan-out', 'short.json', '--plan-ttl', '1ms'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    const expired = await run(dir, ['apply', 'short.json', '--yes']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/short\.json: expired at \S+ .*re-plan, nothing was changed/);
    expect(expired.stderr).not.toMatch(NO_STACK);
    expect(await read(dir, 'retailctl.yaml')).toBe('# mine\n');
    expect(existsSync(path.join(dir, 'retailctl.yaml.bak'))).toBe(false);
  });

  it('--plan-out needs credentials (the plan is bound to an account); init itself does not', async () => {
    const dir = await workdir();
    const res = await spawnCli(['init', '--plan-out', 'init.json', '--region', 'us-east-1'], { cwd: dir, env: { AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL! } });
    expect(res.code).not.toBe(0);
    expect(errorLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).not.toMatch(NO_STACK);
    expect(existsSync(path.join(dir, 'init.json'))).toBe(false);
    expect(existsSync(path.join(dir, 'retailctl.yaml'))).toBe(false);
    expect((await spawnCli(['init'], { cwd: dir })).code).toBe(0);
    expect(await read(dir, 'retailctl.yaml')).toBe(await template());
  });
});
