import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveOutputPath } from '../io/paths.js';
import { writeFileAtomic } from '../io/rows.js';
import { packageRoot } from '../util/package-root.js';
import type { InitPlan } from './plan.js';

/** The starter config shipped with the package (the documented example). */
export function readTemplate(): Promise<string> {
  return readFile(path.join(packageRoot(), 'examples', 'retailctl.yaml'), 'utf8');
}

/** Current content of the target, or undefined when there is none. */
export async function readExisting(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Carry out the plan. The new file appears atomically (write aside, then rename), after any backup. */
export async function executeInit(plan: InitPlan, cwd: string, template: string): Promise<void> {
  if (plan.action === 'unchanged') return;
  const target = path.resolve(cwd, plan.file);
  // the backup is of the file really there (a symlinked config: its target); the new content is
  // written through the link, which stays
  if (plan.action === 'overwrite' && plan.backup) await copyFile(await resolveOutputPath(target), path.resolve(cwd, plan.backup));
  await writeFileAtomic(target, [template]);
}
