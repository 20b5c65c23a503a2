/**
 * The pure parts of an s3:// source: the bucket and prefix it names, and which listed objects are
 * its images (relative paths, hidden segments, non-images, the destination prefix left out).
 */
import { describe, expect, it } from 'vitest';
import { copyRanges } from '../../src/lib/images/execute.js';
import { s3Images, s3Source } from '../../src/lib/images/source.js';

describe('s3:// sources', () => {
  it('names a bucket and a prefix ending in /', () => {
    expect(s3Source('s3://legacy-images/img')).toEqual({ bucket: 'legacy-images', prefix: 'img/' });
    expect(s3Source('s3://legacy-images/img/')).toEqual({ bucket: 'legacy-images', prefix: 'img/' });
    expect(s3Source('s3://legacy-images')).toEqual({ bucket: 'legacy-images', prefix: '' });
    expect(s3Source('./media')).toBeUndefined();
    expect(() => s3Source('s3://Bad_Bucket/x')).toThrow('is not an S3 bucket name');
    expect(() => s3Source('s3://legacy-images/img/../secret/')).toThrow('. or .. segments');
  });

  it('lists images relative to the prefix, leaving out non-images, hidden segments, folders and the destination prefix', () => {
    const o = (size: number) => ({ size, etag: `e${size}` });
    const listing = new Map([
      ['img/a.jpg', o(1)],
      ['img/sub/B.PNG', o(2)],
      ['img/notes.txt', o(3)],
      ['img/.cache/c.jpg', o(4)],
      ['img/folder/', o(0)],
      ['img/catalog/x/1.jpg', o(5)],
      ['img/catalog/.retailctl-lock', o(6)],
      ['other/d.jpg', o(7)],
    ]);
    const { images, ignored } = s3Images('b', 'img/', listing, 'img/catalog/');
    expect(images).toEqual([
      { path: 'a.jpg', size: 1, s3: { bucket: 'b', key: 'img/a.jpg', etag: 'e1' } },
      { path: 'sub/B.PNG', size: 2, s3: { bucket: 'b', key: 'img/sub/B.PNG', etag: 'e2' } },
    ]);
    expect(ignored).toBe(1);
  });

  it('copies above one CopyObject in ranges of the part size, at most 10,000 of them', () => {
    expect(copyRanges(11, 5)).toEqual([{ first: 0, last: 4 }, { first: 5, last: 9 }, { first: 10, last: 10 }]);
    expect(copyRanges(10, 5)).toHaveLength(2);
    const huge = copyRanges(5 * 1024 ** 4, 512 * 1024 ** 2); // 5 TiB
    expect(huge.length).toBeLessThanOrEqual(10_000);
    expect(huge[huge.length - 1]!.last).toBe(5 * 1024 ** 4 - 1);
  });
});

describe('--shard K/N', () => {
  it('a key falls in the same shard on every runner and in every version: the first 4 bytes of its SHA-256, modulo N', async () => {
    const { createHash } = await import('node:crypto');
    const { shardOf } = await import('../../src/lib/images/plan.js');
    const hash = (k: string) => createHash('sha256').update(k).digest();
    // pinned: a change of the rule would send keys to other shards than a runner of an older version
    expect(shardOf('catalog/shoes/sku-1/front.jpg', 3, hash)).toBe(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardOf(`catalog/x/sku-${i}/1.jpg`, 3, hash) - 1]!++;
    for (const c of counts) expect(c).toBeGreaterThan(900);
  });
});
