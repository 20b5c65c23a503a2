/**
 * Output written as bytes into large buffers, for files of millions of rows: no string per cell or
 * per line, no UTF-8 encoding pass over the whole output when it is written. Callers copy bytes they
 * already hold (a sku from the bytes of an export), ASCII they know (names, digits) and, rarely, text
 * that needs encoding.
 */

const encoder = new TextEncoder();

export class ByteWriter {
  buf: Uint8Array;
  n = 0;

  constructor(readonly size = 1 << 18) {
    this.buf = new Uint8Array(size);
  }

  /** Make room for `k` more bytes. */
  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    bigger.set(this.buf.subarray(0, this.n));
    this.buf = bigger;
  }

  byte(b: number): void {
    if (this.n >= this.buf.length) this.room(1);
    this.buf[this.n++] = b;
  }

  /** Bytes [start, end) of `src`. */
  bytes(src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    this.room(len);
    const buf = this.buf;
    let n = this.n;
    if (len < 32) for (let i = start; i < end; i++) buf[n++] = src[i]!;
    else {
      buf.set(src.subarray(start, end), n);
      n += len;
    }
    this.n = n;
  }

  /** Any text, as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.n += encoder.encodeInto(s, this.buf.subarray(this.n)).written;
  }

  /** A number as JavaScript writes it (`${n}`): digits straight for integers, the rest through a string. */
  number(v: number): void {
    if (Number.isInteger(v) && v > -1e15 && v < 1e15 && !Object.is(v, -0)) {
      this.room(17);
      const buf = this.buf;
      let n = this.n;
      if (v < 0) {
        buf[n++] = 0x2d;
        v = -v;
      }
      if (v < 10) buf[n++] = 0x30 + v;
      else {
        const from = n;
        while (v > 0) {
          const q = Math.floor(v / 10);
          buf[n++] = 0x30 + (v - q * 10);
          v = q;
        }
        for (let a = from, b = n - 1; a < b; a++, b--) {
          const t = buf[a]!;
          buf[a] = buf[b]!;
          buf[b] = t;
        }
      }
      this.n = n;
      return;
    }
    this.text(`${v}`);
  }

  /** `number(v)` when `known`, else `null` (JSON). */
  numberOrNull(known: boolean, v: number): void {
    if (known) return this.number(v);
    this.room(4);
    const buf = this.buf;
    buf[this.n] = 0x6e;
    buf[this.n + 1] = 0x75;
    buf[this.n + 2] = 0x6c;
    buf[this.n + 3] = 0x6c;
    this.n += 4;
  }

  /** The bytes written so far (a new buffer is started: the one returned is the caller's). */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.n);
    this.buf = new Uint8Array(this.size);
    this.n = 0;
    return out;
  }
}
