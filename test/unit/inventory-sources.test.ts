/** The value rules every inventory format shares, the freshness checks, and the source config keys. */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/lib/config/load.js';
import { sourceLimits, sourceProblems, type SourceStats } from '../../src/lib/inventory/freshness.js';
import { RetailctlError } from '../../src/lib/errors.js';
import { AsOf, AsOfTracker, jsonArrayText, LineEndingCheck, parseAsOf, type SourceSpec } from '../../src/lib/inventory/read.js';
import { parsePrice, parseQuantityBytes, parseQuantityText, parseQuantityValue, trimEnd, trimStart } from '../../src/lib/inventory/values.js';

const bytes = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return parseQuantityBytes(b, 0, b.length);
};
const trimmedBytes = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const start = trimStart(b, 0, b.length);
  return b.toString('utf8', start, trimEnd(b, start, b.length));
};

describe('one quantity rule for every format', () => {
  const whole: [string, number][] = [
    ['12', 12],
    [' 12 ', 12],
    ['\t12\t', 12],
    ['+3', 3],
    ['-2', -2],
    ['007', 7],
    ['0', 0],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['-9007199254740991', -Number.MAX_SAFE_INTEGER],
    ['12\u00a0', 12],
  ];
  const refused = ['0x1F', '0b11', '0o7', '1e3', '12.0', '12.5', '1_000', '1,000', '', ' ', '-', '+', '12a', 'Infinity', 'NaN', '9007199254740992', '99999999999999999999', '١٢'];

  it.each(whole)('text %j is %d, as bytes (CSV/TSV) and as text (JSON strings, quoted fields)', (text, n) => {
    expect(bytes(text)).toBe(n);
    expect(parseQuantityText(text)).toBe(n);
    expect(parseQuantityValue(text)).toBe(n);
  });

  it.each(refused)('text %j is not a quantity in any format', (text) => {
    expect(bytes(text)).toBeNaN();
    expect(parseQuantityText(text)).toBeNaN();
    expect(parseQuantityValue(text)).toBeNaN();
  });

  it('JSON numbers: integers in the safe range (12.0 and 1e3 are the integers JSON says they are); nothing else', () => {
    expect(parseQuantityValue(12)).toBe(12);
    expect(parseQuantityValue(JSON.parse('12.0'))).toBe(12);
    expect(parseQuantityValue(JSON.parse('1e3'))).toBe(1000);
    expect(parseQuantityValue(-4)).toBe(-4);
    for (const bad of [1e300, 12.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, Number.POSITIVE_INFINITY, [5], ['5'], { n: 5 }, true, null, undefined]) {
      expect(parseQuantityValue(bad), JSON.stringify(bad)).toBeNaN();
    }
  });

  it('prices: numbers or decimal text, nothing loose', () => {
    expect(parsePrice('12.50')).toBe(12.5);
    expect(parsePrice(' 3 ')).toBe(3);
    expect(parsePrice(4.25)).toBe(4.25);
    for (const bad of ['0x1F', '1e3', '[5]', [5], '', 'free', true, Number.POSITIVE_INFINITY]) expect(parsePrice(bad), JSON.stringify(bad)).toBeUndefined();
  });
});

describe('one trim rule for every format', () => {
  it.each(['SER-001\t', '\tSER-001', '  SER-001  ', 'SER-001\r', 'SER-001\n', '\u00a0SER-001\u00a0', '\u3000SER-001\u2003', '\ufeffSER-001', 'SER 001', 'SÉR-001\u202f', '\t \u00a0', '', 'é'])('bytes trimmed of %j equal String.prototype.trim', (text) => {
    expect(trimmedBytes(text)).toBe(text.trim());
  });
});

