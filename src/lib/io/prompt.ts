import { ExitCode, RetailctlError } from '../errors.js';

export interface ConfirmOptions {
  /** `--yes` was given: no question asked. */
  yes: boolean;
  /** A person can answer: stdin and stderr are TTYs and not under CI. */
  canPrompt: boolean;
  /** The question, e.g. "Apply 3 changes to www.shop.example.com?" */
  question: string;
  /** The exact command to rerun with `--yes`, shown when no one can be asked. */
  rerunCommand: string;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

/**
 * Ask to go ahead with a plan. Never hangs: without a TTY (or under CI) and without `--yes`
 * it refuses with exit 3 and the command to rerun. Prompts only ever confirm; values come from flags.
 */
export async function confirmPlan(options: ConfirmOptions): Promise<void> {
  if (options.yes) return;
  if (!options.canPrompt) {
    throw new RetailctlError('CONFIRMATION_REQUIRED', 'this command writes and needs confirmation, but there is no terminal to ask (no TTY, or CI is set)', {
      exitCode: ExitCode.ConfirmationRequired,
      hint: `review the plan, then rerun with --yes: ${options.rerunCommand}`,
    });
  }
  const { confirm } = await import('@inquirer/prompts');
  let answer: boolean;
  try {
    answer = await confirm(
      { message: options.question, default: false },
      { input: options.input ?? process.stdin, output: options.output ?? process.stderr },
    );
  } catch (err) {
    // @inquirer/prompts rejects with ExitPromptError on Ctrl-C
    if (err instanceof Error && err.name === 'ExitPromptError') {
      throw new RetailctlError('INTERRUPTED', 'interrupted at the confirmation prompt; nothing was changed', { exitCode: ExitCode.Interrupted });
    }
    throw err;
  }
  if (!answer) {
    throw new RetailctlError('ABORTED', 'not confirmed; nothing was changed', {
      exitCode: ExitCode.ConfirmationRequired,
      hint: `to apply without being asked: ${options.rerunCommand}`,
    });
  }
}

/** Quote one argument for a POSIX shell, only when it needs it. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `retailctl <argv> --yes`, quoted for copy-paste; `--yes` is added once. */
export function rerunWithYes(argv: readonly string[]): string {
  const args = argv.filter((a) => a !== '--yes' && a !== '-y');
  return ['retailctl', ...args.map(shellQuote), '--yes'].join(' ');
}
