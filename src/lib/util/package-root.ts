import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The installed package's root directory (where package.json and examples/ are), found by walking
 * up from this module: the same answer from the dist/ bundle and from src/ under the test runner.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('retailctl: cannot find its package.json');
    dir = parent;
  }
  cached = dir;
  return dir;
}
