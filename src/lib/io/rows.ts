/**
 * Result files for people and scripts: rows as JSON (an array, one object per line) or CSV (header
 * row, csv-stringify) by the file's extension. Streamed — drift files and manifests can have
 * millions of rows — and atomic: written beside the target and renamed into place, so a killed
 * run never leaves half a file where the last good one was.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Write `chunks` to `file` atomically (temp file + rename), in writes of about 64 KB. */
export async function writeFileAtomic(file: string, chunks: Iterable<string>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    let pending = '';
    for (const chunk of chunks) {
      pending += chunk;
      if (pending.length >= 1 << 16) {
        if (!out.write(pending)) await once(out, 'drain');
        pending = '';
      }
    }
    out.end(pending);
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, file);
}

/** Rows as a JSON array (`.json`) or CSV with these columns (anything else). */
export async function writeRowsFile(file: string, rows: Iterable<object>, columns: readonly string[]): Promise<void> {
  if (file.toLowerCase().endsWith('.json')) return writeFileAtomic(file, jsonArray(rows));
  const { stringify } = await import('csv-stringify/sync');
  const cols = [...columns];
  return writeFileAtomic(
    file,
    (function* () {
      yield stringify([], { header: true, columns: cols });
      let batch: object[] = [];
      for (const row of rows) {
        batch.push(row);
        if (batch.length === 10_000) {
          yield stringify(batch as Record<string, unknown>[], { columns: cols });
          batch = [];
        }
      }
      if (batch.length) yield stringify(batch as Record<string, unknown>[], { columns: cols });
    })(),
  );
}

function* jsonArray(items: Iterable<unknown>): Generator<string> {
  let first = true;
  yield '[';
  for (const item of items) {
    yield `${first ? '' : ','}\n  ${JSON.stringify(item)}`;
    first = false;
  }
  yield first ? ']\n' : '\n]\n';
}