describe('CR-only line endings', () => {
  const crOnly = (...chunks: string[]) => {
    const check = new LineEndingCheck();
    return chunks.some((c) => check.crOnly(Buffer.from(c)));
  };
  it('are told from CRLF and LF, wherever the chunks split', () => {
    expect(crOnly('sku,loc,qty\rA,dfw1,1\r')).toBe(true);
    expect(crOnly('sku,loc,qty\r', 'A,dfw1,1\r')).toBe(true);
    expect(crOnly('sku,loc', ',qty\rA,dfw1,1')).toBe(true);
    expect(crOnly('sku,loc,qty\r\nA,dfw1,1\r\n')).toBe(false);
    expect(crOnly('sku,loc,qty\r', '\nA,dfw1,1\r\n')).toBe(false);
    expect(crOnly('sku,loc', ',qty\nA,"x\ry",1\n')).toBe(false); // a CR in a later field is data
    expect(crOnly('sku,loc,qty\n', 'A\rB,dfw1,1\n')).toBe(false);
    expect(crOnly('sku,loc,qty')).toBe(false);
  });
});

describe('asOf values', () => {
  it('ISO 8601 date-times; no offset means UTC; a space may stand for the T', () => {
    expect(parseAsOf('2026-11-27T02:00:00Z')).toBe(Date.UTC(2026, 10, 27, 2));
    expect(parseAsOf('2026-11-27T03:00:00+01:00')).toBe(Date.UTC(2026, 10, 27, 2));
    expect(parseAsOf('2026-11-27 02:00:00')).toBe(Date.UTC(2026, 10, 27, 2));
    expect(parseAsOf('2026-11-27')).toBe(Date.UTC(2026, 10, 27));
    for (const bad of ['', 'yesterday', '27/11/2026', '2026-02-30', '1764208800']) expect(parseAsOf(bad), bad).toBeNaN();
  });
});

describe('asOf values in the future', () => {
  it('more than 5 minutes after the run\'s clock is refused and does not count as the newest', () => {
    const now = Date.parse('2026-11-27T09:00:00Z');
    const t = new AsOfTracker(now);
    expect(t.see('2026-11-27T02:00:00Z')).toBe(AsOf.Ok);
    expect(t.see('2099-01-01T02:00:00Z')).toBe(AsOf.Future);
    expect(t.see('2026-11-27T09:06:00Z')).toBe(AsOf.Future);
    expect(t.see('2026-11-27T09:05:00Z')).toBe(AsOf.Ok); // clock skew of a few minutes is taken
    expect(t.see('yesterday')).toBe(AsOf.NotADate);
    expect(new Date(t.newest).toISOString()).toBe('2026-11-27T09:05:00.000Z');
  });
});

describe('a JSON array too large for one string', () => {
  const spec: SourceSpec = { name: 'web', role: 'channel', paths: ['web.json'], columns: {}, locationMap: {} };
  it('ERR_STRING_TOO_LONG is exit 2 saying to export JSON Lines', () => {
    const tooLong = () => {
      throw Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), { code: 'ERR_STRING_TOO_LONG' });
    };
    let caught: unknown;
    try {
      jsonArrayText(spec, 'exports/web.json', tooLong);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RetailctlError);
    expect((caught as RetailctlError).exitCode).toBe(2);
    expect((caught as RetailctlError).message).toBe('source web: exports/web.json is a JSON array too large to read (over about 512 MB: a JSON array is read whole)');
    expect((caught as RetailctlError).hint).toContain('export it as JSON Lines instead (one object per line, e.g. exports/web.jsonl)');
  });
  it('other errors pass through; a decodable text is returned', () => {
    expect(() => jsonArrayText(spec, 'web.json', () => { throw new RangeError('other'); })).toThrow('other');
    expect(jsonArrayText(spec, 'web.json', () => '[]')).toBe('[]');
  });
});

