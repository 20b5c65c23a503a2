/**
 * `retailctl --help` must load nothing but the CLI bundle: not the AWS SDK, zod, yaml, ora or
 * inquirer. Heavy packages are loaded on first use by the command that needs them.
 * (The time budget itself is measured by `npm run bench`, not here.)
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';

/** Modules in the require cache after running the CLI in a fresh node process. */
function loadedAfter(args: string[]): string[] {
  const script = `
    const bundle = require(${JSON.stringify(path.join(ROOT, 'dist', 'cli.cjs'))});
    const sink = { write() {} };
    bundle.run(${JSON.stringify(args)}, { stdout: sink, stderr: sink, processHandlers: false }).then(() => {
      process.stdout.write(JSON.stringify(Object.keys(require.cache)));
    });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', CI: 'true' } }).toString()) as string[];
}

describe('start-up path', () => {
  it('--help loads only the CLI bundle', () => {
    const loaded = loadedAfter(['--help']);
    expect(loaded.some((f) => f.endsWith('cli.cjs'))).toBe(true);
    expect(loaded.filter((f) => f.includes('node_modules'))).toEqual([]);
  });

  it('a command that needs the config does load zod and yaml (so the check above can fail)', () => {
    const loaded = loadedAfter(['config', 'validate', '--config', path.join(ROOT, 'examples', 'retailctl.yaml')]);
    expect(loaded.some((f) => f.includes(`node_modules${path.sep}zod`))).toBe(true);
    expect(loaded.some((f) => f.includes(`node_modules${path.sep}yaml`))).toBe(true);
  });
});
