/**
 * images migrate against `aws s3 sync` (defaults) and `rclone copy --transfers 64 --checkers 64
 * --fast-list`, same run, same generated catalogue-shaped tree (2,000 images of 5–200 KB), same
 * in-memory S3 server on 127.0.0.1 that holds every response back 25 ms (bench/s3-server.mjs):
 * objects/s, MB/s, client CPU ms per object and peak RSS (GNU time) for a cold upload and for a
 * no-change rerun. Peers are the Debian packages, installed here when missing.
 * Goals: cold ≥ 5× aws s3 sync's objects/s and ≥ 1.5× rclone's; ≤ 1 ms CPU per object; rerun ≤
 * 0.75× aws s3 sync's time; peak RSS ≤ 256 MB for a 100,000-file tree (BENCH_BIG=1).
 * The headline is the reference S3 test server in ../shared/bench when it is there: retailctl and
 * tuned rclone cold on it, same run; then the S3 to S3 copy of 10,000 objects on it against
 * `aws s3 cp --recursive` (BENCH_COPY_OBJECTS).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os, { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jpeg, png, webp } from '../test/support/images.js';
import { timed, type Timed } from './timed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CREDS = { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench-secret', AWS_REGION: 'us-east-1' };

/** A catalogue-shaped tree: category/subcategory/sku/variant.ext, sizes 5–200 KB. */
async function generate(dir: string, count: number, minKb: number, maxKb: number): Promise<{ bytes: number }> {
  const marker = path.join(dir, '.done');
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const categories = ['skincare', 'haircare', 'home', 'kitchen', 'garden', 'toys', 'shoes', 'bags'];
  const variants = ['front', 'back', 'side', 'detail'];
  let bytes = 0;
  const plan: { rel: string; size: number; kind: number }[] = [];
  for (let i = 0; i < count; i++) {
    const sku = Math.floor(i / 4);
    const ext = ['jpg', 'png', 'webp'][rand(3)]!;
    const size = (minKb + rand(maxKb - minKb + 1)) * 1024;
    plan.push({ rel: `${categories[sku % categories.length]}/sub-${sku % 13}/sku-${String(sku).padStart(6, '0')}/${variants[i % 4]}.${ext}`, size, kind: ['jpg', 'png', 'webp'].indexOf(ext) });
    bytes += size;
  }
  if (existsSync(marker)) return { bytes };
  await rm(dir, { recursive: true, force: true });
  for (const [i, f] of plan.entries()) {
    await mkdir(path.dirname(path.join(dir, f.rel)), { recursive: true });
    const body = f.kind === 0 ? jpeg(f.size, i + 1) : f.kind === 1 ? png(f.size, i + 1).subarray(0, f.size) : webp(f.size, i + 1);
    await writeFile(path.join(dir, f.rel), body);
  }
  await writeFile(marker, '');
  return { bytes };
}

type Run = Omit<Timed, 'stdout'>;
/** The figures of a run without its output (which would otherwise land in results.json). */
const figuresOf = ({ stdout: _stdout, ...run }: Timed): Run => run;

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Start an S3 server script on a free port (both servers take PORT / argv and print the port once listening). */
async function startServer(script: string): Promise<{ url: string; stop: () => void; cpuS: () => number }> {
  const wanted = await freePort();
  const child = spawn(process.execPath, [script, String(wanted)], { env: { ...process.env, LATENCY_MS: '25', PORT: String(wanted) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(\d{2,5})\s*$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`${script} did not start: ${out}`)), 10_000);
  });
  // the server's own CPU so far (Linux /proc: utime + stime in clock ticks), for its share of the machine
  const cpuS = () => {
    try {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return Number.NaN;
    }
  };
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill(), cpuS };
}

