/**
 * `retailctl images manifest merge PART... --out FILE`: the manifest parts of the N shards of one
 * migration (`images migrate --shard K/N --manifest …`) joined into the manifest one run over the
 * whole plan would have written: in the plan's order, without the shard columns. Refused (exit 2,
 * nothing written) unless the parts are exactly the N shards of one plan: one part per shard, every
 * row of the plan once.
 */
import path from 'node:path';
import type { CommandContext, CommandResult } from '../context.js';
import { shown } from '../util/sanitize.js';
import { manifestError, readManifestRecords } from './manifest-file.js';
import { MANIFEST_COLUMNS, SHARD_COLUMNS, writeManifest, type ManifestRow } from './report.js';

export interface MergeRequest {
  parts: string[];
  out: string;
}

interface Part {
  given: string;
  /** `K/N` of its rows; undefined for a part with no rows (a shard with nothing to write). */
  shard: { k: number; n: number } | undefined;
  total: number | undefined;
  plan: string | undefined;
  rows: { at: string; index: number; row: ManifestRow }[];
}

const NUMBER_COLUMNS = new Set(['size']);

async function readPart(ctx: CommandContext, given: string): Promise<Part> {
  const label = `${shown(given)}`;
  const wanted = [...MANIFEST_COLUMNS, ...SHARD_COLUMNS];
  const { records, columns, cell: cellOf } = await readManifestRecords(path.resolve(ctx.cwd, given), given, label, wanted);
  const missing = wanted.filter((c) => !columns.includes(c));
  if (missing.length) throw manifestError(`${label}: not a manifest part of images migrate --shard: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, 'pass the --manifest files the shards wrote (images migrate --shard K/N --manifest part-K.csv)');
  const part: Part = { given, shard: undefined, total: undefined, plan: undefined, rows: [] };
  for (const { at, r } of records) {
    const cell = (c: string) => cellOf(r, c);
    const m = /^(\d+)\/(\d+)$/.exec(cell('shard'));
    const index = Number(cell('index'));
    const total = Number(cell('total'));
    if (!m || !/^\d+$/.test(cell('index')) || !/^\d+$/.test(cell('total'))) throw manifestError(`${at}: shard ${shown(cell('shard'), 20)}, index ${shown(cell('index'), 20)}, total ${shown(cell('total'), 20)}: not as images migrate --shard writes them`);
    const shard = { k: Number(m[1]), n: Number(m[2]) };
    if (part.shard && (part.shard.k !== shard.k || part.shard.n !== shard.n)) throw manifestError(`${at}: shard ${shard.k}/${shard.n}, but the part's first row is of shard ${part.shard.k}/${part.shard.n}: one part per shard`);
    if (part.total !== undefined && part.total !== total) throw manifestError(`${at}: total ${total}, but the part's first row says ${part.total}`);
    if (part.plan !== undefined && part.plan !== cell('plan')) throw manifestError(`${at}: plan ${shown(cell('plan'), 20)}, but the part's first row says ${part.plan}`);
    part.shard = shard;
    part.total = total;
    part.plan = cell('plan');
    const row = Object.fromEntries(MANIFEST_COLUMNS.map((c) => [c, r[c] === null || r[c] === undefined ? null : typeof r[c] === 'number' ? (r[c] as number) : cell(c) === '' ? null : NUMBER_COLUMNS.has(c) && /^\d+$/.test(cell(c)) ? Number(cell(c)) : cell(c)])) as ManifestRow;
    part.rows.push({ at, index, row });
  }
  return part;
}

/** Pure: the parts checked as the N shards of one plan, and their rows in the plan's order. */
export function mergeParts(parts: readonly Part[]): ManifestRow[] {
  const shaped = parts.filter((p) => p.shard);
  const n = shaped[0]?.shard!.n ?? parts.length;
  for (const p of shaped) if (p.shard!.n !== n) throw manifestError(`${shown(p.given)} is a part of ${p.shard!.n} shards, ${shown(shaped[0]!.given)} of ${n}: parts of one migration`);
  const byShard = new Map<number, string>();
  for (const p of shaped) {
    const other = byShard.get(p.shard!.k);
    if (other) throw manifestError(`${shown(p.given)} and ${shown(other)} are both shard ${p.shard!.k}/${n}`);
    byShard.set(p.shard!.k, p.given);
  }
  if (parts.length !== n) throw manifestError(`${parts.length} part${parts.length === 1 ? '' : 's'} given for ${n} shards (${shaped.length} with rows: shard${shaped.length === 1 ? '' : 's'} ${[...byShard.keys()].sort((a, b) => a - b).join(', ')})`, 'pass every shard\'s --manifest file, one each (a shard with no images writes a part with a header only)');
  const plans = new Set(shaped.map((p) => `${p.plan} (${p.total} rows)`));
  if (plans.size > 1) throw manifestError(`the parts are of different plans (${[...plans].join(', ')}): other images, keys or sizes`, 'merge the parts of one run of the shards (a shard rerun after the images changed: rerun them all)');
  const total = shaped[0]?.total ?? 0;
  const rows = new Array<ManifestRow | undefined>(total);
  for (const p of shaped) {
    for (const { at, index, row } of p.rows) {
      if (index >= total) throw manifestError(`${at}: index ${index} is past the plan's ${total} rows`);
      if (rows[index]) throw manifestError(`${at}: row ${index} of the plan is in two parts`);
      rows[index] = row;
    }
  }
  const absent = rows.reduce((n, r) => n + (r ? 0 : 1), 0) + (total - rows.length);
  if (absent) throw manifestError(`${absent} of the plan's ${total} rows are in no part: a shard's part is incomplete`, 'rerun that shard with --manifest, then merge again');
  return rows as ManifestRow[];
}

export async function imagesManifestMerge(ctx: CommandContext, request: MergeRequest): Promise<CommandResult> {
  const parts: Part[] = [];
  for (const given of request.parts) parts.push(await readPart(ctx, given));
  const rows = mergeParts(parts);
  await writeManifest(path.resolve(ctx.cwd, request.out), rows);
  const n = parts.length;
  return { data: { shards: n, rows: rows.length, out: request.out }, text: `merged ${n} shard part${n === 1 ? '' : 's'} into ${request.out}: ${rows.length} rows in the plan's order` };
}
