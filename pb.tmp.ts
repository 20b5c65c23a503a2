import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { S3Putter } from './src/lib/images/s3put.js';
import { detectContentType } from './src/lib/images/content.js';
const files = execSync('find /tmp/retailctl-bench-images-2000/src -type f -name "*.*" ! -name ".done"').toString().trim().split('\n');
const port = Number(process.argv[2]);
await fetch(`http://127.0.0.1:${port}/pb`, { method: 'PUT' });
const putter = new S3Putter({ endpoint: { url: new URL(`http://127.0.0.1:${port}`), pathStyle: true, region: 'us-east-1' }, bucket: 'pb', credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }), userAgent: 'x', maxSockets: 64 });
const mode = process.argv[3];
const bodies = files.map((f) => readFileSync(f));
const shas = bodies.map((b) => createHash('sha256').update(b).digest());
for (let round = 0; round < 2; round++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  let i = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (i < files.length) {
      const k = i++;
      let body = bodies[k]!, sha = shas[k]!, ct = 'image/jpeg';
      if (mode === 'full') { body = readFileSync(files[k]!); sha = createHash('sha256').update(body).digest(); ct = (await detectContentType(files[k]!, body.subarray(0, 4100))).contentType; }
      await putter.put({ key: `r${round}/${k}`, body, size: body.length, sha256: sha, contentType: ct, cacheControl: 'public', sse: 'AES256' });
    }
  }));
  const c = process.cpuUsage(c0); const w = performance.now() - t0;
  console.log(mode, (files.length / w * 1000).toFixed(0), 'obj/s', ((c.user + c.system) / files.length).toFixed(0), 'us cpu/obj');
}
putter.close();
