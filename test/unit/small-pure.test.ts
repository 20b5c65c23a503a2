import { describe, expect, it } from 'vitest';
import { checkNode } from '../../src/lib/doctor/checks.js';
import { renderDoctor } from '../../src/lib/doctor/render.js';
import { initNeedsConfirmation, planInit } from '../../src/lib/init/plan.js';
import { formatDuration, parseDuration } from '../../src/lib/util/duration.js';

describe('durations', () => {
  it('parses the forms config files use', () => {
    expect(parseDuration('20m')).toBe(1_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('20')).toBeUndefined();
    expect(parseDuration('20 minutes')).toBeUndefined();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('init plan', () => {
  it('creates, overwrites with a backup, or does nothing', () => {
    expect(planInit({ file: 'r.yaml', path: '/w/r.yaml', existing: undefined, template: 'x' })).toEqual({ kind: 'init', version: 1, file: 'r.yaml', path: '/w/r.yaml', action: 'create', bytes: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' });
    const overwrite = planInit({ file: 'r.yaml', existing: 'mine', template: 'x' });
    expect(overwrite).toMatchObject({ action: 'overwrite', backup: 'r.yaml.bak' });
    expect(initNeedsConfirmation(overwrite)).toBe(true);
    expect(planInit({ file: 'r.yaml', existing: 'x', template: 'x' }).action).toBe('unchanged');
  });
});

describe('doctor', () => {
  it('node versions: too old fails, 20 works with an upgrade note, 22 is clean', () => {
    expect(checkNode('18.19.0')).toMatchObject({ ok: false, required: true });
    expect(checkNode('20.11.1')).toMatchObject({ ok: false });
    expect(checkNode('20.20.2')).toMatchObject({ ok: true, detail: expect.stringContaining('need Node.js 22') });
    expect(checkNode('22.12.0')).toEqual({ id: 'node', ok: true, required: true, detail: 'v22.12.0' });
  });

  it('renders one line per check, hints under failures, optional failures as warnings', () => {
    const text = renderDoctor(
      {
        ok: false,
        checks: [
          { id: 'node', ok: true, required: true, detail: 'v22.12.0' },
          { id: 'credentials', ok: false, required: true, detail: 'no AWS credentials found', hint: 'run aws sso login' },
          { id: 'k6', ok: false, required: false, detail: 'k6 not found on PATH (optional)' },
        ],
      },
      { style: (_s, t) => t },
    );
    expect(text.split('\n')).toEqual([
      '✓ node         v22.12.0',
      '✗ credentials  no AWS credentials found',
      '               → run aws sso login',
      '! k6           k6 not found on PATH (optional)',
      '1 required check failed',
    ]);
  });
});
