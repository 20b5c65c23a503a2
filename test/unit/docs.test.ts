/**
 * What the docs claim, checked against the repository: the CI example fails its step when a piped
 * command fails, the README's module map names every module there is (and none that is not), and no
 * S3 path in the README is written as a glob (S3 sources are one object each).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');
/** The fenced code blocks of `markdown` with this info string (`''`: none). */
function blocks(markdown: string, lang: string): string[] {
  const found: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    const fence = /^```(\S*)\s*$/.exec(line);
    if (!open && fence) open = { lang: fence[1]!, lines: [] };
    else if (open && /^```\s*$/.test(line)) {
      if (open.lang === lang) found.push(`${open.lines.join('\n')}\n`);
      open = undefined;
    } else open?.lines.push(line);
  }
  return found;
}

describe('docs/ci.md', () => {
  it('every workflow step that pipes a command runs with pipefail (shell: bash, or set -o pipefail)', () => {
    const workflows = blocks(read('docs/ci.md'), 'yaml').map((b) => parse(b) as { jobs?: Record<string, { steps?: { run?: string; shell?: string; name?: string }[] }> });
    const piped: string[] = [];
    for (const wf of workflows) {
      for (const job of Object.values(wf.jobs ?? {})) {
        for (const step of job.steps ?? []) {
          if (!step.run) continue;
          // a pipe between commands: `|` that is not `||`
          const pipes = step.run.split('\n').some((line) => /(^|[^|])\|([^|]|$)/.test(line.replace(/'[^']*'|"[^"]*"/g, '')));
          if (!pipes) continue;
          piped.push(step.name ?? step.run);
          const pipefail = step.shell === 'bash' || /set -[a-z]*o pipefail|set -o pipefail/.test(step.run);
          expect(pipefail, `step "${step.name ?? step.run}" pipes without pipefail (GitHub's default shell is bash -e)`).toBe(true);
        }
      }
    }
    expect(piped).toContain('Pre-flight');
  });
});

describe('README', () => {
  const readme = read('README.md');

  it('the module map names every directory and module under src/lib, and nothing that is not there', () => {
    const map = blocks(readme, '').find((b) => b.includes('src/cli.ts'))!;
    const lines = new Map([...map.matchAll(/^src\/lib\/(\w+)\/\s+(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    const lib = path.join(ROOT, 'src', 'lib');
    const dirs = readdirSync(lib).filter((d) => statSync(path.join(lib, d)).isDirectory()).sort();
    expect([...lines.keys()].sort()).toEqual(dirs);
    for (const dir of dirs) {
      const modules = readdirSync(path.join(lib, dir)).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
      const line = lines.get(dir)!;
      for (const m of modules) expect(line, `src/lib/${dir}/${m}.ts is not in the README's module map`).toMatch(new RegExp(`(^|[\\s,(])${m}([\\s,)]|$)`));
      const named = [...line.replace(/\([^)]*\)/g, '').matchAll(/(?:^|, )([a-z0-9-]+)(?= |,|$)/g)].map((x) => x[1]!);
      for (const n of named) expect(modules, `the README names src/lib/${dir}/${n}.ts, which does not exist`).toContain(n);
    }
    for (const file of readdirSync(lib).filter((f) => f.endsWith('.ts'))) expect(map).toContain(file.replace(/\.ts$/, ''));
  });

  it('an s3:// glob appears only where it is expanded: inventory sources (listed with ListObjectsV2; test/integration/inventory-sources.test.ts reads one)', () => {
    const start = readme.indexOf('### `retailctl inventory reconcile`');
    const inventory = readme.slice(start, readme.indexOf('\n## ', start));
    const globs = (text: string) => [...text.matchAll(/s3:\/\/[^\s"'`)]+/g)].map((m) => m[0]).filter((p) => /[*?[{]/.test(p));
    expect(globs(inventory).length).toBeGreaterThan(0);
    expect(globs(readme.replace(inventory, ''))).toEqual([]);
  });
});
