/**
 * Running inside a GitHub Actions job: workflow commands (annotations, log groups) and the step
 * summary. Everything here is decided from the run's environment (`deps.env` in cli.ts), never from
 * process.env, and nothing of it happens unless GITHUB_ACTIONS is `true`.
 *
 * Workflow commands are read by the runner from stdout and stderr; retailctl writes them to stderr,
 * so that with `--json` stdout stays one JSON document.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ErrorLocation } from '../errors.js';
import { stepSummary, type SummaryInput } from './summary.js';

/** Annotations written for one error; the rest are counted in one warning. */
export const MAX_ANNOTATIONS = 10;

/** Escape the message of a workflow command (GitHub's rules: `%`, CR and LF). */
export function escapeData(value: string): string {
  return value.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/** Escape a property value of a workflow command (`file=…`): also `:` and `,`. */
export function escapeProperty(value: string): string {
  return escapeData(value).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

/** `::name key=value,…::message`, with every part escaped, as one line. */
export function workflowCommand(name: string, properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(',');
  return `::${name}${props ? ` ${props}` : ''}::${escapeData(message)}`;
}

/** Where the lines go: Output's route for workflow commands (sanitised, on stderr, not timestamped). */
export interface WorkflowSink {
  workflowCommand(line: string): void;
  warn(message: string): void;
}

/** What the run knows when it ends: which command, its document, its exit code. */
export interface RunEnd {
  /** `cdn failover`, `inventory reconcile`; `` when no command was reached (a usage error). */
  command: string;
  document: Record<string, unknown>;
  exitCode: number;
}

/** GitHub Actions for this run, or undefined when not running in a job (GITHUB_ACTIONS is not `true`). */
export function githubActions(env: NodeJS.ProcessEnv, cwd: string): GithubActions | undefined {
  return env.GITHUB_ACTIONS === 'true' ? new GithubActions(env, cwd) : undefined;
}

export class GithubActions {
  readonly #summaryFile: string | undefined;
  readonly #workspace: string | undefined;
  readonly #cwd: string;

  constructor(env: NodeJS.ProcessEnv, cwd: string) {
    this.#summaryFile = env.GITHUB_STEP_SUMMARY || undefined;
    this.#workspace = env.GITHUB_WORKSPACE || undefined;
    this.#cwd = cwd;
  }

  /**
   * Annotation lines for an error: one `::error` per location (at most MAX_ANNOTATIONS), then one
   * `::warning` with how many more there are; an error without a location is one `::error`.
   */
  annotations(title: string, message: string, locations: readonly ErrorLocation[], total = locations.length): string[] {
    if (!locations.length) return [workflowCommand('error', { title }, message)];
    const lines = locations.slice(0, MAX_ANNOTATIONS).map((l) => {
      const file = this.#annotationPath(l.file);
      return workflowCommand('error', { title, file, line: file ? l.line : undefined, col: file && l.line !== undefined ? l.col : undefined }, file ? l.message : `${l.file}${l.line ? `:${l.line}` : ''}: ${l.message}`);
    });
    const more = Math.max(total, locations.length) - lines.length;
    if (more > 0) lines.push(workflowCommand('warning', { title }, `${more} more problem${more === 1 ? '' : 's'} not annotated: the job log (or --json) lists them`));
    return lines;
  }

  /** Append the run's Markdown summary to $GITHUB_STEP_SUMMARY; a failure to write is a warning, never the run's failure. */
  writeSummary(out: WorkflowSink, end: RunEnd & SummaryInput): void {
    if (!this.#summaryFile) return;
    try {
      appendFileSync(this.#summaryFile, stepSummary(end));
    } catch (err) {
      out.warn(`GitHub step summary not written to ${this.#summaryFile}: ${(err as Error).message}`);
    }
  }

  /** A result: the step summary. */
  succeeded(out: WorkflowSink, end: RunEnd): void {
    this.writeSummary(out, end);
  }

  /** An error: its annotations (on stderr), then the step summary. */
  failed(out: WorkflowSink, end: RunEnd, error: { message: string; details: readonly string[]; locations: readonly ErrorLocation[]; locationCount: number }): void {
    const title = `retailctl${end.command ? ` ${end.command}` : ''}`;
    for (const line of this.annotations(title, error.message, error.locations, error.locationCount)) out.workflowCommand(line);
    this.writeSummary(out, { ...end, details: error.details });
  }

  /**
   * A path GitHub can put an annotation on: relative to the workspace (the repository checkout);
   * undefined for a URL (an s3:// source) or a file outside the workspace.
   */
  #annotationPath(file: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return undefined;
    const absolute = path.resolve(this.#cwd, file);
    const relative = path.relative(this.#workspace ?? this.#cwd, absolute);
    if (relative.startsWith('..') || path.isAbsolute(relative)) return this.#workspace ? undefined : absolute;
    return relative.split(path.sep).join('/');
  }
}

/** `cdn failover` for the command commander ran: its names below the program's. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