/** Empty the reference server (POST /__reset): nothing of an earlier run left in its memory. */
async function resetServer(url: string): Promise<void> {
  const res = await fetch(`${url}/__reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`reset the server: HTTP ${res.status}`);
}

async function createBucket(url: string, bucket: string): Promise<void> {
  const res = await fetch(`${url}/${bucket}`, { method: 'PUT' });
  if (!res.ok) throw new Error(`create bucket ${bucket}: HTTP ${res.status}`);
}

/** The Debian peers, installed when missing (root or passwordless sudo); the reason when not possible. */
function ensurePeers(): { aws?: string; rclone?: string; missing: string[] } {
  const find = (bin: string) => (existsSync(`/usr/bin/${bin}`) ? `/usr/bin/${bin}` : undefined);
  if (!find('aws') || !find('rclone')) {
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot ? 'apt-get' : 'sudo';
    const args = asRoot ? ['install', '-y', '-q', 'awscli', 'rclone'] : ['-n', 'apt-get', 'install', '-y', '-q', 'awscli', 'rclone'];
    console.error('bench: installing the Debian packages awscli and rclone (peers) ...');
    let r = spawnSync(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) {
      spawnSync(asRoot ? 'apt-get' : 'sudo', asRoot ? ['update', '-q'] : ['-n', 'apt-get', 'update', '-q'], { stdio: 'ignore' });
      r = spawnSync(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'ignore', 'pipe'] });
    }
  }
  const aws = find('aws');
  const rclone = find('rclone');
  return { ...(aws ? { aws } : {}), ...(rclone ? { rclone } : {}), missing: [...(aws ? [] : ['aws (apt-get install awscli failed)']), ...(rclone ? [] : ['rclone (apt-get install rclone failed)'])] };
}

export interface ToolFigures {
  cold: Run & { objectsPerS: number; mbPerS: number; cpuMsPerObject: number };
  rerun: Run;
}

export interface ImagesFigures {
  objects: number;
  megabytes: number;
  latencyMs: number;
  tools: Record<string, ToolFigures>;
  retailctlRerunWithoutJournal?: Run;
  /** The headline: cold uploads on the reference S3 test server (../shared/bench), retailctl against tuned rclone, same run. */
  crossCheck?: { server: string; rounds: number; objectsPerS: number; cpuMsPerObject: number; serverCpuMsPerObject: number; readerThreads?: { objectsPerS: number; cpuMsPerObject: number; serverCpuMsPerObject: number }; rclone?: { objectsPerS: number; cpuMsPerObject: number; serverCpuMsPerObject: number } };
  big?: { objects: number; wallS: number; rssMb: number; objectsPerS: number };
  missingPeers: string[];
  rounds: number;
  /** S3 to S3 between buckets of the reference server, both server-side: retailctl (s3:// source) against `aws s3 cp --recursive`. */
  copy?: { server: string; objects: number; tools: Record<string, Run & { objectsPerS: number; cpuMsPerObject: number }> };
}

export async function benchImages(count = Number(process.env.BENCH_IMAGES ?? 2000)): Promise<ImagesFigures> {
  const work = path.join(os.tmpdir(), `retailctl-bench-images-${count}`);
  const src = path.join(work, 'src');
  const { bytes } = await generate(src, count, 5, 200);
  const peers = ensurePeers();
  const server = await startServer(path.join(ROOT, 'bench', 's3-server.mjs'));
  const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, ...CREDS };
  await writeFile(path.join(work, 'aws-config'), '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
  const withRates = (r: Run) => ({ ...r, objectsPerS: count / r.wallS, mbPerS: bytes / 1024 / 1024 / r.wallS, cpuMsPerObject: (r.cpuS * 1000) / count });
  const tools: Record<string, ToolFigures> = {};
  const figures: ImagesFigures = { objects: count, megabytes: bytes / 1024 / 1024, latencyMs: 25, tools, missingPeers: peers.missing, rounds: Number(process.env.BENCH_ROUNDS ?? 3) };
  try {
    const retailctl = (bucket: string, stateDir: string, url = server.url) =>
      timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'images', 'migrate', src, '--bucket', bucket, '--endpoint-url', url, '--state-dir', stateDir, '--yes', '--json'], { ...baseEnv, CI: 'true' }, work);
    const awsEnv = { ...baseEnv, AWS_CONFIG_FILE: path.join(work, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' };
    const rcloneEnv: NodeJS.ProcessEnv = { ...baseEnv, RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Other', RCLONE_CONFIG_BENCH_ENDPOINT: server.url, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: CREDS.AWS_ACCESS_KEY_ID, RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: CREDS.AWS_SECRET_ACCESS_KEY, RCLONE_CONFIG_BENCH_REGION: 'us-east-1', RCLONE_CONFIG: '/dev/null' };
    delete rcloneEnv.AWS_CA_BUNDLE; // Debian's rclone 1.60 fails on it
    const runs: Record<string, { cold: Run; rerun: Run }[]> = {};
    const record = (name: string, cold: Timed, rerun: Timed) => (runs[name] ??= []).push({ cold: figuresOf(cold), rerun: figuresOf(rerun) });
    // rounds (BENCH_ROUNDS, default 3) with the tools interleaved, each cold run into a fresh bucket;
    // the best of each is kept: the 2-core machines are noisy, and every tool gets the same chances
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    for (let round = 0; round < rounds; round++) {
      const state = path.join(work, `state-${round}`);
      await rm(state, { recursive: true, force: true });
      await createBucket(server.url, `retailctl-${round}`);
      const cold = await retailctl(`retailctl-${round}`, state);
      const uploaded = JSON.parse(cold.stdout).counts?.uploaded;
      if (uploaded !== count) cold.note = `uploaded ${uploaded} of ${count}`;
      record('retailctl', cold, await retailctl(`retailctl-${round}`, state));
      if (round === 0) {
        await rm(path.join(work, 'state-fresh'), { recursive: true, force: true });
        figures.retailctlRerunWithoutJournal = figuresOf(await retailctl('retailctl-0', path.join(work, 'state-fresh')));
      }
      if (peers.aws) {
        await createBucket(server.url, `aws-${round}`);
        const sync = () => timed(peers.aws!, ['s3', 'sync', src, `s3://aws-${round}/`, '--endpoint-url', server.url, '--only-show-errors', '--exclude', '.done'], awsEnv, work);
        record('aws s3 sync', await sync(), await sync());
      }
      if (peers.rclone) {
        await createBucket(server.url, `rclone-${round}`);
        const copy = () => timed(peers.rclone!, ['copy', src, `bench:rclone-${round}`, '--transfers', '64', '--checkers', '64', '--fast-list', '--exclude', '.done'], rcloneEnv, work);
        record('rclone (tuned)', await copy(), await copy());
      }
    }
    for (const [name, list] of Object.entries(runs)) {
      const cold = list.reduce((a, b) => (b.cold.wallS < a.cold.wallS ? b : a)).cold;
      const rerun = list.reduce((a, b) => (b.rerun.wallS < a.rerun.wallS ? b : a)).rerun;
      tools[name] = { cold: withRates(cold), rerun };
    }

    // cross-check against the reference S3 test server in ../shared/bench when it is there (outside the project)
    const shared = path.resolve(ROOT, '..', 'shared', 'bench', 's3-latency-server.js');
    if (existsSync(shared)) {
      const ref = await startServer(shared);
      try {
        // best of the rounds, interleaved: retailctl, retailctl reading on its main thread, tuned rclone
        type Best = { objectsPerS: number; cpuMsPerObject: number; serverCpuMsPerObject: number };
        const best: Record<string, Best> = {};
        const keep = (name: string, r: Timed, serverCpuS: number) => {
          const f = { objectsPerS: count / r.wallS, cpuMsPerObject: (r.cpuS * 1000) / count, serverCpuMsPerObject: (serverCpuS * 1000) / count };
          if (!best[name] || f.objectsPerS > best[name]!.objectsPerS) best[name] = f;
        };
        for (let round = 0; round < rounds; round++) {
          // the two variants take turns going first: the run right after a reset pays for the server's collection of what it held
          const variants = [['retailctl', {}], ['retailctl, two reader threads', { RETAILCTL_READ_THREADS: '2' }]] as const;
          for (const [name, extra] of round % 2 ? [...variants].reverse() : variants) {
            const bucket = `crosscheck-${round}-${name === 'retailctl' ? 'a' : 'b'}`;
            // every run starts from an empty server: one holding the earlier runs' 200 MB each is slower for whoever comes next
            await resetServer(ref.url);
            await createBucket(ref.url, bucket);
            await rm(path.join(work, 'state-x'), { recursive: true, force: true });
            const before = ref.cpuS();
            const x = await timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'images', 'migrate', src, '--bucket', bucket, '--endpoint-url', ref.url, '--state-dir', path.join(work, 'state-x'), '--yes', '--json'], { ...baseEnv, CI: 'true', ...extra }, work);
            keep(name, x, ref.cpuS() - before);
          }
          if (peers.rclone) {
            await resetServer(ref.url);
            await createBucket(ref.url, `crosscheck-rclone-${round}`);
            const before = ref.cpuS();
            const r = await timed(peers.rclone, ['copy', src, `bench:crosscheck-rclone-${round}`, '--transfers', '64', '--checkers', '64', '--fast-list', '--exclude', '.done'], { ...rcloneEnv, RCLONE_CONFIG_BENCH_ENDPOINT: ref.url }, work);
            keep('rclone', r, ref.cpuS() - before);
          }
        }
        const ours = best.retailctl!;
        figures.crossCheck = { server: '../shared/bench/s3-latency-server.js', rounds, ...ours, ...(best['retailctl, two reader threads'] ? { readerThreads: best['retailctl, two reader threads'] } : {}), ...(best.rclone ? { rclone: best.rclone } : {}) };
      } finally {
        ref.stop();
      }
    }

    if (existsSync(shared)) figures.copy = await benchCopy(shared, work, baseEnv, peers.aws);

    if (process.env.BENCH_BIG) {
      const n = 100_000;
      const bigSrc = path.join(os.tmpdir(), 'retailctl-bench-images-100k');
      await generate(bigSrc, n, 1, 2);
      await createBucket(server.url, 'big');
      await rm(path.join(work, 'state-big'), { recursive: true, force: true });
      const r = await timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'images', 'migrate', bigSrc, '--bucket', 'big', '--endpoint-url', server.url, '--state-dir', path.join(work, 'state-big'), '--yes', '--json'], { ...baseEnv, CI: 'true' }, work);
      figures.big = { objects: n, wallS: r.wallS, rssMb: r.rssMb, objectsPerS: n / r.wallS };
    }
  } finally {
    server.stop();
  }
  return figures;
}

