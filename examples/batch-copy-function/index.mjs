// The copy function of `retailctl images migrate --engine batch` (S3 Batch Operations, LambdaInvoke,
// invocation schema 2.0). Deploy it as a Lambda function (Node.js 20 or later; the runtime's AWS SDK
// is all it needs) and set its ARN as images.batch.functionArn. See README.md beside this file.
//
// Each task's key column holds, URL-encoded, the JSON retailctl wrote for it:
//   { "s": source key, "k": planned key, "e": the source's ETag as listed, "t": Content-Type by name, "c": Cache-Control }
// The bucket of the task is the source bucket; the destination bucket, SSE and KMS key come from the
// job's user arguments. The copy is the one `images migrate` makes itself:
// - the Content-Type from the object's first 4,100 bytes (a ranged GET, never the whole object),
//   falling back to the type by name;
// - CopyObject with the metadata replaced (Content-Type, Cache-Control, SSE, x-amz-meta-source-etag),
//   S3 computing the SHA-256 (x-amz-checksum-algorithm), only from the object as listed
//   (x-amz-copy-source-if-match); above 5 GiB, UploadPartCopy in 512 MiB parts, 16 at a time,
//   none started with less than a minute of the invocation left (the upload is aborted then, and
//   the task fails saying so: raise the function's timeout, up to 15 minutes);
// - the result string is JSON: sha256 (hex), etag, contentType, size; retailctl reads it back from
//   the completion report into its manifest.
// A source changed since it was listed is a permanent failure (retailctl's rerun copies it as it is
// now); throttling and 5xx answers are temporary failures (S3 Batch Operations retries them).
import { CopyObjectCommand, CreateMultipartUploadCommand, UploadPartCopyCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

const SNIFF_BYTES = 4100;
const COPY_OBJECT_MAX = 5 * 1024 ** 3;
const PART_SIZE = 512 * 1024 ** 2;
/** A part is not started with less time than this left in the invocation. */
const PART_DEADLINE_MS = 60_000;

/** The types nearly every catalogue is made of, by their first bytes. */
export function sniff(head, byName) {
  const at = (offset, ascii) => [...ascii].every((c, i) => head[offset + i] === c.charCodeAt(0));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head[0] === 0x89 && at(1, 'PNG\r\n\x1a\n')) return 'image/png';
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'image/gif';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'image/webp';
  if (at(4, 'ftyp') && (at(8, 'avif') || at(8, 'avis'))) return 'image/avif';
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(Buffer.from(head.subarray(0, 1024)).toString('utf8').replace(/^\uFEFF/, ''))) return 'image/svg+xml';
  return byName || 'application/octet-stream';
}

