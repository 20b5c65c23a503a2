/**
 * A streaming reader for delimited text (CSV, TSV): RFC 4180 quoting ("a ""b"" c"), quoted
 * delimiters and line breaks, CRLF or LF, a UTF-8 BOM, and the line number where each record
 * starts (for error messages). It works on raw bytes and decodes only complete fields: exports of
 * millions of rows are the normal case, and this is the hot path of `inventory reconcile`
 * (a general-purpose CSV library measured 2-10× slower here; see docs/testing.md).
 */

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

export type RecordHandler = (fields: string[], line: number) => void;

/**
 * A record as byte ranges of `buf`, for callers that decode only the fields they need.
 * `escaped[i]` is true when field i was quoted with doubled quotes inside: decode it with `field()`.
 */
export interface RawRecord {
  buf: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  escaped: Uint8Array;
  count: number;
  line: number;
  /** The position in `buf` just after the record (after its line break). */
  end: number;
}
export type RawRecordHandler = (record: RawRecord) => void;

/** Decode field `i` of a raw record. */
export function field(r: RawRecord, i: number): string {
  const value = r.buf.toString('utf8', r.starts[i]!, r.ends[i]!);
  return r.escaped[i] ? value.replace(/""/g, '"') : value;
}

const MAX_FIELDS = 4096;

export class DelimitedReader {
  readonly #delimiter: number;
  readonly #onRaw: RawRecordHandler;
  readonly #record: RawRecord = { buf: Buffer.alloc(0), starts: new Int32Array(64), ends: new Int32Array(64), escaped: new Uint8Array(64), count: 0, line: 0, end: 0 };
  #pending: Buffer | undefined;
  /** Line number (1-based) of the first byte of `#pending`. */
  #line = 1;
  #first = true;

  /**
   * `onRecord` gets decoded fields; `{ raw }` gets byte ranges (the fast path). For a part of a file
   * (the parallel engine), `firstLine` is the line number of its first byte and `bom: false` keeps a
   * leading BOM (there is none mid-file).
   */
  constructor(delimiter: ',' | '\t', handler: RecordHandler | { raw: RawRecordHandler }, options: { firstLine?: number; bom?: boolean } = {}) {
    this.#delimiter = delimiter.charCodeAt(0);
    this.#line = options.firstLine ?? 1;
    this.#first = options.bom !== false;
    if (typeof handler === 'function') {
      this.#onRaw = (r) => {
        const fields: string[] = new Array(r.count);
        for (let i = 0; i < r.count; i++) fields[i] = field(r, i);
        handler(fields, r.line);
      };
    } else {
      this.#onRaw = handler.raw;
    }
  }

  #addField(count: number, start: number, end: number, escaped: boolean, line: number): void {
    const r = this.#record;
    if (count >= r.starts.length) {
      if (count >= MAX_FIELDS) throw new DelimitedError(`more than ${MAX_FIELDS} fields`, line);
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T) => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      r.starts = grow(r.starts, (n) => new Int32Array(n));
      r.ends = grow(r.ends, (n) => new Int32Array(n));
      r.escaped = grow(r.escaped, (n) => new Uint8Array(n));
    }
    r.starts[count] = start;
    r.ends[count] = end;
    r.escaped[count] = escaped ? 1 : 0;
  }

  /** Feed the next chunk; complete records are emitted, the incomplete tail is kept. */
  push(chunk: Buffer): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    if (this.#first) {
      this.#first = false;
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    const consumed = this.#scan(buf, false);
    this.#pending = consumed < buf.length ? Buffer.from(buf.subarray(consumed)) : undefined;
  }

  /** The line number of the next byte (after end(): one past the last line). */
  get nextLine(): number {
    return this.#line;
  }

  /** End of input: the last record may lack a final line break. */
  end(): void {
    if (this.#pending && this.#pending.length > 0) this.#scan(this.#pending, true);
    this.#pending = undefined;
  }

  /** Emit every complete record in `buf`; returns how many bytes were consumed. */
  #scan(buf: Buffer, final: boolean): number {
    const delimiter = this.#delimiter;
    const n = buf.length;
    let recordStart = 0;
    let i = 0;
    while (i < n) {
      const startLine = this.#line;
      let count = 0;
      let pos = i;
      let lines = 0;
      let complete = false;
      // one record
      for (;;) {
        if (pos >= n) break;
        if (buf[pos] === QUOTE) {
          // quoted field: runs to the closing quote that is not doubled
          let j = pos + 1;
          let hasEscapes = false;
          let closed = false;
          while (j < n) {
            const c = buf[j]!;
            if (c === QUOTE) {
              if (j + 1 < n && buf[j + 1] === QUOTE) {
                hasEscapes = true;
                j += 2;
                continue;
              }
              if (j + 1 >= n && !final) break; // cannot tell yet whether the quote is doubled
              closed = true;
              break;
            }
            if (c === LF) lines++;
            j++;
          }
          if (!closed) {
            if (!final) break;
            throw new DelimitedError('unterminated quoted field', startLine);
          }
          this.#addField(count++, pos + 1, j, hasEscapes, startLine);
          pos = j + 1;
          // after a closing quote: delimiter, line break or end of input
          if (pos >= n) {
            if (final) {
              complete = true;
              break;
            }
            break;
          }
          const c = buf[pos]!;
          if (c === delimiter) {
            pos++;
            continue;
          }
          if (c === CR && pos + 1 < n && buf[pos + 1] === LF) {
            pos += 2;
            lines++;
            complete = true;
            break;
          }
          if (c === LF) {
            pos++;
            lines++;
            complete = true;
            break;
          }
          if (c === CR && pos + 1 >= n && !final) break;
          throw new DelimitedError(`unexpected character after a closing quote (field ${count})`, startLine + lines);
        }
        // unquoted field: up to the delimiter or the end of the line
        let j = pos;
        while (j < n) {
          const c = buf[j]!;
          if (c === delimiter || c === LF) break;
          j++;
        }
        if (j >= n && !final) break;
        let end = j;
        if (end > pos && buf[end - 1] === CR && (j >= n || buf[j] === LF)) end--;
        this.#addField(count++, pos, end, false, startLine);
        if (j >= n) {
          complete = true;
          pos = n;
          break;
        }
        if (buf[j] === delimiter) {
          pos = j + 1;
          if (pos >= n && final) {
            this.#addField(count++, pos, pos, false, startLine);
            complete = true;
            break;
          }
          continue;
        }
        pos = j + 1;
        lines++;
        complete = true;
        break;
      }
      if (!complete) break;
      // a blank line is not a record
      const r = this.#record;
      if (!(count === 1 && r.ends[0] === r.starts[0])) {
        r.buf = buf;
        r.count = count;
        r.line = startLine;
        r.end = pos;
        this.#onRaw(r);
      }
      this.#line += lines;
      i = pos;
      recordStart = pos;
    }
    return recordStart;
  }
}

/** A malformed line in a delimited file. */
export class DelimitedError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
  ) {
    super(`${reason} (line ${line})`);
  }
}
