/**
 * Image files with real signatures (PNG with valid chunks, JFIF JPEG, RIFF WebP, GIF89a, SVG),
 * deterministic from a seed: for tests and the benchmark. The pixel data is noise; only the
 * structure a type sniffer reads is real.
 */
import { deflateSync } from 'node:zlib';

function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let x = 0xffffffff;
  for (const v of b) x = CRC_TABLE[(x ^ v) & 0xff]! ^ (x >>> 8);
  return (x ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A PNG of about `bytes` bytes (noise does not compress). */
export function png(bytes: number, seed = 1): Buffer {
  const width = 64;
  const rows = Math.max(1, Math.ceil(bytes / (width * 3 + 1)));
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(rows, 4);
  header[8] = 8;
  header[9] = 2;
  const raw = noise((width * 3 + 1) * rows, seed);
  for (let r = 0; r < rows; r++) raw[r * (width * 3 + 1)] = 0;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level: 0 })), chunk('IEND', Buffer.alloc(0))]);
}

export function jpeg(bytes: number, seed = 1): Buffer {
  return Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), noise(Math.max(0, bytes - 22), seed), Buffer.from('ffd9', 'hex')]);
}

export function webp(bytes: number, seed = 1): Buffer {
  const body = Buffer.concat([Buffer.from('WEBPVP8 '), Buffer.alloc(4), noise(Math.max(0, bytes - 20), seed)]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from('RIFF'), size, body]);
}

export function gif(bytes: number, seed = 1): Buffer {
  return Buffer.concat([Buffer.from('GIF89a'), Buffer.from([1, 0, 1, 0, 0, 0, 0]), noise(Math.max(0, bytes - 14), seed), Buffer.from([0x3b])]);
}

export function svg(label = 'Shop'): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="4" y="28">${label}</text></svg>\n`);
}
