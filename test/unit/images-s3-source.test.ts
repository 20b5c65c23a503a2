/**
 * The pure parts of an s3:// source: the bucket and prefix it names, and which listed objects are
 * its images (relative paths, hidden segments, non-images, the destination prefix left out).
 */
import { describe, expect, it } from 'vitest';
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
});
