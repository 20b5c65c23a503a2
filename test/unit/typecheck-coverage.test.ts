/**
 * `npm run typecheck` (which `npm test`, and so CI, runs) covers every TypeScript file in the
 * repository: src, test, scripts, bench and the tool configs. A file outside tsconfig.json's
 * `include` would never be compiled and could rot unseen.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

it('tsconfig.json includes every TypeScript file git tracks, and npm test runs the type check', () => {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.mts', '*.cts', '*.tsx'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.startsWith('node_modules/'));
  expect(tracked.length).toBeGreaterThan(50);
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const compiled = new Set(parsed.fileNames.map((f) => path.relative(ROOT, f)));
  expect(tracked.filter((f) => !compiled.has(f))).toEqual([]);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.typecheck).toBe('tsc -p tsconfig.json');
  expect(pkg.scripts.test).toContain('npm run typecheck');
  expect(readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
});
