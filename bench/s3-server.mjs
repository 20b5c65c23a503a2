// In-memory S3-compatible server for the uploader benchmark (npm run bench -- images): every
// response is held back LATENCY_MS (default 25) like S3's round trip, so clients are compared on
// how they overlap requests and on their own CPU, not on a slow emulator. Binds 127.0.0.1 only.
// Speaks what the three clients use: create/head bucket, PUT (plain and aws-chunked bodies),
// HEAD, GET, DELETE object, ListObjectsV2 and V1 (prefix, pagination), GET ?location.
// No signature checks, no multipart: correctness is tested against moto, not here.
// Usage: node bench/s3-server.mjs [port]   (prints "listening <port>" once ready)
import { createHash } from 'node:crypto';
import http from 'node:http';

const latency = Number(process.env.LATENCY_MS ?? 25);
/** bucket → key → object */
const buckets = new Map();
const counts = { put: 0, get: 0, head: 0, list: 0, other: 0 };

const esc = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Body of an aws-chunked upload: `<hex size>;chunk-signature=…\r\n<data>\r\n` … `0;…\r\n[trailers]\r\n`. */
function dechunk(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (!size) break;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function xml(res, status, body) {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function error(res, status, code) {
  xml(res, status, `<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
}

function list(res, name, bucket, q) {
  counts.list++;
  const v2 = q.get('list-type') === '2';
  const prefix = q.get('prefix') ?? '';
  const max = Math.min(Number(q.get('max-keys') ?? 1000), 1000);
  const after = v2 ? (q.get('continuation-token') ? Buffer.from(q.get('continuation-token'), 'base64url').toString() : q.get('start-after') ?? '') : q.get('marker') ?? '';
  const keys = [...bucket.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
  const page = keys.slice(0, max);
  const truncated = keys.length > max;
  let body = `<ListBucketResult xmlns="${NS}"><Name>${esc(name)}</Name><Prefix>${esc(prefix)}</Prefix><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>`;
  if (v2) body += `<KeyCount>${page.length}</KeyCount>${truncated ? `<NextContinuationToken>${Buffer.from(page.at(-1)).toString('base64url')}</NextContinuationToken>` : ''}`;
  else if (truncated) body += `<NextMarker>${esc(page.at(-1))}</NextMarker>`;
  for (const k of page) {
    const o = bucket.get(k);
    body += `<Contents><Key>${esc(k)}</Key><LastModified>${o.modified}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
  }
  xml(res, 200, `${body}</ListBucketResult>`);
}

function handle(req, res, body) {
  const url = new URL(req.url, 'http://local');
  const [, name, ...rest] = url.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const bucket = buckets.get(name);
  if (!key) {
    if (req.method === 'PUT') {
      if (!bucket) buckets.set(name, new Map());
      res.writeHead(200, { 'content-length': 0 });
      return res.end();
    }
    if (!bucket) return error(res, 404, 'NoSuchBucket');
    if (req.method === 'HEAD') return res.writeHead(200, { 'content-length': 0 }).end();
    if (url.searchParams.has('location')) return xml(res, 200, `<LocationConstraint xmlns="${NS}"></LocationConstraint>`);
    if (req.method === 'GET') return list(res, name, bucket, url.searchParams);
    counts.other++;
    return error(res, 501, 'NotImplemented');
  }
  if (!bucket) return error(res, 404, 'NoSuchBucket');
  if (req.method === 'PUT') {
    counts.put++;
    if (url.searchParams.has('uploadId') || req.headers['x-amz-copy-source']) return error(res, 501, 'NotImplemented');
    const chunked = String(req.headers['content-encoding'] ?? '').includes('aws-chunked') || String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
    const data = chunked ? dechunk(body) : body;
    const etag = createHash('md5').update(data).digest('hex');
    const meta = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-meta-') || h === 'content-type' || h === 'cache-control' || h === 'x-amz-server-side-encryption'));
    bucket.set(key, { body: data, etag, meta, modified: new Date().toISOString() });
    res.writeHead(200, { etag: `"${etag}"`, 'content-length': 0 });
    return res.end();
  }
  const o = bucket.get(key);
  if (req.method === 'DELETE') {
    bucket.delete(key);
    return res.writeHead(204).end();
  }
  if (!o) return req.method === 'HEAD' ? res.writeHead(404, { 'content-length': 0 }).end() : error(res, 404, 'NoSuchKey');
  const headers = { ...o.meta, etag: `"${o.etag}"`, 'content-length': o.body.length, 'last-modified': new Date(o.modified).toUTCString() };
  if (req.method === 'HEAD') {
    counts.head++;
    return res.writeHead(200, headers).end();
  }
  counts.get++;
  res.writeHead(200, headers);
  res.end(o.body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(counts));
    }
    setTimeout(() => handle(req, res, body), latency);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
