/**
 * docs/ci.md's plan-in-the-pull-request / apply-on-merge workflow, run against the emulator: the plan
 * job's action step (its `with:` as written in the doc), its PR-comment command, and the apply job's
 * action step, in one workspace as the artifact carries plan.json from one job to the other.
 */
import { readFile, writeFile, mkdir, mkdtemp } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runAction } from '../support/action.js';
import { ROOT } from '../support/moto.js';
import { readActions } from '../support/schedule-timeline.js';
import { seedStorefront } from '../support/seed.js';
import { BIN } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const aas = new ApplicationAutoScalingClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => aas.destroy());

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}

/** A step's `env:`, its secrets given a test value (the key a repository secret would hold). */
const stepEnv = (step: Step) => Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g, 'test-secret-$1')]));
interface Workflow {
  name: string;
  jobs: Record<string, { steps: Step[] }>;
}

async function workflow(name: string): Promise<Workflow> {
  const text = await readFile(path.join(ROOT, 'docs', 'ci.md'), 'utf8');
  const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Workflow);
  const found = blocks.find((b) => b?.name === name);
  if (!found) throw new Error(`docs/ci.md has no workflow named ${name}`);
  return found;
}

const actionStep = (steps: Step[]) => steps.find((s) => s.uses?.endsWith('/retailctl@v1'))!;

describe('docs/ci.md: plan in the pull request, apply on merge', () => {
  it('the plan job writes the plan and its comment without changing AWS; the apply job applies exactly it', async () => {
    await seedStorefront(endpoint);
    const wf = await workflow('storefront-change');
    const plan = actionStep(wf.jobs.plan!.steps);
    const apply = actionStep(wf.jobs.apply!.steps);
    expect(plan.with).toMatchObject({ 'plan-out': 'plan.json' });
    expect(apply.with).toMatchObject({ plan: 'plan.json' });

    // the ops repository: a campaign as the doc's command names it, on the seeded ECS service
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'retailctl-workflow-'));
    const campaign = /--campaign (\S+)/.exec(plan.with!.command!)![1]!;
    await mkdir(path.join(workspace, 'ops'));
    await writeFile(path.join(workspace, plan.with!.config!), `campaigns:\n  ${campaign}:\n    sendAt: "2030-11-27T11:00:00"\n    timezone: America/New_York\n    leadTime: 30m\n    duration: 4h\n    targets:\n      - ecs: storefront/web\n        min: 60\n`);
    const awsEnv = { ...env, AWS_REGION: 'us-east-1' };

    await control.clearRequests();
    const planned = await runAction(plan.with!, {}, { workspace, env: { ...awsEnv, ...stepEnv(plan) } });
    expect(planned.status, planned.stderr).toBe(0);
    expect(JSON.parse(planned.outputs.json!)).toMatchObject({ ok: true, applied: false, kind: 'prescale.schedule', planFile: 'plan.json' });
    expect((await control.requests()).filter((r) => r.service === 'application-autoscaling' && !/^Describe/.test(r.operation ?? ''))).toEqual([]);
    expect(planned.summary).toContain('**Planned, not applied**');
    // signed with the key the doc puts in both jobs
    expect(JSON.parse(await readFile(path.join(workspace, 'plan.json'), 'utf8')).digest).toMatch(/^hmac-sha256:/);

    // the PR comment step's command, as the doc writes it (`npx retailctl` is the ops repository's install)
    const commentStep = wf.jobs.plan!.steps.find((s) => s.run?.includes('plan show'))!;
    const comment = commentStep.run!.split('\n').find((l) => l.includes('plan show'))!;
    const shown = spawnSync('bash', ['-eo', 'pipefail', '-c', comment.replace('npx retailctl', `node ${BIN}`)], { cwd: workspace, encoding: 'utf8', env: { PATH: process.env.PATH, CI: 'true', ...stepEnv(commentStep) } });
    expect(shown.status, shown.stderr).toBe(0);
    const md = await readFile(path.join(workspace, 'plan.md'), 'utf8');
    expect(md).toContain('### retailctl plan: `prescale.schedule`');
    expect(md).toContain('ecs storefront/web');

    const applied = await runAction(apply.with!, {}, { workspace, env: { ...awsEnv, ...stepEnv(apply) } });
    expect(applied.status, applied.stderr).toBe(0);
    expect(JSON.parse(applied.outputs.json!)).toMatchObject({ ok: true, applied: true, kind: 'prescale.schedule' });
    const actions = await readActions(aas, { ServiceNamespace: 'ecs', ResourceId: 'service/storefront/web' });
    expect(actions.map((a) => a.name).sort()).toEqual([`retailctl-${campaign}-storefront-web-down`, `retailctl-${campaign}-storefront-web-drain`, `retailctl-${campaign}-storefront-web-up`].sort());

    // merging twice (or re-running the apply job) changes nothing: exit 1, the plan is spent
    const again = await runAction(apply.with!, {}, { workspace, env: { ...awsEnv, ...stepEnv(apply) } });
    expect(again.outputs['exit-code']).toBe('1');
    expect(JSON.parse(again.outputs.json!)).toMatchObject({ ok: false, error: { code: 'PLAN_ALREADY_APPLIED' } });
    // a plan the apply job's key did not sign is refused (exit 2), whatever its digest
    const unsigned = await runAction(apply.with!, {}, { workspace, env: { ...awsEnv, RETAILCTL_PLAN_KEY: 'another-key' } });
    expect(unsigned.outputs['exit-code']).toBe('2');
  });
});
