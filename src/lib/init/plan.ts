import { createHash } from 'node:crypto';

/** What `retailctl init` will do; plain data, printed by --dry-run and run by executeInit (also from a plan file). */
export interface InitPlan {
  kind: 'init';
  /** Plan format version, for scripts reading `--json`. */
  version: 1;
  /** Config file to write, as the user named it. */
  file: string;
  /** The same, absolute: where it is written (a plan file may be applied from another directory). */
  path: string;
  /** `create`: no file there; `overwrite`: a different file is there (kept as `<file>.bak`); `unchanged`: already identical. */
  action: 'create' | 'overwrite' | 'unchanged';
  /** Where the current file is kept before an overwrite. */
  backup?: string;
  /** Size of the new file in bytes. */
  bytes: number;
  /** sha256 (hex) of the new file's content. */
  sha256: string;
}

export interface InitInputs {
  file: string;
  /** `file`, absolute (default: `file` as it is). */
  path?: string;
  /** Current content of the target, if it exists. */
  existing: string | undefined;
  /** The starter config. */
  template: string;
}

/** Pure: decide what to write. */
export function planInit(inputs: InitInputs): InitPlan {
  const base = { kind: 'init', version: 1, file: inputs.file, path: inputs.path ?? inputs.file } as const;
  const content = { bytes: Buffer.byteLength(inputs.template), sha256: sha256Hex(inputs.template) };
  if (inputs.existing === undefined) return { ...base, action: 'create', ...content };
  if (inputs.existing === inputs.template) return { ...base, action: 'unchanged', ...content };
  return { ...base, action: 'overwrite', backup: `${inputs.file}.bak`, ...content };
}

export function sha256Hex(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Only replacing a file the user may have edited needs confirmation. */
export function initNeedsConfirmation(plan: InitPlan): boolean {
  return plan.action === 'overwrite';
}

export function renderInitPlan(plan: InitPlan): string {
  switch (plan.action) {
    case 'create':
      return `create ${plan.file} (${plan.bytes} bytes): a starter config with every section; edit it, then run \`retailctl doctor\``;
    case 'overwrite':
      return `overwrite ${plan.file} with the starter config (${plan.bytes} bytes); the current file is kept as ${plan.backup}`;
    case 'unchanged':
      return `${plan.file} already holds the starter config: nothing to do`;
  }
}
