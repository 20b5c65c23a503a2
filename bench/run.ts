/** npm run bench: every benchmark, figures and ratios printed; `--json` also writes bench/results.json. */
import { writeFile } from 'node:fs/promises';
import { benchStartup, printStartup } from './startup.js';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const startup = benchStartup(runs);
printStartup(startup);
if (process.argv.includes('--json')) {
  await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, startup }, null, 2)}\n`);
}
