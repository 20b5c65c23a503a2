import { randomBytes } from 'node:crypto';
import { styleText } from 'node:util';
import { workflowCommand } from '../github/actions.js';
import { sanitizeText } from '../util/sanitize.js';

/** A writable text stream plus whether it is a terminal. */
export interface TextSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface OutputOptions {
  stdout: TextSink;
  stderr: TextSink;
  /** `--json`: stdout carries exactly one JSON document. */
  json: boolean;
  /** `-v` count: 1 shows debug lines and stack traces, 3 adds SDK request logs. */
  verbose: number;
  /** Spinners, progress bars and prompts allowed: stderr is a TTY and not under CI. */
  interactive: boolean;
  /** Colours allowed: interactive, not `--no-color`, no NO_COLOR. */
  color: boolean;
  /** Inside a GitHub Actions job: workflow commands are written, `-v` lines are folded into a log group. */
  github?: boolean;
  now?: () => Date;
}

type Style = Parameters<typeof styleText>[0];

/** A long-running step: a spinner on a terminal, a start line and an end line otherwise. */
export interface Progress {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

/**
 * The single route for everything retailctl prints. Results go to stdout; messages, spinners
 * and progress go to stderr, so `retailctl ... --json | jq` always sees one clean document.
 */
export class Output {
  readonly json: boolean;
  readonly verbose: number;
  readonly interactive: boolean;
  readonly color: boolean;
  readonly github: boolean;
  readonly #stdout: TextSink;
  readonly #stderr: TextSink;
  readonly #now: () => Date;
  #resultWritten = false;
  #groupOpen = false;
  /**
   * Output's own colour codes travel as this mark until they are printed: every ESC that reaches a
   * sink is escaped (it came from data), and only the mark becomes ESC again. Nothing read from a
   * file or from AWS can hold it: it is random for each run.
   */
  readonly #mark = `\ue000${randomBytes(6).toString('hex')}\ue001`;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.interactive = options.interactive;
    this.color = options.color;
    this.github = options.github ?? false;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
    this.#now = options.now ?? (() => new Date());
  }

  /** Apply a colour or style when colours are on. */
  style(format: Style, text: string): string {
    return this.color ? styleText(format, text).replaceAll('\x1b', this.#mark) : text;
  }

  /** A message line on stderr. Off a terminal each line is timestamped, for CI logs. */
  info(message: string): void {
    this.#line(message);
  }

  warn(message: string): void {
    this.#line(`${this.style('yellow', 'warning:')} ${message}`);
  }

  /** Shown only with -v (level 1) or more v's. */
  debug(message: string, level = 1): void {
    if (this.verbose < level) return;
    // in a GitHub Actions log the -v lines fold into one group, opened here and closed before the result
    if (this.github && !this.#groupOpen) {
      this.#groupOpen = true;
      this.workflowCommand(workflowCommand('group', {}, 'retailctl debug output (-v)'));
    }
    this.#line(this.style('dim', message));
  }

  /** Close the `-v` log group, if one is open (before the result, an error, the exit). */
  endGroup(): void {
    if (!this.#groupOpen) return;
    this.#groupOpen = false;
    this.workflowCommand('::endgroup::');
  }

  /**
   * A GitHub Actions workflow command (`::error file=…::…`), already escaped, on stderr: at the start
   * of its line (no timestamp), sanitised like every line. Nothing is written outside a job.
   */
  workflowCommand(line: string): void {
    if (!this.github) return;
    this.#stderr.write(`${sanitizeText(line.replace(/[\r\n]/g, (c) => (c === '\r' ? '%0D' : '%0A')))}\n`);
  }

  /** An error report on stderr (text mode). */
  error(message: string, lines: string[] = []): void {
    this.endGroup();
    this.#line(`${this.style('red', 'error:')} ${message}`);
    for (const extra of lines) this.#line(`  ${extra}`);
  }

  /** Write raw bytes to stdout (an output file given as `-`); nothing else goes there then. */
  get rawStdout(): TextSink {
    return this.#stdout;
  }

  /** Human-readable result text on stdout (ignored in --json mode, where `result()` is the output). */
  print(text: string): void {
    if (this.json) return;
    this.endGroup();
    const safe = this.#safe(text);
    this.#stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
  }

  /** The run's one JSON document on stdout; later calls are ignored so stdout stays valid JSON. */
  result(document: Record<string, unknown>): void {
    this.endGroup();
    if (!this.json || this.#resultWritten) return;
    this.#resultWritten = true;
    const text = JSON.stringify(document, null, 2);
    // in a job the runner reads stdout for `##[command]` too: the same JSON, the bracket written as an escape
    this.#stdout.write(`${this.github ? text.replaceAll('##[', '##\\u005b') : text}\n`);
  }

  /** Start a long step. ora is imported only when a spinner is actually shown. */
  async progress(text: string): Promise<Progress> {
    if (!this.interactive) {
      this.info(`${text} ...`);
      return {
        update: (t) => this.info(t),
        succeed: (t) => this.info(`${t ?? text}: done`),
        fail: (t) => this.info(`${t ?? text}: failed`),
        stop: () => {},
      };
    }
    const { default: ora } = await import('ora');
    const spinner = ora({ text: this.#safe(text), stream: this.#stderr as NodeJS.WritableStream, color: 'cyan', isEnabled: true, discardStdin: false }).start();
    return {
      update: (t) => {
        spinner.text = this.#safe(t);
      },
      succeed: (t) => spinner.succeed(t === undefined ? t : this.#safe(t)),
      fail: (t) => spinner.fail(t === undefined ? t : this.#safe(t)),
      stop: () => spinner.stop(),
    };
  }

  /** `text` with every control character from data escaped, and this run's own colours restored. */
  #safe(text: string): string {
    let safe = sanitizeText(text);
    // in a job, a line of data that starts with `::` would be run as a workflow command
    // and the runner's older form, `##[command]`, is found anywhere in a line
    if (this.github) safe = safe.replace(/^(\s*):(?=:)/gm, '$1\\x3a').replaceAll('##[', '##\\x5b');
    return this.color ? safe.replaceAll(this.#mark, '\x1b') : safe;
  }

  #line(message: string): void {
    const prefix = this.interactive ? '' : `${this.#now().toISOString().replace(/\.\d{3}Z$/, 'Z')} `;
    this.#stderr.write(`${prefix}${this.#safe(message)}\n`);
  }
}

/** Whether an environment variable is set to something truthy (`CI=true`, `CI=1`; not `false`/`0`/empty). */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
