/** images migrate | verify: bad flags, sources, catalogues, output paths and manifests, each refused before any write. */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { jpeg, png } from '../../support/images.js';
import type { CorpusCase, CorpusFile } from './types.js';

const MEDIA: Record<string, CorpusFile> = { 'media/a.jpg': jpeg(600, 1), 'media/shoes/b.png': png(500, 2) };
const CATALOG = 'image,sku,category\na.jpg,SKU-1,Shoes\nshoes/b.png,SKU-2,Bags\n';
const HEADER = 'source,key,url,size,sha256,contentType,status,reason,bucket\n';
const migrate = (...args: string[]) => ['images', 'migrate', 'media', '--bucket', 'corpus-images', '--yes', ...args];
const bucket = (name: string) => async ({ s3 }: { s3: import('@aws-sdk/client-s3').S3Client }) => {
  await s3.send(new CreateBucketCommand({ Bucket: name })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
};

export const cases: CorpusCase[] = [
  { name: 'images migrate --concurrency 0', args: migrate('--concurrency', '0'), files: MEDIA, message: '--concurrency: expected a whole number from 1 to 512, got "0"' },
  { name: 'images migrate --concurrency abc', args: migrate('--concurrency', 'abc'), files: MEDIA, message: '--concurrency: expected a whole number from 1 to 512, got "abc"' },
  { name: 'images migrate --sse bogus', args: migrate('--sse', 'bogus'), files: MEDIA, message: /--sse <algorithm>' argument 'bogus' is invalid/ },
  { name: 'images migrate --key-template with an unknown placeholder', args: migrate('--key-template', '{colour}/{name}.{ext}'), files: MEDIA, message: /--key-template "\{colour\}\/\{name\}\.\{ext\}": unknown placeholder \{colour\}/ },
  { name: 'images migrate --key-template leaving the prefix (../)', args: migrate('--key-template', '../{name}.{ext}'), files: MEDIA, message: '".." segments are not allowed' },
  { name: 'images migrate --prefix ../x', args: migrate('--prefix', '../x'), files: MEDIA, message: /--prefix: .*not "\.\."/ },
  { name: 'images migrate from a source directory that does not exist', args: ['images', 'migrate', 'nope', '--bucket', 'corpus-images', '--yes'], message: /source .*nope: no such directory/ },
  { name: 'images migrate from a source that is a file', args: ['images', 'migrate', 'media/a.jpg', '--bucket', 'corpus-images', '--yes'], files: MEDIA, message: /source .*a\.jpg is not a directory/ },
  { name: 'images migrate --catalog a FIFO (would block the run for ever)', args: migrate('--catalog', 'cat.fifo'), files: { ...MEDIA, 'cat.fifo': { fifo: true } }, message: 'cannot read the catalogue cat.fifo: is not a regular file (a FIFO, device or socket)' },
  { name: 'images migrate --manifest /dev/stdout (a process stream, not a file)', args: migrate('--manifest', '/dev/stdout'), files: MEDIA, message: '--manifest /dev/stdout: is under /dev or /proc' },
  { name: 'images migrate --catalog that does not exist', args: migrate('--catalog', 'nope.csv'), files: MEDIA, message: 'cannot read the catalogue nope.csv: no such file' },
  { name: 'images migrate --catalog without the image column', args: migrate('--catalog', 'cat.csv'), files: { ...MEDIA, 'cat.csv': 'path,sku,category\na.jpg,1,c\n' }, message: 'cat.csv: missing column "image" (source); it has "path", "sku", "category"' },
  {
    name: 'images migrate --catalog mapping two images to one key (no lock taken)',
    args: migrate('--catalog', 'cat.csv', '--key-template', '{sku}.{ext}'),
    files: { ...MEDIA, 'media/c.jpg': jpeg(700, 3), 'cat.csv': 'image,sku,category\na.jpg,SKU-1,Shoes\nc.jpg,sku-1,Bags\n' },
    message: '1 input problem (key collisions, unusable catalogue values); nothing was uploaded',
    check: ({ stderr }) => expect(stderr).toContain('2 different images map to the key sku-1.jpg'),
  },
  {
    name: 'images migrate --catalog whose sku holds terminal escapes (shown escaped)',
    args: migrate('--catalog', 'cat.csv'),
    files: { ...MEDIA, 'cat.csv': 'image,sku,category\n"a.jpg","\x1b]\x1b[\x07",Shoes\n' },
    message: '1 input problem',
    check: ({ stderr }) => expect(stderr).toContain('{sku} "\\x1b]\\x1b[\\x07" is empty once made URL-safe'),
  },
  { name: 'images migrate --cache-control with a newline', args: migrate('--cache-control', 'public\nX-Evil: 1'), files: MEDIA, message: '--cache-control public\\nX-Evil: 1: not a Cache-Control value' },
  {
    name: 'images migrate with an images.cacheRules rule that is not a Cache-Control value',
    args: migrate(),
    files: { ...MEDIA, 'retailctl.yaml': 'images:\n  cacheRules:\n    - { glob: "**/*.svg", cacheControl: "max-age=60; evil" }\n' },
    message: 'images.cacheRules[0].cacheControl max-age=60; evil: not a Cache-Control value',
  },
  { name: 'images migrate --redirect-from with a space and a quote', args: migrate('--redirect-from', '/media files"'), files: MEDIA, message: '--redirect-from /media files": not a URL path' },
  { name: 'images migrate --cdn-domain that is not a domain', args: migrate('--cdn-domain', 'cdn.example.com/"; evil'), files: MEDIA, message: '--cdn-domain cdn.example.com/"; evil: not a domain name' },
  { name: 'images migrate --kms-key-id without --sse aws:kms', args: migrate('--kms-key-id', 'alias/x'), files: MEDIA, message: '--kms-key-id needs --sse aws:kms' },
  { name: 'images migrate --invalidate with a distribution id that is not one', args: migrate('--invalidate', 'not an id'), files: MEDIA, message: '--invalidate not an id: not a CloudFront distribution id' },
  { name: 'images migrate --manifest pointing at a directory', args: migrate('--manifest', 'out'), files: { ...MEDIA, out: { dir: true } }, message: '--manifest out: is a directory, not a file', untouched: ['out'] },
  { name: 'images migrate --manifest pointing at a FIFO', args: migrate('--manifest', 'pipe.csv'), files: { ...MEDIA, 'pipe.csv': { fifo: true } }, message: '--manifest pipe.csv: is not a regular file' },
  { name: 'images migrate --manifest under /proc/nope (a directory that cannot be created)', args: migrate('--manifest', '/proc/nope/x.csv'), files: MEDIA, message: '--manifest /proc/nope/x.csv: is under /dev or /proc' },
  { name: 'images migrate --manifest in a directory that cannot be written', args: migrate('--manifest', '/proc/self/x.csv'), files: MEDIA, message: '--manifest /proc/self/x.csv: is under /dev or /proc' },
  { name: 'images migrate --redirects pointing at a device', args: migrate('--redirects', '/dev/null'), files: MEDIA, message: '--redirects /dev/null: is under /dev or /proc', untouched: ['/dev/null'] },
  { name: 'images migrate --manifest and --redirects naming the same file', args: migrate('--manifest', 'same.map', '--redirects', 'same.map'), files: MEDIA, message: '--redirects same.map writes same.map and same.json: one of them is the --manifest file', untouched: ['same.map', 'same.json'] },
  { name: 'images migrate --manifest naming the catalogue', args: migrate('--catalog', 'cat.csv', '--manifest', 'cat.csv'), files: { ...MEDIA, 'cat.csv': CATALOG }, message: '--manifest cat.csv: is the catalogue (--catalog): it would be overwritten', untouched: ['cat.csv'] },
  { name: 'images migrate --manifest - (stdout carries the report)', args: migrate('--manifest', '-'), files: MEDIA, message: '--manifest -: cannot go to stdout' },
  { name: 'images migrate --state-dir /proc/self (no endless mkdir)', args: migrate('--state-dir', '/proc/self'), files: MEDIA, setup: bucket('corpus-images'), message: '--state-dir /proc/self: cannot create the directory' },
  { name: 'images verify --manifest of a warehouse export', args: ['images', 'verify', '--manifest', 'wms.csv'], files: { 'wms.csv': 'sku,location,qty_on_hand\nSER-001,DC1,4\n' }, message: '--manifest wms.csv: not a manifest written by images migrate --manifest: missing columns key, size, sha256, status, bucket' },
  { name: 'images verify --manifest with a header only (nothing verified)', args: ['images', 'verify', '--manifest', 'm.csv'], files: { 'm.csv': HEADER }, code: 5, message: '--manifest m.csv has no rows (a header only): nothing was verified' },
  { name: 'images verify --bucket that is not a bucket name (not "every object missing")', args: ['images', 'verify', '--manifest', 'm.csv', '--bucket', 'Not_A_Bucket'], files: { 'm.csv': `${HEADER}a.jpg,a.jpg,,600,${'a'.repeat(64)},image/jpeg,uploaded,,corpus-images\n` }, message: '--bucket: Not_A_Bucket is not an S3 bucket name' },
  { name: 'images verify --bucket that does not exist', args: ['images', 'verify', '--manifest', 'm.csv', '--bucket', 'no-such-bucket-here'], files: { 'm.csv': `${HEADER}a.jpg,a.jpg,,600,${'a'.repeat(64)},image/jpeg,uploaded,,corpus-images\n` }, message: '--bucket: bucket no-such-bucket-here does not exist' },
  { name: 'images verify --manifest that does not exist', args: ['images', 'verify', '--manifest', 'nope.csv'], message: '--manifest nope.csv: no such file' },
  { name: 'images verify --manifest that is not CSV', args: ['images', 'verify', '--manifest', 'bad.csv'], files: { 'bad.csv': `${HEADER}"a.jpg,a.jpg\n` }, message: /--manifest bad\.csv(:\d+)?: not a CSV manifest/ },
  { name: 'images verify --concurrency 0', args: ['images', 'verify', '--manifest', 'm.csv', '--concurrency', '0'], files: { 'm.csv': HEADER }, message: '--concurrency: expected a whole number from 1 to 256, got "0"' },
];
