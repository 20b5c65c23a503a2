import { Option, type Command } from 'commander';
import type { Runtime } from './runtime.js';
import { parseIntegerFlag } from '../lib/util/duration.js';
import { withPlanOptions } from './plan-options.js';

export function registerInventory(program: Command, runtime: Runtime): void {
  const inventory = program
    .command('inventory')
    .description('stock across the warehouse, order management and sales channels')
    .addHelpText('after', '\nExamples:\n  $ retailctl inventory reconcile --out drift.csv');
  const reconcile = withPlanOptions(
    inventory
      .command('reconcile')
      .description('compare stock across warehouse, orders and every channel; classify drift (oversell, undersell, missing-in-channel, unknown-sku, negative); exit 5 on a class in inventory.failOn'),
  )
    .option('--source <name=path>', 'read this source from another path (repeatable; globs and s3:// allowed)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--out <file>', 'write the drift rows (CSV or JSON by extension; - = CSV on stdout, the summary then on stderr)')
    .option('--since <results.json>', 'compare with an earlier run (its --out results.json): mark rows new / persisting / resolved')
    .option('--publish <target>', 'one event per drift row to eventbridge:<bus> or sqs:<queue-url> (batches of 10, failed entries retried; exit 4 if some still fail)')
    .option('--all', 'with --out: every row, ok ones too')
    .option('--errors <file>', 'write every bad input row (CSV or JSON by extension; - = CSV on stdout)')
    .option('--max-errors <n>', 'bad input rows tolerated (left out) before giving up with exit 2', '0')
    .option('--threads <n>', 'threads for local CSV/TSV exports (default: inventory.threads, else the cores up to 4, from 16 MB of input; 1 = one thread)')
    .addOption(new Option('--duplicates <mode>', 'a sku/location twice in one source: error, or sum them').choices(['error', 'sum']).default('error'))
    .addOption(new Option('--engine <engine>', 'where to reconcile: local (this machine), or athena (Amazon Athena, over s3:// exports; inventory.athena in the config); default inventory.engine, else local').choices(['local', 'athena']))
    .addHelpText(
      'after',
      `
Examples:
  $ retailctl inventory reconcile
  $ retailctl inventory reconcile --source web=exports/web-*.csv.gz --out drift.csv
  $ retailctl inventory reconcile --json --max-errors 100 --errors bad-rows.csv
  $ retailctl inventory reconcile --out - | grep ^oversell
  $ retailctl inventory reconcile --since last.json --out now.json --publish eventbridge:inventory-sync --yes
  $ retailctl inventory reconcile --engine athena --dry-run
  $ retailctl inventory reconcile --engine athena --out drift.csv
  $ retailctl inventory reconcile --publish eventbridge:inventory-sync --plan-out publish.json
  $ retailctl apply publish.json --yes`,
    )
    .action((opts: { source: string[]; out?: string; since?: string; publish?: string; all?: boolean; errors?: string; maxErrors: string; duplicates: 'error' | 'sum'; threads?: string; engine?: 'local' | 'athena' }) =>
      runtime.execute(reconcile, async (ctx) => {
        const maxErrors = parseIntegerFlag('--max-errors', opts.maxErrors, { min: 0 })!;
        const threads = parseIntegerFlag('--threads', opts.threads, { min: 1, max: 64 });
        const { inventoryReconcile } = await import('../lib/inventory/pipeline.js');
        return inventoryReconcile(ctx, { sources: opts.source, out: opts.out, since: opts.since, publish: opts.publish, all: Boolean(opts.all), errors: opts.errors, maxErrors, duplicates: opts.duplicates, threads, engine: opts.engine });
      }),
    );
}
