/**
 * Runs the composite action (action.yml at the repository root) the way the runner runs it: each
 * `run:` step with `bash --noprofile --norc -eo pipefail`, its `${{ … }}` expressions substituted,
 * in a working directory, with GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files; the action's `exit-code` and
 * `json` outputs are read back as a workflow would see them.
 *
 * `uses:` steps (the node_modules cache) cannot run here and are skipped. The install step does run:
 * this checkout already has node_modules and dist/ (`npm run build` is run before the e2e tests), so
 * it skips `npm ci` and the build by its own checks, as it does on a runner after a cache hit.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './moto.js';
import { STATE_DIR } from './spawn-cli.js';

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  if?: string;
  env?: Record<string, string>;
  'working-directory'?: string;
}
interface Action {
  inputs: Record<string, { default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}

export const action = parse(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as Action;

/** Read name=value and name<<DELIM … DELIM lines, as the runner does. */
function readOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([\w-]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      expect(end, `no closing delimiter for ${heredoc[1]}`).toBeGreaterThan(i);
      outputs[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

export interface ActionRun {
  outputs: Record<string, string>;
  /** The exit status of the step that failed, else 0 (the job's view of the action). */
  status: number;
  stdout: string;
  stderr: string;
  summary: string;
  workspace: string;
}

/** Run action.yml with these inputs in a fresh workspace holding a copy of examples/ and `files`. */
export async function runAction(inputs: Record<string, string>, files: Record<string, string> = {}, options: { workspace?: string; env?: Record<string, string> } = {}): Promise<ActionRun> {
  const workspace = options.workspace ?? (await mkdtemp(path.join(os.tmpdir(), 'retailctl-action-')));
  if (!options.workspace) await cp(path.join(ROOT, 'examples'), path.join(workspace, 'examples'), { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(workspace, file)), { recursive: true });
    await writeFile(path.join(workspace, file), text);
  }
  const summaryFile = path.join(workspace, '..', `${path.basename(workspace)}-summary.md`);
  await writeFile(summaryFile, '');
  const values = Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, inputs[k] ?? v.default ?? '']));
  for (const k of Object.keys(inputs)) expect(action.inputs, `action.yml has no input ${k}`).toHaveProperty(k);
  const stepOutputs: Record<string, Record<string, string>> = {};
  const expression = (text: string) =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
      let m: RegExpExecArray | null;
      if ((m = /^inputs\.([\w-]+)$/.exec(expr))) return values[m[1]!] ?? '';
      if (expr === 'github.action_path') return ROOT;
      if (expr === 'runner.os') return 'Linux';
      if ((m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr))) return stepOutputs[m[1]!]?.[m[2]!] ?? '';
      throw new Error(`action.yml uses an expression this test does not know: ${expr}`);
    });
  let status = 0;
  let stdout = '';
  let stderr = '';
  for (const step of action.runs.steps) {
    if (step.uses) continue; // actions/cache: see the file comment
    expect(step.if, 'a run step with an if: the test would have to evaluate it').toBeUndefined();
    expect(step.shell).toBe('bash');
    const outputFile = path.join(workspace, '..', `${path.basename(workspace)}-output-${step.id ?? 'step'}`);
    await writeFile(outputFile, '');
    const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expression(String(v))]));
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expression(step.run!)], {
      cwd: path.resolve(workspace, expression(step['working-directory'] ?? '.')),
      env: {
        PATH: process.env.PATH,
        HOME: path.join(ROOT, 'test', 'fixtures', 'empty-home'),
        RETAILCTL_STATE_DIR: STATE_DIR,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: workspace,
        GITHUB_ACTION_PATH: ROOT,
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        RUNNER_OS: 'Linux',
        RUNNER_TEMP: os.tmpdir(),
        ...options.env,
        ...env,
      },
      encoding: 'utf8',
    });
    stdout += result.stdout;
    stderr += result.stderr;
    if (step.id) stepOutputs[step.id] = readOutputs(await readFile(outputFile, 'utf8'));
    if (result.status !== 0) {
      status = result.status ?? 1;
      break;
    }
  }
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([k, v]) => [k, expression(v.value)]));
  return { outputs, status, stdout, stderr, summary: await readFile(summaryFile, 'utf8'), workspace };
}

