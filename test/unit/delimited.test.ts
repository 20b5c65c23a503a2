import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { DelimitedReader } from '../../src/lib/inventory/delimited.js';

function read(text: string | Buffer, delimiter: ',' | '\t' = ',', chunkSizes: number[] = [1 << 20]): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  const reader = new DelimitedReader(delimiter, (fields, line) => out.push({ fields, line }));
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let pos = 0;
  let k = 0;
  while (pos < buf.length) {
    const size = chunkSizes[k++ % chunkSizes.length]!;
    reader.push(buf.subarray(pos, pos + size));
    pos += size;
  }
  reader.end();
  return out;
}

describe('DelimitedReader', () => {
  it('reads quoted fields with delimiters, doubled quotes and line breaks, CRLF, a BOM, and reports where each record starts', () => {
    const text = '\uFEFFsku,location,qty\r\n"SER-001","Dallas, TX",5\r\n"MUG ""12oz""",dfw1,"7"\r\n"multi\nline",reno1,3\r\nlast,x,1';
    expect(read(text)).toEqual([
      { fields: ['sku', 'location', 'qty'], line: 1 },
      { fields: ['SER-001', 'Dallas, TX', '5'], line: 2 },
      { fields: ['MUG "12oz"', 'dfw1', '7'], line: 3 },
      { fields: ['multi\nline', 'reno1', '3'], line: 4 },
      { fields: ['last', 'x', '1'], line: 6 },
    ]);
  });

  it('reads TSV, skips blank lines, keeps empty fields', () => {
    expect(read('a\tb\n\n1\t\n', '\t').map((r) => r.fields)).toEqual([['a', 'b'], ['1', '']]);
  });

  it('gives the same records whatever the chunk boundaries (every split of a tricky file)', () => {
    const text = 'a,b\r\n"x""y",",\r\n"\r\n"",z\n';
    const whole = read(text);
    for (let size = 1; size <= text.length; size++) expect(read(text, ',', [size])).toEqual(whole);
  });

  it('agrees with csv-parse on random files (differential test against a library)', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['a', 'Z', '9', ' ', ',', '"', '\n', 'é', '-', '.'];
    for (let round = 0; round < 200; round++) {
      const rows = Array.from({ length: 1 + Math.floor(rand() * 6) }, () =>
        Array.from({ length: 3 }, () => Array.from({ length: Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')),
      );
      const eol = rand() < 0.5 ? '\n' : '\r\n';
      const text = rows.map((r) => r.map((f) => (/[",\n\r]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f)).join(',')).join(eol) + eol;
      const expected = parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
      const chunks = [1 + Math.floor(rand() * 7), 1 + Math.floor(rand() * 13)];
      expect(read(text, ',', chunks).map((r) => r.fields)).toEqual(expected);
    }
  });

  it('an unterminated quote is an error with the line it starts on', () => {
    expect(() => read('a,b\n1,"open\n2,3\n')).toThrow('unterminated quoted field (line 2)');
  });
});
