/** The record of plans applied on this host: what a second apply finds there, and that only one of two concurrent applies claims a plan. */
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alreadyApplied, claimApplied, findApplied, finishApplied, recordFile, stateDir, type AppliedEntry } from '../../src/lib/plan/applied.js';

const digest = `sha256:${'a'.repeat(64)}`;
const entry = (outcome: AppliedEntry['outcome'], extra: Partial<AppliedEntry> = {}): AppliedEntry => ({ digest, kind: 'inventory.publish', planFile: 'p.json', startedAt: '2026-12-01T10:00:00.000Z', outcome, ...extra });
const refuse = (prior: AppliedEntry) => alreadyApplied('p.json', 'the record', prior, 'retailctl … --plan-out p.json');

describe('applied plans record', () => {
  it('lives in RETAILCTL_STATE_DIR, else XDG_STATE_HOME, else ~/.local/state, one file per digest', () => {
    expect(stateDir({ RETAILCTL_STATE_DIR: '/srv/state', XDG_STATE_HOME: '/x', HOME: '/h' })).toBe('/srv/state');
    expect(stateDir({ XDG_STATE_HOME: '/x', HOME: '/h' })).toBe('/x/retailctl');
    expect(stateDir({ HOME: '/h' })).toBe('/h/.local/state/retailctl');
    expect(recordFile({ HOME: '/h' }, digest)).toMatch(/^\/h\/\.local\/state\/retailctl\/applied-plans\/[0-9a-f]{40}\.json$/);
    expect(recordFile({ HOME: '/h' }, `sha256:${'b'.repeat(64)}`)).not.toBe(recordFile({ HOME: '/h' }, digest));
  });

  it('claimed once: a second claim is refused with the first one\'s start and outcome', async () => {
    const env = { RETAILCTL_STATE_DIR: await mkdtemp(path.join(os.tmpdir(), 'retailctl-state-')) };
    const file = recordFile(env, digest);
    expect(await findApplied(file)).toBeUndefined();
    await claimApplied(file, entry('started'), refuse);
    expect(await findApplied(file)).toMatchObject({ outcome: 'started', startedAt: '2026-12-01T10:00:00.000Z' });
    await finishApplied(file, entry('done', { exitCode: 4 }));
    const err = await claimApplied(file, entry('started', { startedAt: '2026-12-02T00:00:00.000Z' }), refuse).catch((e: unknown) => e as { exitCode: number; code: string; message: string });
    expect(err).toMatchObject({ exitCode: 1, code: 'PLAN_ALREADY_APPLIED', message: 'p.json: already applied at 2026-12-01T10:00:00.000Z (finished with exit 4; recorded in the record): not applied again, nothing was changed' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ outcome: 'done', exitCode: 4 });
  });

  it('of ten claims made at once, exactly one succeeds', async () => {
    const file = recordFile({ RETAILCTL_STATE_DIR: await mkdtemp(path.join(os.tmpdir(), 'retailctl-state-')) }, digest);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => claimApplied(file, entry('started'), refuse)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(9).fill('PLAN_ALREADY_APPLIED'));
  });

  it('a record cut short, or a link planted where it goes, counts as applied; an unwritable state dir is exit 2', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-state-'));
    const file = recordFile({ RETAILCTL_STATE_DIR: dir }, digest);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"digest":"sha256:aa');
    expect(await findApplied(file)).toMatchObject({ outcome: 'started' });
    const linked = recordFile({ RETAILCTL_STATE_DIR: dir }, `sha256:${'c'.repeat(64)}`);
    await symlink('/dev/null', linked);
    await expect(claimApplied(linked, entry('started'), refuse)).rejects.toMatchObject({ code: 'PLAN_ALREADY_APPLIED' });
    const blocked = path.join(dir, 'blocker');
    await writeFile(blocked, 'a file where the state directory should be\n');
    await expect(claimApplied(recordFile({ RETAILCTL_STATE_DIR: blocked }, digest), entry('started'), refuse)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/cannot make the record of applied plans .*\((EEXIST|ENOTDIR)\): not applied, nothing was changed$/) });
  });
});
