/**
 * `retailctl --help` must not load the AWS SDK, zod, yaml, ora or inquirer: the entry bundle may
 * statically import only Node built-ins (and its own chunks). Heavy packages are reached through
 * dynamic import() in the command that needs them. (The time budget itself is in `npm run bench`.)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';

async function staticImports(file: string, seen = new Set<string>()): Promise<string[]> {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = await readFile(file, 'utf8');
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s+(?:[^'"()]*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => m[1]!);
  const external: string[] = [];
  for (const spec of specifiers) {
    if (spec.startsWith('.')) external.push(...(await staticImports(path.resolve(path.dirname(file), spec), seen)));
    else external.push(spec);
  }
  return external;
}

describe('start-up path', () => {
  it('the CLI entry statically imports nothing but Node built-ins', async () => {
    const imports = await staticImports(path.join(ROOT, 'dist', 'cli.js'));
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((s) => !s.startsWith('node:'))).toEqual([]);
  });

  it('the entry does reach the SDK, but only through dynamic import()', async () => {
    const { readdir } = await import('node:fs/promises');
    const chunks = await readdir(path.join(ROOT, 'dist'));
    const texts = await Promise.all(chunks.filter((c) => c.endsWith('.js')).map((c) => readFile(path.join(ROOT, 'dist', c), 'utf8')));
    expect(texts.some((t) => t.includes('import("@aws-sdk/client-sts")'))).toBe(true);
  });
});
