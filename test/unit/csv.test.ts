/**
 * The CSV writer every output goes through (src/lib/io/csv.ts): byte for byte what csv-stringify
 * writes with escape_formulas, on random rows full of quotes, commas, newlines, formula starts and
 * Unicode; and formula cells escaped the way OWASP recommends.
 */
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { csvCell, csvChunks } from '../../src/lib/io/csv.js';

/** A small seeded generator: the same rows on every run, and a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'Z', '0', '9', ' ', ',', '"', '""', '\n', '\r', '\r\n', '\t', '=', '+', '-', '@', "'", 'é', 'ß', '日本', '😀', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20', '\u2028', ';', '|', '\\', 'SKU-'];

function value(next: () => number): unknown {
  const pick = next();
  if (pick < 0.1) return null;
  if (pick < 0.15) return undefined;
  if (pick < 0.3) return Math.round((next() - 0.5) * 2000);
  if (pick < 0.35) return Math.round((next() - 0.5) * 1e6) / 100;
  if (pick < 0.38) return next() < 0.5;
  if (pick < 0.4) return '';
  let s = '';
  for (let i = Math.floor(next() * 6); i >= 0; i--) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

const COLUMNS = ['class', 'sku', 'location', 'channel', 'onHand', 'delta', 'price'];

describe('csv writer', () => {
  it('writes exactly what csv-stringify writes with escape_formulas, on 20,000 random rows', () => {
    const next = rng(20261202);
    const rows = Array.from({ length: 20_000 }, () => Object.fromEntries(COLUMNS.map((c) => [c, value(next)])));
    expect([...csvChunks(rows, COLUMNS)].join('')).toBe(stringify(rows, { header: true, columns: COLUMNS, escape_formulas: true }));
  });

  it('a header with no rows, and rows missing a column', () => {
    expect([...csvChunks([], COLUMNS)].join('')).toBe(stringify([], { header: true, columns: COLUMNS, escape_formulas: true }));
    const rows = [{ sku: 'a' }, { class: 'x,y', price: 1.5 }];
    expect([...csvChunks(rows, COLUMNS)].join('')).toBe(stringify(rows, { header: true, columns: COLUMNS, escape_formulas: true }));
  });

  it('a cell a spreadsheet would run gets a leading quote; numbers, negative ones too, stay numbers', () => {
    expect(['=HYPERLINK("http://x")', '+cmd', '-2+3', '@SUM(1+1)', '\tx', '\rx', '＝1'].map(csvCell)).toEqual(["\"'=HYPERLINK(\"\"http://x\"\")\"", "'+cmd", "'-2+3", "'@SUM(1+1)", "'\tx", "\"'\rx\"", "'＝1"]);
    expect([-3, 0, 2.5, 'plain', 'a,b', 'say "hi"'].map(csvCell)).toEqual(['-3', '0', '2.5', 'plain', '"a,b"', '"say ""hi"""']);
  });

  it('hands the writer large chunks, not one string per row', () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => ({ class: 'oversell', sku: `SKU-${i}`, location: 'dfw1', channel: 'web', onHand: i, delta: -i, price: 9.99 }));
    const chunks = [...csvChunks(rows, COLUMNS)];
    expect(chunks.length).toBeLessThan(50);
    expect(chunks.slice(1, -1).every((c) => c.length >= 1 << 16)).toBe(true);
  });
});
