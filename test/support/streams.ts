import { PassThrough } from 'node:stream';
import { run } from '../../src/cli.js';

/** A stream that remembers what was written. */
export class Capture extends PassThrough {
  text = '';
  /** Terminal width, as a TTY stream reports it. */
  readonly columns: number | undefined;
  constructor(readonly isTTY = false) {
    super();
    this.columns = isTTY ? 100 : undefined;
    this.on('data', (chunk: Buffer) => {
      this.text += chunk.toString();
    });
  }
}

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process with captured streams (no TTY unless asked) and a fixed clock (unless `now` is given). */
export async function runInProcess(argv: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; tty?: boolean; now?: () => Date } = {}): Promise<InProcessResult> {
  const stdout = new Capture(false);
  const stderr = new Capture(options.tty ?? false);
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty ?? false });
  const code = await run(argv, {
    stdout,
    stderr,
    stdin,
    env: options.env ?? { CI: 'true' },
    cwd: options.cwd ?? process.cwd(),
    now: options.now ?? (() => new Date('2026-11-27T09:00:00Z')),
    processHandlers: false,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
