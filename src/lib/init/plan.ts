/** What `retailctl init` will do; plain data, printed by --dry-run and run by executeInit. */
export interface InitPlan {
  /** Plan format version, for scripts reading `--json`. */
  version: 1;
  /** Config file to write, as the user named it. */
  file: string;
  /** `create`: no file there; `overwrite`: a different file is there (kept as `<file>.bak`); `unchanged`: already identical. */
  action: 'create' | 'overwrite' | 'unchanged';
  /** Where the current file is kept before an overwrite. */
  backup?: string;
  /** Size of the new file in bytes. */
  bytes: number;
}

export interface InitInputs {
  file: string;
  /** Current content of the target, if it exists. */
  existing: string | undefined;
  /** The starter config. */
  template: string;
}

/** Pure: decide what to write. */
export function planInit(inputs: InitInputs): InitPlan {
  const bytes = Buffer.byteLength(inputs.template);
  if (inputs.existing === undefined) return { version: 1, file: inputs.file, action: 'create', bytes };
  if (inputs.existing === inputs.template) return { version: 1, file: inputs.file, action: 'unchanged', bytes };
  return { version: 1, file: inputs.file, action: 'overwrite', backup: `${inputs.file}.bak`, bytes };
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
