import { describe, expect, it } from 'vitest';
import { Output } from '../../src/lib/io/output.js';
import { Capture } from '../support/streams.js';

function make(json: boolean, interactive = false) {
  const stdout = new Capture();
  const stderr = new Capture(interactive);
  const out = new Output({ stdout, stderr, json, verbose: 0, interactive, color: false, now: () => new Date('2026-11-27T09:00:00.123Z') });
  return { out, stdout, stderr };
}

describe('Output', () => {
  it('in --json mode stdout gets exactly one JSON document; messages and text results stay off stdout', async () => {
    const { out, stdout, stderr } = make(true);
    out.info('planning');
    const progress = await out.progress('waiting for READY');
    progress.succeed();
    out.print('human text');
    out.result({ ok: true, n: 1 });
    out.result({ ok: false }); // a second document would break `| jq`
    expect(JSON.parse(stdout.text)).toEqual({ ok: true, n: 1 });
    expect(stderr.text).toContain('planning');
    expect(stderr.text).not.toContain('human text');
  });

  it('in text mode results go to stdout and messages to stderr, timestamped when not on a terminal', () => {
    const { out, stdout, stderr } = make(false);
    out.print('result line');
    out.warn('careful');
    out.result({ ok: true });
    expect(stdout.text).toBe('result line\n');
    expect(stderr.text).toBe('2026-11-27T09:00:00Z warning: careful\n');
  });

  it('on a terminal lines are not timestamped and debug lines need -v', () => {
    const { out, stderr } = make(false, true);
    out.info('hello');
    out.debug('hidden');
    expect(stderr.text).toBe('hello\n');
  });

  it('without a terminal, progress is plain start and end lines (no spinner control codes)', async () => {
    const { out, stderr } = make(false);
    const p = await out.progress('deploying');
    p.update('deploying: 2/3');
    p.succeed();
    expect(stderr.text).toBe('2026-11-27T09:00:00Z deploying ...\n2026-11-27T09:00:00Z deploying: 2/3\n2026-11-27T09:00:00Z deploying: done\n');
    expect(stderr.text).not.toMatch(/\u001b\[/);
  });
});
