/**
 * The composite action (action.yml at the repository root), run as the runner runs it
 * (test/support/action.ts), in a temporary workspace holding a copy of examples/.
 */
import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { action, runAction } from '../support/action.js';
import { ROOT } from '../support/moto.js';

describe('action.yml', () => {
  it('is a composite action with the documented inputs and outputs', () => {
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs).sort()).toEqual(['command', 'config', 'plan', 'plan-out', 'working-directory']);
    expect(Object.keys(action.outputs).sort()).toEqual(['exit-code', 'json']);
  });

  it('a passing command: exit-code 0 and its --json document as the json output', async () => {
    const r = await runAction({ command: 'config validate', config: 'examples/retailctl.yaml' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.outputs['exit-code']).toBe('0');
    expect(JSON.parse(r.outputs.json!)).toEqual({ ok: true, file: 'examples/retailctl.yaml', sections: expect.arrayContaining(['1 campaign', 'inventory (4 sources)']) });
    expect(r.summary).toContain('### retailctl config validate\n\n**Done** (exit 0)');
  });

  it('inventory reconcile on the example exports: exit-code 5, the drift in json and the summary, and the step fails with 5', async () => {
    const r = await runAction({ command: 'inventory reconcile', config: 'examples/retailctl.yaml' });
    expect(r.status).toBe(5);
    expect(r.outputs['exit-code']).toBe('5');
    const doc = JSON.parse(r.outputs.json!) as { ok: boolean; failing: string[]; summary: { byClass: Record<string, number> } };
    expect(doc).toMatchObject({ ok: false, failing: ['oversell'], summary: { byClass: { oversell: 1 } } });
    expect(r.summary).toContain('| class | wms | web | marketplace | total |');
    expect(r.summary).toContain('| oversell (fails the run) | 0 | 0 | 1 | 1 |');
    // the document is shown in the log too, folded
    expect(r.stdout).toMatch(/::group::retailctl --json document \(exit 5\)\n::stop-commands::(retailctl-[0-9a-f]{32})\n\{\n[\s\S]*\n::\1::\n::endgroup::/);
    // retailctl wrote its own state into the working directory, not into the action's checkout
    expect((await stat(path.join(r.workspace, '.retailctl'))).isDirectory()).toBe(true);
  });

  it('a bad config: exit-code 2, the error document, and an ::error annotation at the file, line and column', async () => {
    const bad = await readFile(path.join(ROOT, 'test', 'fixtures', 'bad-config.yaml'), 'utf8');
    const r = await runAction({ command: 'config validate', config: 'ops/retailctl.yaml' }, { 'ops/retailctl.yaml': bad });
    expect(r.status).toBe(2);
    expect(r.outputs['exit-code']).toBe('2');
    expect(JSON.parse(r.outputs.json!)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    expect(r.stderr).toMatch(/^::error title=retailctl config validate,file=ops\/retailctl\.yaml,line=9,col=9::campaigns\.spring-sale\.targets\[1\]: /m);
    expect(r.summary).toContain('**Failed** (exit 2): CONFIG\\_INVALID');
  });

  it('inputs are data: a command with shell syntax runs nothing of it', async () => {
    const r = await runAction({ command: 'config validate $(touch pwned-1) ; touch pwned-2 `touch pwned-3`', config: 'examples/retailctl.yaml' });
    expect(r.outputs['exit-code']).toBe('2');
    expect(r.status).toBe(2);
    // retailctl got the words as they are, and refused them as arguments
    expect(JSON.parse(r.outputs.json!)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    for (const f of ['pwned-1', 'pwned-2', 'pwned-3']) await expect(stat(path.join(r.workspace, f))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a command written over several lines is read whole', async () => {
    const r = await runAction({ command: 'config\n  validate\n', config: 'examples/retailctl.yaml' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.outputs.json!)).toMatchObject({ ok: true, file: 'examples/retailctl.yaml' });
  });

  it('plan-out is passed on as --plan-out <file>', async () => {
    // `config validate` writes nothing, so it takes no --plan-out: the option reaching retailctl is the point
    const r = await runAction({ command: 'config validate', config: 'examples/retailctl.yaml', 'plan-out': 'plan.json' });
    expect(r.outputs['exit-code']).toBe('2');
    expect((JSON.parse(r.outputs.json!) as { error: { message: string } }).error.message).toContain("'--plan-out'");
  });

  it('plan runs apply <plan> --yes, and refuses a command beside it', async () => {
    const both = await runAction({ command: 'cdn failover storefront', plan: 'plan.json' });
    expect(both.status).toBe(2);
    expect(both.outputs['exit-code']).toBe('2');
    expect(both.outputs.json).toBe('');
    expect(both.stdout).toContain('::error title=retailctl action::give either plan (to apply a plan file) or command, not both');
    const apply = await runAction({ command: 'apply', plan: 'no-such-plan.json', config: 'examples/retailctl.yaml' });
    expect(apply.outputs['exit-code']).toBe('2');
    expect(JSON.parse(apply.outputs.json!)).toMatchObject({ ok: false });
  });

  it('no command and no plan is refused before retailctl runs', async () => {
    const r = await runAction({});
    expect(r.status).toBe(2);
    expect(r.outputs['exit-code']).toBe('2');
    expect(r.stdout).toContain('::error title=retailctl action::no command');
  });
});