/** PUT `count` small objects under `prefix` (64 at a time): the source of the copy bench. */
async function seedObjects(url: string, bucket: string, prefix: string, count: number): Promise<void> {
  const body = jpeg(6 * 1024, 7);
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < count) {
        const i = next++;
        const res = await fetch(`${url}/${bucket}/${prefix}${String(i).padStart(6, '0')}.jpg`, { method: 'PUT', body });
        if (!res.ok) throw new Error(`seed ${i}: HTTP ${res.status}`);
      }
    }),
  );
}

/**
 * S3 to S3 on the reference server (25 ms per response): BENCH_COPY_OBJECTS (default 10,000) flat
 * legacy keys copied to another bucket by retailctl (a ranged GET for the type, then CopyObject) and
 * by `aws s3 cp --recursive` (CopyObject), both server-side, same run, fresh buckets.
 */
async function benchCopy(shared: string, work: string, baseEnv: NodeJS.ProcessEnv, aws: string | undefined): Promise<NonNullable<ImagesFigures['copy']>> {
  const count = Number(process.env.BENCH_COPY_OBJECTS ?? 10_000);
  const ref = await startServer(shared);
  const tools: NonNullable<ImagesFigures['copy']>['tools'] = {};
  const rates = (r: Timed) => ({ ...figuresOf(r), objectsPerS: count / r.wallS, cpuMsPerObject: (r.cpuS * 1000) / count });
  try {
    await createBucket(ref.url, 'legacy');
    await seedObjects(ref.url, 'legacy', 'img/', count);
    await createBucket(ref.url, 'copy-retailctl');
    await rm(path.join(work, 'state-copy'), { recursive: true, force: true });
    const ours = await timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'images', 'migrate', 's3://legacy/img/', '--bucket', 'copy-retailctl', '--endpoint-url', ref.url, '--state-dir', path.join(work, 'state-copy'), '--yes', '--json'], { ...baseEnv, CI: 'true' }, work);
    const copied = JSON.parse(ours.stdout).counts?.uploaded;
    if (copied !== count) ours.note = `copied ${copied} of ${count}`;
    tools.retailctl = rates(ours);
    if (aws) {
      await createBucket(ref.url, 'copy-aws');
      const awsEnv = { ...baseEnv, AWS_CONFIG_FILE: path.join(work, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' };
      tools['aws s3 cp --recursive'] = rates(await timed(aws, ['s3', 'cp', '--recursive', 's3://legacy/img/', 's3://copy-aws/', '--endpoint-url', ref.url, '--only-show-errors'], awsEnv, work));
    }
  } finally {
    ref.stop();
  }
  return { server: '../shared/bench/s3-latency-server.js', objects: count, tools };
}