function taskOf(s3Key) {
  // retailctl never writes '+' (a space is %20): one seen here is a form-encoded space
  for (const text of [s3Key, safeDecode(s3Key.replace(/\+/g, '%20'))]) {
    if (!text || !text.startsWith('{')) continue;
    try {
      const t = JSON.parse(text);
      if (typeof t.s === 'string' && typeof t.k === 'string' && typeof t.e === 'string') return t;
    } catch {
      // not this form
    }
  }
  return undefined;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

const copySource = (bucket, key) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
const quoted = (etag) => `"${etag.replace(/"/g, '')}"`;
const temporary = (err) => {
  const status = err?.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || status === 429 || /SlowDown|Throttl|RequestTimeout|InternalError/.test(err?.name ?? '');
};

async function copyOne(s3, args, bucket, task, remainingMs) {
  const head = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: task.s, Range: `bytes=0-${SNIFF_BYTES - 1}`, IfMatch: quoted(task.e) }));
  const bytes = new Uint8Array(await head.Body.transformToByteArray());
  const size = head.ContentRange ? Number(head.ContentRange.split('/')[1]) : bytes.length;
  const encoded = head.ContentEncoding && !/^identity$/i.test(head.ContentEncoding);
  const contentType = encoded ? task.t : sniff(bytes, task.t);
  const known = /^[0-9a-f]{64}$/.test(head.Metadata?.sha256 ?? '') ? head.Metadata.sha256 : undefined;
  const common = {
    Bucket: args.bucket,
    Key: task.k,
    ContentType: contentType,
    CacheControl: task.c,
    ServerSideEncryption: args.sse,
    ...(args.kmsKeyId ? { SSEKMSKeyId: args.kmsKeyId } : {}),
    Metadata: { 'source-etag': task.e.replace(/"/g, ''), ...(known ? { sha256: known } : {}) },
    ...(head.ContentEncoding ? { ContentEncoding: head.ContentEncoding } : {}),
    ...(head.ContentDisposition ? { ContentDisposition: head.ContentDisposition } : {}),
    ...(head.ContentLanguage ? { ContentLanguage: head.ContentLanguage } : {}),
  };
  if (size <= COPY_OBJECT_MAX) {
    const res = await s3.send(new CopyObjectCommand({ ...common, CopySource: copySource(bucket, task.s), CopySourceIfMatch: quoted(task.e), MetadataDirective: 'REPLACE', ChecksumAlgorithm: 'SHA256' }));
    const sha = res.CopyObjectResult?.ChecksumSHA256;
    return { sha256: known ?? (sha ? Buffer.from(sha, 'base64').toString('hex') : undefined), etag: (res.CopyObjectResult?.ETag ?? '').replace(/"/g, ''), contentType, size };
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ ...common, ChecksumAlgorithm: 'SHA256' }));
  try {
    const partSize = Math.max(PART_SIZE, Math.ceil(size / 10_000));
    const ranges = [];
    for (let first = 0; first < size; first += partSize) ranges.push({ n: ranges.length + 1, first, last: Math.min(size, first + partSize) - 1 });
    const parts = new Array(ranges.length);
    let next = 0;
    // 16 parts at a time, and none started that could not end before the invocation's deadline
    const worker = async () => {
      while (next < ranges.length) {
        if (remainingMs() < PART_DEADLINE_MS) throw Object.assign(new Error(`s3://${bucket}/${task.s} (${size} bytes) could not be copied within the function's time limit: raise its timeout, or copy it with --engine direct`), { name: 'OutOfTime' });
        const r = ranges[next++];
        const part = await s3.send(new UploadPartCopyCommand({ Bucket: args.bucket, Key: task.k, UploadId, PartNumber: r.n, CopySource: copySource(bucket, task.s), CopySourceIfMatch: quoted(task.e), CopySourceRange: `bytes=${r.first}-${r.last}` }));
        parts[r.n - 1] = { PartNumber: r.n, ETag: part.CopyPartResult?.ETag, ChecksumSHA256: part.CopyPartResult?.ChecksumSHA256 };
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, ranges.length) }, worker));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: args.bucket, Key: task.k, UploadId, MultipartUpload: { Parts: parts } }));
    return { ...(known ? { sha256: known } : {}), etag: (done.ETag ?? '').replace(/"/g, ''), contentType, size };
  } catch (err) {
    // an upload left open would be billed until a lifecycle rule ends it
    await s3.send(new AbortMultipartUploadCommand({ Bucket: args.bucket, Key: task.k, UploadId })).catch(() => {});
    throw err;
  }
}

/** The handler for a given S3 client (a test passes one pointed at its emulator). */
export function makeHandler(s3) {
  return async (event, context) => {
    const remainingMs = () => (typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Infinity);
    const args = event.job?.userArguments ?? {};
    const results = [];
    for (const t of event.tasks ?? []) {
      const bucket = t.s3Bucket ?? String(t.s3BucketArn ?? '').replace(/^arn:aws[a-z-]*:s3:::/, '');
      const task = taskOf(t.s3Key);
      if (!task || !args.bucket) {
        results.push({ taskId: t.taskId, resultCode: 'PermanentFailure', resultString: !task ? 'not a retailctl task (the key column is not its JSON)' : 'no destination bucket in the job\'s user arguments' });
        continue;
      }
      try {
        const copied = await copyOne(s3, args, bucket, task, remainingMs);
        results.push({ taskId: t.taskId, resultCode: 'Succeeded', resultString: JSON.stringify(copied) });
      } catch (err) {
        const status = err?.$metadata?.httpStatusCode;
        const changed = status === 412 || err?.name === 'PreconditionFailed';
        const why = changed ? `PreconditionFailed 412: s3://${bucket}/${task.s} changed since it was listed` : `${err?.name ?? 'Error'} ${status ?? ''}: ${err?.message ?? err}`;
        results.push({ taskId: t.taskId, resultCode: !changed && err?.name !== 'OutOfTime' && temporary(err) ? 'TemporaryFailure' : 'PermanentFailure', resultString: why.slice(0, 1024) });
      }
    }
    return { invocationSchemaVersion: '2.0', treatMissingKeysAs: 'PermanentFailure', invocationId: event.invocationId, results };
  };
}

let client;
export const handler = (event, context) => makeHandler((client ??= new S3Client({})))(event, context);
