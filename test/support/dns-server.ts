/**
 * A tiny authoritative-style DNS server on 127.0.0.1 (node:dgram, UDP) for the cdn verification
 * tests: it answers A, AAAA and CNAME questions from a function of (name, type, time), so a test can
 * make a "resolver" switch to the new answer after a delay, or never. TTL 0 (nothing to cache).
 * Test support only: never part of retailctl.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export type DnsAnswer = { type: 'A' | 'AAAA' | 'CNAME'; values: string[] } | undefined;

export interface DnsServer {
  /** `127.0.0.1:<port>`, as `--verify-resolvers` takes it. */
  address: string;
  /** Questions received: `name TYPE`. */
  queries: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA' | 'CNAME'> = { 1: 'A', 28: 'AAAA', 5: 'CNAME' };
const CODES = { A: 1, AAAA: 28, CNAME: 5 } as const;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i]! !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return { name: labels.join('.'), end: i + 1 };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function rdata(type: 'A' | 'AAAA' | 'CNAME', value: string): Buffer {
  if (type === 'A') return Buffer.from(value.split('.').map(Number));
  if (type === 'CNAME') return encodeName(value);
  // AAAA: expand :: and write 8 groups
  const [head, tail] = value.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

/** Start the server; `answer` is asked for every question (`startedAt` lets it switch after a delay). */
export async function startDnsServer(answer: (name: string, type: string, sinceStartMs: number) => DnsAnswer): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const started = Date.now();
  const queries: string[] = [];
  socket.on('message', (msg, peer) => {
    try {
      const id = msg.readUInt16BE(0);
      const q = readName(msg, 12);
      const qtype = msg.readUInt16BE(q.end);
      const type = TYPES[qtype] ?? String(qtype);
      queries.push(`${q.name} ${type}`);
      const question = msg.subarray(12, q.end + 4);
      const a = answer(q.name.toLowerCase(), type, Date.now() - started);
      // a CNAME answers any question for the name, as DNS does; otherwise the types must agree
      const usable = a && (a.type === type || a.type === 'CNAME') ? a : undefined;
      const header = Buffer.alloc(12);
      header.writeUInt16BE(id, 0);
      header.writeUInt16BE(usable ? 0x8580 : a ? 0x8580 : 0x8583, 2); // QR AA RD RA; NXDOMAIN when the name is unknown
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(usable ? usable.values.length : 0, 6);
      const answers = (usable?.values ?? []).map((v) => {
        const data = rdata(usable!.type, v);
        const rr = Buffer.alloc(12);
        rr.writeUInt16BE(0xc00c, 0);
        rr.writeUInt16BE(CODES[usable!.type], 2);
        rr.writeUInt16BE(1, 4);
        rr.writeUInt32BE(0, 6);
        rr.writeUInt16BE(data.length, 10);
        return Buffer.concat([rr, data]);
      });
      socket.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
    } catch {
      // a malformed question gets no answer
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, queries, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