export function printImages(f: ImagesFigures): void {
  const x = f.crossCheck;
  if (x?.rclone) {
    const ratio = x.objectsPerS / x.rclone.objectsPerS;
    console.log(`\nimages migrate on the reference S3 server (${x.server}, 25 ms per response), ${f.objects.toLocaleString('en-US')} images, best of ${x.rounds} interleaved: retailctl ${x.objectsPerS.toFixed(0)} obj/s at ${x.cpuMsPerObject.toFixed(2)} ms CPU/object, rclone --transfers 64 ${x.rclone.objectsPerS.toFixed(0)} obj/s at ${x.rclone.cpuMsPerObject.toFixed(2)} ms: ${ratio.toFixed(2)}× (goal ≥ 1.5×: ${ratio >= 1.5 ? 'met' : 'NOT met'}; CPU goal ≤ 1.0 ms: ${x.cpuMsPerObject <= 1 ? 'met' : 'NOT met'})`);
    if (x.readerThreads) console.log(`  retailctl with two reader threads (RETAILCTL_READ_THREADS=2): ${x.readerThreads.objectsPerS.toFixed(0)} obj/s at ${x.readerThreads.cpuMsPerObject.toFixed(2)} ms CPU/object`);
    console.log(`  the server's own CPU per object: ${x.serverCpuMsPerObject.toFixed(2)} ms under retailctl, ${x.rclone.serverCpuMsPerObject.toFixed(2)} ms under rclone (it shares the machine's ${availableParallelism()} cores with the client)`);
  }
  console.log(`\nimages migrate: ${f.objects.toLocaleString('en-US')} images, ${f.megabytes.toFixed(0)} MB, S3-like server adding ${f.latencyMs} ms per response (same run, best of ${f.rounds} interleaved)`);
  console.log(`${'tool'.padEnd(16)}${'cold obj/s'.padStart(11)}${'MB/s'.padStart(8)}${'CPU ms/obj'.padStart(12)}${'peak RSS MB'.padStart(13)}${'rerun s'.padStart(9)}${'rerun RSS'.padStart(11)}`);
  for (const [name, t] of Object.entries(f.tools)) {
    const flag = t.cold.ok && t.rerun.ok ? '' : `  (exit non-zero: ${t.cold.note ?? t.rerun.note ?? ''})`;
    console.log(`${name.padEnd(16)}${t.cold.objectsPerS.toFixed(0).padStart(11)}${t.cold.mbPerS.toFixed(1).padStart(8)}${t.cold.cpuMsPerObject.toFixed(2).padStart(12)}${String(t.cold.rssMb).padStart(13)}${t.rerun.wallS.toFixed(2).padStart(9)}${String(t.rerun.rssMb).padStart(11)}${flag}`);
  }
  if (f.retailctlRerunWithoutJournal) console.log(`retailctl rerun without its journal (fresh CI checkout: MD5 of every file against the listed ETags): ${f.retailctlRerunWithoutJournal.wallS.toFixed(2)} s`);
  const us = f.tools.retailctl;
  const aws = f.tools['aws s3 sync'];
  const rclone = f.tools['rclone (tuned)'];
  if (us && aws) console.log(`cold vs aws s3 sync: ${(us.cold.objectsPerS / aws.cold.objectsPerS).toFixed(2)}× objects/s (goal ≥ 5×: ${us.cold.objectsPerS >= 5 * aws.cold.objectsPerS ? 'met' : 'NOT met'}); rerun ${(us.rerun.wallS / aws.rerun.wallS).toFixed(2)}× its time (goal ≤ 0.75×: ${us.rerun.wallS <= 0.75 * aws.rerun.wallS ? 'met' : 'NOT met'})`);
  if (us && rclone) console.log(`cold vs tuned rclone: ${(us.cold.objectsPerS / rclone.cold.objectsPerS).toFixed(2)}× objects/s (goal ≥ 1.5×: ${us.cold.objectsPerS >= 1.5 * rclone.cold.objectsPerS ? 'met' : 'NOT met'})`);
  if (us) console.log(`client CPU per object: ${us.cold.cpuMsPerObject.toFixed(2)} ms (goal ≤ 1 ms: ${us.cold.cpuMsPerObject <= 1 ? 'met' : 'NOT met'}; includes process start-up)`);
  if (f.crossCheck) console.log(`cross-check on ${f.crossCheck.server}: retailctl ${f.crossCheck.objectsPerS.toFixed(0)} obj/s, ${f.crossCheck.cpuMsPerObject.toFixed(2)} ms CPU/object`);
  if (f.copy) {
    console.log(`\nS3 to S3 (server-side copy), ${f.copy.objects.toLocaleString('en-US')} objects between buckets of ${f.copy.server} (25 ms per response)`);
    for (const [name, t] of Object.entries(f.copy.tools)) console.log(`${name.padEnd(24)}${t.objectsPerS.toFixed(0).padStart(8)} obj/s ${t.wallS.toFixed(1).padStart(7)} s ${t.cpuMsPerObject.toFixed(2).padStart(6)} ms CPU/obj ${String(t.rssMb).padStart(5)} MB RSS${t.ok ? '' : `  (exit non-zero: ${t.note ?? ''})`}`);
    const ours = f.copy.tools.retailctl;
    const peer = f.copy.tools['aws s3 cp --recursive'];
    if (ours && peer) console.log(`copy vs aws s3 cp --recursive: ${(ours.objectsPerS / peer.objectsPerS).toFixed(2)}× objects/s`);
  }
  if (f.big) console.log(`100,000-file tree: ${f.big.wallS.toFixed(1)} s (${f.big.objectsPerS.toFixed(0)} obj/s), peak RSS ${f.big.rssMb} MB (goal ≤ 256 MB: ${f.big.rssMb <= 256 ? 'met' : 'NOT met'})`);
  if (f.missingPeers.length) console.log(`peers not measured: ${f.missingPeers.join('; ')}`);
}
