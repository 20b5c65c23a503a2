import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadThreads } from '../../src/lib/images/read-threads.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let threads: ReadThreads;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-read-threads-'));
  threads = ReadThreads.start(2)!;
});
afterAll(() => threads.close());

describe('reader threads', () => {
  it('read each file whole and hash it where it was read; a buffer given back is read into again without touching what was handed out since', async () => {
    const files = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const bytes = Buffer.alloc(1000 + i * 3779, i + 1);
        bytes.write(`file ${i}`);
        const file = path.join(dir, `f${i}.bin`);
        await writeFile(file, bytes);
        return { file, bytes };
      }),
    );
    for (let round = 0; round < 3; round++) {
      const reads = await Promise.all(files.map((f) => threads.read(f.file, f.bytes.length, round === 1)));
      reads.forEach((r, i) => {
        expect(r.body.equals(files[i]!.bytes), `file ${i}, round ${round}`).toBe(true);
        expect(r.sha256.toString('hex')).toBe(sha(files[i]!.bytes));
        expect(r.md5 !== undefined).toBe(round === 1);
      });
      // half given back: the next round reads into them, the others stay as they were
      const kept = reads.filter((_, i) => i % 2 === 1).map((r) => Buffer.from(r.body));
      reads.forEach((r, i) => i % 2 === 0 && threads.recycle(r.body));
      reads.filter((_, i) => i % 2 === 1).forEach((r, j) => expect(r.body.equals(kept[j]!)).toBe(true));
    }
  });

  it('a file whose size changed since the walk is read again whole; a missing one is ENOENT', async () => {
    const file = path.join(dir, 'grown.bin');
    await writeFile(file, Buffer.alloc(5000, 7));
    const grown = await threads.read(file, 100, false);
    expect(grown.body.length).toBe(5000);
    expect(grown.sha256.toString('hex')).toBe(sha(Buffer.alloc(5000, 7)));
    const shrunk = await threads.read(file, 9000, false);
    expect(shrunk.body.length).toBe(5000);
    await expect(threads.read(path.join(dir, 'gone.bin'), 10, false)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
