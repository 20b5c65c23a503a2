/**
 * An inventory of `n` SKUs that all oversell (the warehouse has 10, the web channel shows 12), with
 * the config that reconciles it, in a new temporary directory: the publish tests' storefront.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function oversoldInventory(prefix: string, n: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const skus = Array.from({ length: n }, (_, i) => `SKU-${String(i).padStart(3, '0')}`);
  await writeFile(path.join(dir, 'wms.csv'), `sku,loc,qty\n${skus.map((s) => `${s},dfw1,10`).join('\n')}\n`);
  await writeFile(path.join(dir, 'web.csv'), `sku,loc,qty\n${skus.map((s) => `${s},dfw1,12`).join('\n')}\n`);
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }\n  failOn: [oversell]\n',
  );
  return dir;
}
