/**
 * `retailctl inventory reconcile --publish … --plan-out` then `retailctl apply`, through the built
 * binary against the emulator: apply sends exactly the planned events (the same run id and
 * idempotency keys) that the direct command would; a queue made again since, an edited or expired
 * plan, or a second apply is refused and nothing is sent.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, STATE_DIR, type SpawnOptions } from '../support/spawn-cli.js';
import { oversoldInventory } from '../support/oversold-inventory.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const sqs = new SQSClient(common);
const events = new EventBridgeClient(common);
afterAll(() => [sqs, events].forEach((c) => c.destroy()));

const N = 23; // 23 oversold SKUs: 3 batches of at most 10
const NO_STACK = /\n\s+at /;
let dir: string;

beforeAll(async () => {
  dir = await oversoldInventory('retailctl-publish-plan-', N);
});

const run = (args: string[], options: SpawnOptions = {}) => spawnCli([...args, '--config', path.join(dir, 'retailctl.yaml')], { env, cwd: dir, ...options });
const reconcile = (publish: string, ...more: string[]) => run(['inventory', 'reconcile', '--publish', publish, ...more]);
const planPath = (name: string) => path.join(dir, name);
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => / error: /.test(l));

type Detail = { sku: string; runId: string; idempotencyKey: string; class: string };
async function drain(queueUrl: string): Promise<Detail[]> {
  const out: Detail[] = [];
  for (;;) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!res.Messages?.length) return out;
    for (const m of res.Messages) out.push((JSON.parse(m.Body!) as { detail: Detail }).detail);
  }
}

async function sends(): Promise<string[]> {
  return (await control.requests()).map((r) => r.operation ?? '').filter((o) => o === 'SendMessageBatch' || o === 'PutEvents');
}

const keys = (list: Detail[]) => list.map((d) => `${d.sku}:${d.idempotencyKey}`).sort();

describe('inventory.publish: --plan-out, then apply', () => {
  it('sqs: the plan sends nothing (the --out file is written); apply sends exactly the planned events, as the direct command does; a second apply is refused', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-plan' }));
    await control.clearRequests();
    const planned = await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('publish.json'), '--out', 'drift.csv', '--json');
    expect(planned.code, planned.stderr).toBe(5); // oversell is in failOn: the reconcile's own verdict, as without --plan-out
    expect(JSON.parse(planned.stdout)).toMatchObject({ ok: false, published: { events: N, sent: 0, planFile: planPath('publish.json'), digest: expect.stringMatching(/^sha256:/) } });
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
    expect((await readFile(path.join(dir, 'drift.csv'), 'utf8')).trim().split('\n')).toHaveLength(N + 1);

    const doc = JSON.parse(await readFile(planPath('publish.json'), 'utf8')) as { kind: string; digest: string; plan: { runId: string; events: Detail[] }; actions: { call: string; params: { entries: number } }[]; preconditions: { id: string; value: Record<string, string> }[] };
    expect(doc.kind).toBe('inventory.publish');
    expect(doc.plan.events).toHaveLength(N);
    expect(doc.actions.map((a) => [a.call, a.params.entries])).toEqual([['sqs:SendMessageBatch', 10], ['sqs:SendMessageBatch', 10], ['sqs:SendMessageBatch', 3]]);
    expect(doc.preconditions).toEqual([{ id: `sqs:${QueueUrl}`, what: `queue ${QueueUrl}`, value: { QueueArn: expect.stringContaining(':drift-plan'), CreatedTimestamp: expect.any(String) } }]);

    const shown = await run(['plan', 'show', planPath('publish.json')]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`publish 23 drift events to sqs:${QueueUrl} in 3 calls (run ${doc.plan.runId}): 23 oversell`);
    expect(shown.stdout).toMatch(/1\. sqs:SendMessageBatch queue \S+: events 1–10 of 23: 10 oversell/);

    const applied = await run(['apply', planPath('publish.json'), '--yes', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ ok: true, applied: true, kind: 'inventory.publish', published: { sent: N, events: N, calls: 3, failed: [], runId: doc.plan.runId } });
    const received = await drain(QueueUrl!);
    expect(received).toHaveLength(N);
    expect(new Set(received.map((d) => d.runId))).toEqual(new Set([doc.plan.runId]));
    expect(keys(received)).toEqual(keys(doc.plan.events));

    // again: refused by the local record, nothing sent twice
    await control.clearRequests();
    const again = await run(['apply', planPath('publish.json'), '--yes']);
    expect(again.code).toBe(1);
    expect(errorLines(again.stderr)).toEqual([expect.stringMatching(/publish\.json: already applied at \S+Z \(finished; recorded in .*applied-plans\/[0-9a-f]{40}\.json\): not applied again, nothing was changed$/)]);
    expect(again.stderr).not.toMatch(NO_STACK);
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
    const { recordFile } = await import('../../src/lib/plan/applied.js');
    expect(JSON.parse(await readFile(recordFile({ RETAILCTL_STATE_DIR: STATE_DIR }, doc.digest), 'utf8'))).toMatchObject({ outcome: 'done', exitCode: 0, digest: doc.digest });

    // with another config on this host: still the same plan, still refused
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await writeFile(path.join(elsewhere, 'retailctl.yaml'), await readFile(path.join(dir, 'retailctl.yaml'), 'utf8'));
    const otherConfig = await spawnCli(['apply', planPath('publish.json'), '--yes', '--config', path.join(elsewhere, 'retailctl.yaml')], { env });
    expect(otherConfig.code).toBe(1);
    expect(await drain(QueueUrl!)).toEqual([]);

    // the direct command sends the same events (its own run id)
    const { QueueUrl: other } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-direct' }));
    expect((await reconcile(`sqs:${other}`, '--yes')).code).toBe(5);
    expect(keys(await drain(other!))).toEqual(keys(received));
  });

  it('eventbridge: apply puts the planned events on the bus (a rule delivers them to a queue); a second apply sends nothing', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bus-plan-target' }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await events.send(new CreateEventBusCommand({ Name: 'inventory-plan' }));
    await events.send(new PutRuleCommand({ Name: 'drift', EventBusName: 'inventory-plan', EventPattern: JSON.stringify({ source: ['retailctl.inventory'] }) }));
    await events.send(new PutTargetsCommand({ Rule: 'drift', EventBusName: 'inventory-plan', Targets: [{ Id: 'q', Arn: Attributes!.QueueArn! }] }));
    expect((await reconcile('eventbridge:inventory-plan', '--plan-out', planPath('bus.json'))).code).toBe(5);
    const doc = JSON.parse(await readFile(planPath('bus.json'), 'utf8')) as { actions: { call: string }[]; preconditions: { value: { Arn: string } }[] };
    expect(doc.actions.map((a) => a.call)).toEqual(['events:PutEvents', 'events:PutEvents', 'events:PutEvents']);
    expect(doc.preconditions[0]!.value.Arn).toContain(':event-bus/inventory-plan');
    expect(await drain(QueueUrl!)).toEqual([]);

    const applied = await run(['apply', planPath('bus.json'), '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/published 23 of 23 events to eventbridge:inventory-plan in 3 calls \(run \S+\)/);
    expect(await drain(QueueUrl!)).toHaveLength(N);

    await control.clearRequests();
    const again = await run(['apply', planPath('bus.json'), '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already applied at');
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
  });

  it('a queue deleted and made again under the same URL since the plan refuses it: exit 1, the difference listed, nothing sent', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-recreated' }));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('recreated.json'))).code).toBe(5);
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    const gone = await run(['apply', planPath('recreated.json'), '--yes']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`queue ${QueueUrl}: was there when planned, now absent`);

    await new Promise((r) => setTimeout(r, 1100)); // CreatedTimestamp is in seconds
    const again = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-recreated' }));
    expect(again.QueueUrl).toBe(QueueUrl);
    await control.clearRequests();
    const res = await run(['apply', planPath('recreated.json'), '--yes', '--json']);
    expect(res.code).toBe(1);
    const body = JSON.parse(res.stdout) as { applied: boolean; error: { code: string; details: string[] } };
    expect(body).toMatchObject({ applied: false, error: { code: 'PLAN_STALE' } });
    expect(body.error.details.join('\n')).toMatch(new RegExp(`queue ${QueueUrl}: changed: CreatedTimestamp: "[\\d.]+" → "[\\d.]+"`));
    expect(errorLines(res.stderr)).toHaveLength(1);
    expect(res.stderr).not.toMatch(NO_STACK);
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
  });

  it('Ctrl-C while apply\'s batches are in flight: they finish, exit 130 saying how many were sent; the plan is then refused, nothing sent twice', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-interrupted' }));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('interrupted.json'))).code).toBe(5);
    await control.fault({ service: 'sqs', operation: 'SendMessageBatch', times: 0, delayMs: 2500, forward: true });
    let res;
    try {
      await control.clearRequests();
      // the signal once all three batches (23 events) are on their way: each is held 2.5 s
      res = await run(['apply', planPath('interrupted.json'), '--yes'], { signalWhen: async () => (await sends()).length >= 3 });
    } finally {
      await control.clearFaults();
    }
    expect(res.code, res.stderr).toBe(130);
    expect(res.stderr).toMatch(/SIGINT\S* while publishing: 23 of 23 events sent to sqs:\S+ \(run \S+\); the calls under way were let finish/);
    expect(res.stderr).not.toMatch(NO_STACK);
    expect(await drain(QueueUrl!)).toHaveLength(N);

    await control.clearRequests();
    const again = await run(['apply', planPath('interrupted.json'), '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already applied at \S+ \(failed \(INTERRUPTED\)/);
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
  });

  it('an edited plan is exit 2 and an expired one exit 1; neither sends anything', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-edited' }));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('edited.json'))).code).toBe(5);
    const text = await readFile(planPath('edited.json'), 'utf8');
    expect(text).toContain('"actual": 12');
    await writeFile(planPath('edited.json'), text.replace('"actual": 12', '"actual": 13'));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('short.json'), '--plan-ttl', '1ms')).code).toBe(5);
    await new Promise((r) => setTimeout(r, 20));
    await control.clearRequests();

    const noPublish = await run(['inventory', 'reconcile', '--plan-out', planPath('none.json')]);
    expect([noPublish.code, errorLines(noPublish.stderr)]).toEqual([2, [expect.stringContaining('--plan-out: inventory reconcile writes to AWS only with --publish')]]);
    const edited = await run(['apply', planPath('edited.json'), '--yes']);
    expect(edited.code).toBe(2);
    expect(errorLines(edited.stderr)).toEqual([expect.stringContaining('edited.json: digest does not match its content: the file was edited after it was made')]);
    const expired = await run(['apply', planPath('short.json'), '--yes']);
    expect(expired.code).toBe(1);
    expect(errorLines(expired.stderr)).toEqual([expect.stringMatching(/short\.json: expired at \S+ \(made \S+\): re-plan, nothing was changed$/)]);
    expect(expired.stderr).not.toMatch(NO_STACK);
    expect(await sends()).toEqual([]);
    expect(await drain(QueueUrl!)).toEqual([]);
  });
  it('two applies of one plan started at once: exactly one sends, the other is refused (exit 1)', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-race' }));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('race.json'))).code).toBe(5);
    const [a, b] = await Promise.all([run(['apply', planPath('race.json'), '--yes']), run(['apply', planPath('race.json'), '--yes'])]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect([a, b].find((r) => r.code === 1)!.stderr).toContain('already applied at');
    expect(await drain(QueueUrl!)).toHaveLength(N);
  });

  it('a forged plan (digest recomputed) with an event that is not a reconcile\'s is exit 2: an extra field, a repeated event, a key not of its content', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-forged' }));
    expect((await reconcile(`sqs:${QueueUrl}`, '--plan-out', planPath('forged.json'))).code).toBe(5);
    const { digestOf } = await import('../../src/lib/plan/document.js');
    const { inventoryPublishKind } = await import('../../src/lib/inventory/kind.js');
    const original = JSON.parse(await readFile(planPath('forged.json'), 'utf8'));
    const edits: [string, (events: Record<string, unknown>[]) => void, string][] = [
      ['extra field', (e) => (e[0]!.hidden = { zeroStock: true }), 'plan.events.0: Unrecognized key'],
      ['repeated', (e) => e.push({ ...e[0]! }), `plan.events.${N}: it repeats an earlier event`],
      ['other key', (e) => (e[1]!.actual = 0), 'plan.events.1: its idempotencyKey is not the one of its sku'],
    ];
    for (const [name, edit, message] of edits) {
      const doc = structuredClone(original);
      edit(doc.plan.events);
      doc.actions = inventoryPublishKind.actions(doc.plan);
      delete doc.digest;
      await writeFile(planPath(`${name}.json`), JSON.stringify({ ...doc, digest: digestOf(doc) }));
      const res = await run(['apply', planPath(`${name}.json`), '--yes']);
      expect([name, res.code]).toEqual([name, 2]);
      expect(res.stderr).toContain(message);
    }
    expect(await drain(QueueUrl!)).toEqual([]);
  });
});
