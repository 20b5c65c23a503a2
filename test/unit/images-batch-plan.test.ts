import { describe, expect, it } from 'vitest';
import { batchItems, chooseEngine, commonTargetPrefix, createJobInput, decodeTaskInfo, etaMs, lambdaManifestKey, manifestLines, planBatch, reportRow, type BatchSettings } from '../../src/lib/images/batch-plan.js';
import type { PlanItem } from '../../src/lib/images/plan.js';
// @ts-expect-error: the shipped example is plain JavaScript
import { sniff } from '../../examples/batch-copy-function/index.mjs';

const item = (sourceKey: string, key: string, action: PlanItem['action'] = 'upload', cacheControl = 'public, max-age=86400'): PlanItem => ({ image: { path: sourceKey.replace(/^img\//, ''), s3: { bucket: 'legacy', key: sourceKey, etag: `etag-${sourceKey}` }, size: 100 }, key, cacheControl, action });
const settings: BatchSettings = { roleArn: 'arn:aws:iam::123456789012:role/r', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', minObjects: 1000, priority: 10, pollMs: 15000 };
const byName = (i: PlanItem) => (i.image.path.endsWith('.png') ? 'image/png' : 'image/jpeg');

describe('the batch engine planner', () => {
  it('auto takes batch from minObjects objects, only for an s3:// source with a role', () => {
    expect(chooseEngine('auto', true, 999, settings).engine).toBe('direct');
    expect(chooseEngine('auto', true, 1000, settings).engine).toBe('batch');
    expect(chooseEngine('auto', false, 5000, settings).engine).toBe('direct');
    const noRole = chooseEngine('auto', true, 5000, { ...settings, roleArn: undefined });
    expect(noRole).toEqual({ engine: 'direct', why: expect.stringContaining('no images.batch.roleArn') });
    expect(chooseEngine('direct', true, 1e7, settings).engine).toBe('direct');
  });

  it('copies every item the direct engine would write, never the unchanged or empty ones', () => {
    const items = [item('img/a.jpg', 'p/a.jpg'), item('img/b.jpg', 'p/b.jpg', 'skip'), item('img/c.jpg', 'p/c.jpg', 'check'), item('img/d.jpg', 'p/d.jpg', 'empty')];
    expect(batchItems(items).map((i) => i.key)).toEqual(['p/a.jpg', 'p/c.jpg']);
  });

  it('the copy function whenever one is configured; without one, S3PutObjectCopy only where one request fits every object, none over 5 GiB', () => {
    const noFunction = { ...settings, functionArn: undefined };
    const plan = (items: PlanItem[], s: BatchSettings) => planBatch({ bucket: 'shop', prefix: 'p/', sse: 'AES256', kmsKeyId: null, items, settings: s, contentTypeOf: byName });
    const same = [item('img/a.jpg', 'p/img/a.jpg'), item('img/b.jpg', 'p/img/b.jpg')];
    expect(commonTargetPrefix(same)).toBe('p/');
    expect(plan(same, settings)).toMatchObject({ operation: 'LambdaInvoke', functionArn: settings.functionArn });
    expect(plan(same, noFunction)).toMatchObject({ operation: 'S3PutObjectCopy', targetKeyPrefix: 'p/', contentType: 'image/jpeg', functionArn: null, objects: 2, attempt: 1, folder: expect.stringMatching(/^p\/\.retailctl-batch\/[0-9a-f]{20}\/$/), attemptFolder: expect.stringMatching(/\/1\/$/) });
    const twoTypes = [item('img/a.jpg', 'p/img/a.jpg'), item('img/b.png', 'p/img/b.png')];
    expect(plan(twoTypes, noFunction)).toEqual({ refusal: expect.stringContaining('more than one Content-Type'), hint: expect.any(String) });
    const rekeyed = [item('img/a.jpg', 'p/shoes/sku-1/front.jpg')];
    expect(commonTargetPrefix(rekeyed)).toBeUndefined();
    expect(plan(rekeyed, noFunction)).toEqual({ refusal: expect.stringContaining('set images.batch.functionArn'), hint: expect.any(String) });
    const big = [{ ...item('img/a.jpg', 'p/img/a.jpg'), image: { ...item('img/a.jpg', 'p/img/a.jpg').image, size: 6 * 1024 ** 3 } }];
    expect(plan(big, noFunction)).toEqual({ refusal: expect.stringContaining('over 5 GiB'), hint: expect.any(String) });
    expect(plan(big, settings)).toMatchObject({ operation: 'LambdaInvoke' });
  });

  it('after a merged attempt the next one is planned; an unfinished one is followed, never planned again', () => {
    const items = [item('img/a.jpg', 'p/x/a.jpg')];
    const next = planBatch({ bucket: 'shop', prefix: 'p/', sse: 'AES256', kmsKeyId: null, items, settings, contentTypeOf: byName, state: { run: 'abcdef0123456789abcd', attempt: 2, follow: null } });
    expect(next).toMatchObject({ attempt: 3, follow: null });
    expect(createJobInput(next as never, { accountId: '123456789012', bucket: 'shop', sse: 'AES256', kmsKeyId: null, manifestKey: 'm', manifestEtag: 'e', description: 'd' }).ClientRequestToken).toMatch(/-3$/);
    const follow = planBatch({ bucket: 'shop', prefix: 'p/', sse: 'AES256', kmsKeyId: null, items: [], settings, contentTypeOf: byName, state: { run: 'abcdef0123456789abcd', attempt: 2, follow: { jobId: 'j-1', status: 'Active', objects: 7, operation: 'LambdaInvoke' } } });
    expect(follow).toMatchObject({ attempt: 2, follow: { jobId: 'j-1', status: 'Active' }, objects: 7, attemptFolder: expect.stringMatching(/\/2\/$/) });
  });

  it('a task too long for a manifest row is refused at planning', () => {
    const long = [item('img/a.jpg', `p/${'x'.repeat(900)}.jpg`)];
    expect(planBatch({ bucket: 'shop', prefix: 'p/', sse: 'AES256', kmsKeyId: null, items: long, settings, contentTypeOf: byName })).toEqual({ refusal: expect.stringContaining('does not fit a manifest row'), hint: expect.any(String) });
  });

  it('the run is the whole migration: the same whatever is left to copy (a rerun without the journal, a job half-way), another for other copies', () => {
    const plan = (items: PlanItem[]) => planBatch({ bucket: 'shop', prefix: 'p/', sse: 'AES256', kmsKeyId: null, items, settings, contentTypeOf: byName }) as { run: string };
    const a = plan([item('img/a.jpg', 'p/x/a.jpg'), item('img/b.jpg', 'p/x/b.jpg')]);
    expect(plan([item('img/a.jpg', 'p/x/a.jpg', 'check'), item('img/b.jpg', 'p/x/b.jpg', 'replace')]).run).toBe(a.run);
    expect(plan([item('img/a.jpg', 'p/x/a.jpg', 'skip'), item('img/b.jpg', 'p/x/b.jpg')]).run).toBe(a.run);
    expect(plan([item('img/a.jpg', 'p/x/a.jpg', 'check', 'no-cache'), item('img/b.jpg', 'p/x/b.jpg')]).run).not.toBe(a.run);
  });

  it('a LambdaInvoke row carries its task as URL-encoded JSON, read back from the report whether or not it is decoded', () => {
    const i = item('img/a b,c.jpg', 'p/shoes/a-b-c.jpg');
    const [line] = [...manifestLines({ operation: 'LambdaInvoke' }, [i], byName)];
    expect(line).toBe(`legacy,${lambdaManifestKey({ s: 'img/a b,c.jpg', k: 'p/shoes/a-b-c.jpg', e: 'etag-img/a b,c.jpg', t: 'image/jpeg', c: 'public, max-age=86400' })}\n`);
    expect(line!.split(',')).toHaveLength(2);
    const key = line!.trim().split(',')[1]!;
    expect(decodeTaskInfo(key)?.k).toBe('p/shoes/a-b-c.jpg');
    expect(decodeTaskInfo(decodeURIComponent(key))?.s).toBe('img/a b,c.jpg');
    expect(decodeTaskInfo(key.replace(/%20/g, '+'))?.s, 'form-encoded spaces').toBe('img/a b,c.jpg');
    expect(decodeTaskInfo('img/plain.jpg')).toBeUndefined();
    const [copyLine] = [...manifestLines({ operation: 'S3PutObjectCopy' }, [i], byName)];
    expect(copyLine).toBe('legacy,img/a%20b%2Cc.jpg\n');
  });

  it('CreateJob asks for confirmation, an all-tasks CSV report in the run folder, the token of the run', () => {
    const plan = planBatch({ bucket: 'shop', prefix: 'p/', sse: 'aws:kms', kmsKeyId: 'alias/images', items: [item('img/a.jpg', 'p/s/a.jpg')], settings, contentTypeOf: byName });
    if ('refusal' in plan) throw new Error(plan.refusal);
    const input = createJobInput(plan, { accountId: '123456789012', bucket: 'shop', sse: 'aws:kms', kmsKeyId: 'alias/images', manifestKey: `${plan.folder}manifest.csv`, manifestEtag: 'abc', description: 'd' });
    expect(input).toMatchObject({ AccountId: '123456789012', ConfirmationRequired: true, ClientRequestToken: `retailctl-${plan.run}-1`, Priority: 10, RoleArn: settings.roleArn, Report: { Bucket: 'arn:aws:s3:::shop', Prefix: `${plan.folder}1/report`, ReportScope: 'AllTasks', Format: 'Report_CSV_20180820' }, Manifest: { Location: { ObjectArn: `arn:aws:s3:::shop/${plan.folder}manifest.csv`, ETag: 'abc' } } });
    expect(input.Operation).toEqual({ LambdaInvoke: { FunctionArn: settings.functionArn, InvocationSchemaVersion: '2.0', UserArguments: { bucket: 'shop', sse: 'aws:kms', kmsKeyId: 'alias/images' } } });
  });

  it('report rows and the ETA', () => {
    expect(reportRow(['legacy', 'k', '', 'failed', 'AccessDenied', '403', 'denied'])).toEqual({ bucket: 'legacy', key: 'k', status: 'failed', errorCode: 'AccessDenied', httpStatus: '403', message: 'denied' });
    expect(reportRow(['Bucket', 'Key', 'VersionId', 'TaskStatus'])).toBeUndefined();
    expect(etaMs(0, 100, 1000)).toBeUndefined();
    expect(etaMs(25, 100, 1000)).toBe(3000);
    expect(etaMs(100, 100, 1000)).toBe(0);
  });

  it('the copy function sniffs the common image types and falls back to the type by name', () => {
    expect(sniff(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]), 'image/png')).toBe('image/jpeg');
    expect(sniff(new Uint8Array(Buffer.from('\x89PNG\r\n\x1a\n0000', 'latin1')), 'image/gif')).toBe('image/png');
    expect(sniff(new Uint8Array(Buffer.from('<?xml version="1.0"?><svg xmlns="x">')), 'image/png')).toBe('image/svg+xml');
    expect(sniff(new Uint8Array([1, 2, 3]), 'image/heic')).toBe('image/heic');
  });
});
