/**
 * npm run bench [-- <name> ...] [--json]: every benchmark (or the named ones: startup, cdn, prescale, inventory, images),
 * figures and ratios printed; --json also writes bench/results.json.
 */
import { writeFile } from 'node:fs/promises';
import { benchCdn, printCdn } from './cdn.js';
import { benchImages, printImages } from './images.js';
import { benchInventory, printInventory } from './inventory.js';
import { benchPrescale, printPrescale } from './prescale.js';
import { benchStartup, printStartup } from './startup.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const want = (name: string) => names.length === 0 || names.includes(name);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };

if (want('startup')) {
  const startup = benchStartup(Number(process.env.BENCH_RUNS ?? 20));
  printStartup(startup);
  results.startup = startup;
}
if (want('cdn')) {
  const cdn = await benchCdn();
  printCdn(cdn);
  results.cdn = cdn;
}
if (want('prescale')) {
  const prescale = await benchPrescale();
  printPrescale(prescale);
  results.prescale = prescale;
}
if (want('inventory')) {
  const inventory = await benchInventory();
  printInventory(inventory);
  results.inventory = inventory;
}
if (want('images')) {
  const images = await benchImages();
  printImages(images);
  results.images = images;
}
if (process.argv.includes('--json')) await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