describe('stale and shrunk sources', () => {
  const now = new Date('2026-11-27T08:00:00Z');
  const hours = (h: number) => new Date(now.getTime() - h * 3_600_000);
  const stats = (rows: number, files: SourceStats['files'] = [{ shown: 'wms.csv', rows, modified: hours(1) }]): SourceStats[] => [{ name: 'wms', rows, files }];
  const source = (limits: Parameters<typeof sourceLimits>[0] = {}) => [{ name: 'wms', limits: sourceLimits(limits), columns: { asOf: 'exported_at' } }];
  const previous = { wms: { rows: 1000, at: '2026-11-26T08:00:00Z' } };

  it('defaults: maxShrink 50% against the previous run, no age limit, empty exports refused', () => {
    expect(sourceLimits({})).toEqual({ allowEmpty: false, maxShrink: 0.5 });
    expect(sourceProblems(source(), stats(500), previous, now)).toEqual([]);
    const [p] = sourceProblems(source(), stats(499), previous, now);
    expect(p?.code).toBe('shrunk-source');
    expect(p?.message).toBe('shrunk-source: source wms has 499 rows, 50% fewer than the 1,000 of the previous run (2026-11-26T08:00:00Z); its maxShrink is 50%');
    expect(sourceProblems(source(), stats(10, [{ shown: 'wms.csv', rows: 10, modified: hours(24 * 365) }]), {}, now)).toEqual([]);
  });

  it('no previous run, a previous run of 0 rows, or maxShrink false: nothing to refuse', () => {
    expect(sourceProblems(source(), stats(1), {}, now)).toEqual([]);
    expect(sourceProblems(source(), stats(0), { wms: { rows: 0, at: 'x' } }, now)).toEqual([]);
    expect(sourceProblems(source({ maxShrink: false }), stats(1), previous, now)).toEqual([]);
    expect(sourceProblems(source({ maxShrink: 0.9 }), stats(101), previous, now)).toEqual([]);
  });

  it('maxAge: the oldest file of the source, by its asOf column when there is one, else its mtime', () => {
    const limits = { maxAge: 26 * 3_600_000 };
    expect(sourceProblems(source(limits), stats(1000, [{ shown: 'a.csv', rows: 500, modified: hours(2) }, { shown: 'b.csv', rows: 500, modified: hours(30) }]), previous, now)).toEqual([
      expect.objectContaining({ code: 'stale-source', message: 'stale-source: source wms (b.csv) is 1d6h old (modified 2026-11-26T02:00:00Z), older than its maxAge 1d2h' }),
    ]);
    // a fresh copy of an old export: the asOf column says how old the data is
    const [p] = sourceProblems(source(limits), stats(1000, [{ shown: 'a.csv', rows: 1000, modified: hours(0), asOf: hours(48) }]), previous, now);
    expect(p?.message).toContain('is 2d old (exported_at 2026-11-25T08:00:00Z)');
    expect(sourceProblems(source(limits), stats(1000, [{ shown: 'a.csv', rows: 1000, modified: hours(48), asOf: hours(1) }]), previous, now)).toEqual([]);
  });

  it('both problems of a source are reported', () => {
    const problems = sourceProblems(source({ maxAge: 3_600_000 }), stats(10, [{ shown: 'wms.csv', rows: 10, modified: hours(5) }]), previous, now);
    expect(problems.map((p) => p.code)).toEqual(['stale-source', 'shrunk-source']);
  });
});

describe('source config keys', () => {
  const config = (extra: string) => parseConfigText(`inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: s, location: l, onHand: q }${extra} }\n`, 'retailctl.yaml');

  it('allowEmpty, maxAge (a duration or false) and maxShrink (a percentage or false)', () => {
    const s = config(', allowEmpty: true, maxAge: 26h, maxShrink: 80%').inventory!.sources.wms!;
    expect(s).toMatchObject({ allowEmpty: true, maxAge: 26 * 3_600_000, maxShrink: 0.8 });
    expect(sourceLimits(s)).toEqual({ allowEmpty: true, maxAgeMs: 26 * 3_600_000, maxShrink: 0.8 });
    expect(sourceLimits(config(', maxAge: false, maxShrink: false').inventory!.sources.wms!)).toEqual({ allowEmpty: false });
  });

  it.each([
    [', maxShrink: 150%', /inventory\.sources\.wms\.maxShrink: expected a percentage from 0% to 100% like 50% \(or false\), got "150%"/],
    [', maxShrink: 0.5', /maxShrink: expected a percentage .* got 0\.5/],
    [', maxAge: tomorrow', /inventory\.sources\.wms\.maxAge: expected a duration like 26h, 90m or 1d12h \(or false\), got "tomorrow"/],
    [', maxAge: true', /maxAge: expected a duration .* got true/],
    [', allowEmpty: yes please', /allowEmpty/],
  ])('%s is refused', (extra, message) => {
    expect(() => config(extra)).toThrow(message);
  });
});
