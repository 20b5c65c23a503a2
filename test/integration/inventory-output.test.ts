/**
 * inventory reconcile's outputs: the value column only when there is a value.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint } = useEmulator();

const CONFIG = `inventory:
  sources:
    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }
    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }
  failOn: [oversell]
`;
const WMS = 'sku,loc,qty\nA,dfw1,10\nB,dfw1,5\n';
const WEB = 'sku,loc,qty\nA,dfw1,12\nC,dfw1,3\n';

async function workspace(files: Record<string, string>, config = CONFIG): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-invout-'));
  for (const [name, content] of Object.entries({ 'retailctl.yaml': config, 'wms.csv': WMS, 'web.csv': WEB, ...files })) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

function cli(dir: string, args: string[]) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', path.join(dir, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

describe('the summary table', () => {
  it('has no value column when no price is mapped, and one when prices are known', async () => {
    const plain = await cli(await workspace({}), []);
    expect(plain.code).toBe(5);
    const header = plain.stdout.split('\n')[0]!;
    expect(header).toMatch(/^class\s+web\s+units$/);
    for (const line of plain.stdout.split('\n')) expect(line).toBe(line.trimEnd());

    const priced = await cli(await workspace({ 'web.csv': 'sku,loc,qty,price\nA,dfw1,12,2.5\nC,dfw1,3,1\n' }, CONFIG.replace('available: qty }', 'available: qty, price: price }')), []);
    expect(priced.stdout.split('\n')[0]).toMatch(/^class\s+web\s+units\s+value$/);
    expect(priced.stdout).toMatch(/^oversell\s+1\s+2\s+5\.00$/m);
  });
});
