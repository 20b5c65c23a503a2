import { describe, expect, it } from 'vitest';
import { k6Script, loadProfile, vuSizing } from '../../src/lib/loadtest/script.js';
import { compare, comparisonTable, gateMetrics, parseMaxRegression, summarize } from '../../src/lib/loadtest/summary.js';

const LOADTEST = { url: 'https://shop.example.com/api/price?sku=ABC-1', baselineRps: 60, multiplier: 15, rampUp: 120_000, hold: 600_000, thresholds: { p95Ms: 100, errorRate: 0.01 } };
const optionsOf = (script: string) =>
  JSON.parse(/export const options = (\{[\s\S]*?\n\});/.exec(script)![1]!) as { scenarios: { spike: Record<string, unknown> }; thresholds: Record<string, unknown[]> };

describe('k6 script for a campaign spike', () => {
  it('ramps the arrival rate from baseline to baseline × multiplier, holds it, and carries the thresholds', () => {
    const profile = loadProfile(LOADTEST);
    expect(profile).toMatchObject({ baselineRps: 60, peakRps: 900, rampUpSeconds: 120, holdSeconds: 600 });
    const options = optionsOf(k6Script(profile, 'spring'));
    expect(options.scenarios.spike).toMatchObject({ executor: 'ramping-arrival-rate', startRate: 60, timeUnit: '1s', stages: [{ target: 900, duration: '120s' }, { target: 900, duration: '600s' }] });
    expect(options.thresholds).toMatchObject({ http_req_duration: ['p(95)<100'], http_req_failed: ['rate<0.01'] });
  });

  it('sizes the VUs by Little\'s law on the peak rate and the p95 the site must hold, and shows the arithmetic', () => {
    const profile = loadProfile(LOADTEST);
    // 900 req/s × 0.1 s = 90 in flight; × 1.5 up front, × 4 at most
    expect(profile).toMatchObject({ expectedLatency: { ms: 100, from: 'loadtest.thresholds.p95Ms' }, preAllocatedVUs: 135, maxVUs: 360 });
    expect(optionsOf(k6Script(profile, 'spring')).scenarios.spike).toMatchObject({ preAllocatedVUs: 135, maxVUs: 360 });
    expect(vuSizing(profile)).toEqual([
      "VUs by Little's law (VUs ≈ rate × latency), at the peak 900 req/s and an expected p95 of 100 ms (loadtest.thresholds.p95Ms):",
      '  preAllocatedVUs = ceil(900 req/s × 100 ms / 1000 × (1 + 0.5)) = ceil(135) = 135',
      '  maxVUs = ceil(900 req/s × 100 ms / 1000 × 4) = ceil(360) = 360 (the rate holds while responses take up to 400 ms)',
      '  aborted when more than 598 of the 597600 planned iterations are dropped (0.1%): k6, not the site, could not keep the rate',
    ]);
  });

  it('takes expectedP95Ms over the threshold, and 500 ms when neither is set', () => {
    expect(loadProfile({ ...LOADTEST, expectedP95Ms: 250 })).toMatchObject({ expectedLatency: { ms: 250, from: 'loadtest.expectedP95Ms' }, preAllocatedVUs: 338, maxVUs: 900 });
    const bare = loadProfile({ ...LOADTEST, baselineRps: 3, multiplier: 1, thresholds: {} });
    expect(bare).toMatchObject({ peakRps: 3, expectedLatency: { ms: 500, from: 'default' }, preAllocatedVUs: 3, maxVUs: 6 });
    expect(vuSizing(bare)[0]).toContain('(the default expected p95 (set loadtest.expectedP95Ms))');
  });

  it('aborts when k6 drops iterations: a dropped_iterations threshold with abortOnFail', () => {
    const options = optionsOf(k6Script(loadProfile(LOADTEST), 'spring'));
    expect(options.thresholds.dropped_iterations).toEqual([{ threshold: 'count<=598', abortOnFail: true }]);
    // also without configured thresholds
    expect(optionsOf(k6Script(loadProfile({ ...LOADTEST, thresholds: {} }), 'spring')).thresholds).toEqual({ dropped_iterations: [{ threshold: 'count<=598', abortOnFail: true }] });
  });

  it('requests only the configured URL, embedded as a string literal (no injection through the config)', () => {
    const script = k6Script(loadProfile({ ...LOADTEST, url: 'https://shop.example.com/x?q="); import evil' }), 'spring');
    expect(script).toContain('const TARGET = "https://shop.example.com/x?q=\\"); import evil";');
    expect(script.match(/http\.\w+\(/g)).toEqual(['http.get(']);
    expect(script).toContain('http.get(TARGET');
  });
});

describe('k6 summary', () => {
  it('reads --summary-export (flat values; a threshold is true when crossed)', () => {
    const result = summarize({
      metrics: {
        http_reqs: { count: 1200, rate: 99.87 },
        http_req_duration: { med: 12.34, 'p(95)': 80.1, 'p(99)': 140.9, thresholds: { 'p(95)<100': false } },
        http_req_failed: { passes: 24, fails: 1176, value: 0.02, thresholds: { 'rate<0.01': true } },
        dropped_iterations: { count: 3, rate: 0.1, thresholds: { 'count<=598': false } },
      },
    });
    expect(result).toEqual({
      requests: 1200,
      rps: 99.9,
      p50Ms: 12.3,
      p95Ms: 80.1,
      p99Ms: 140.9,
      errorRate: 0.02,
      droppedIterations: 3,
      thresholds: [{ name: 'http_req_duration p(95)<100', ok: true }, { name: 'http_req_failed rate<0.01', ok: false }, { name: 'dropped_iterations count<=598', ok: true }],
      passed: false,
    });
  });

  it('reads handleSummary data too (values nested; { ok })', () => {
    const result = summarize({
      metrics: {
        http_req_duration: { values: { 'p(95)': 80.1 }, thresholds: { 'p(95)<100': { ok: true } } },
        http_req_failed: { values: { rate: 0.02 }, thresholds: { 'rate<0.01': { ok: false } } },
      },
    });
    expect(result).toMatchObject({ p95Ms: 80.1, errorRate: 0.02, thresholds: [{ name: 'http_req_duration p(95)<100', ok: true }, { name: 'http_req_failed rate<0.01', ok: false }] });
  });
});

describe('the regression gate', () => {
  const baseline = { p95Ms: 80, p99Ms: 140, errorRate: 0.002 };

  it('parses --max-regression as a percentage', () => {
    expect(parseMaxRegression('10%')).toBe(0.1);
    expect(parseMaxRegression('12.5')).toBe(0.125);
    expect(parseMaxRegression('0%')).toBe(0);
    for (const bad of ['ten', '-5%', '10%%', '', '5000%']) expect(() => parseMaxRegression(bad), bad).toThrow(/--max-regression: expected a percentage such as 10%/);
  });

  it('passes up to the allowance, fails past it, metric by metric', () => {
    const c = compare(baseline, { p95Ms: 88, p99Ms: 170, errorRate: 0.001 }, 0.1, 'prev.json');
    expect(c.passed).toBe(false);
    expect(c.rows.map((r) => [r.metric, r.ok])).toEqual([['p95', true], ['p99', false], ['error rate', true]]);
    expect(comparisonTable(c)).toEqual([
      'metric      baseline  now       change  allowed            verdict',
      'p95         80.0 ms   88.0 ms   +10.0%  +10% (≤ 88.0 ms)   ok',
      'p99         140.0 ms  170.0 ms  +21.4%  +10% (≤ 154.0 ms)  WORSE',
      'error rate  0.20%     0.10%     -50.0%  +10% (≤ 0.22%)     ok',
    ]);
    expect(compare(baseline, baseline, 0, 'prev.json').passed).toBe(true);
  });

  it('an error rate from none: one request in 10,000 is let through, more is not', () => {
    const none = { ...baseline, errorRate: 0 };
    expect(compare(none, { ...none, errorRate: 0.0001 }, 0.1, 'p').rows[2]).toMatchObject({ ok: true, change: null, allowed: 0.0001 });
    expect(compare(none, { ...none, errorRate: 0.0005 }, 0.1, 'p').rows[2]).toMatchObject({ ok: false });
    expect(comparisonTable(compare(none, { ...none, errorRate: 0.0005 }, 0.1, 'p'))[3]).toMatch(/^error rate\s+0\.00%\s+0\.05%\s+new\s+\+10% \(≤ 0\.01%\)\s+WORSE$/);
  });

  it('names what a summary lacks', () => {
    expect(gateMetrics({})).toEqual({ missing: ['metrics'] });
    expect(gateMetrics({ metrics: { http_req_duration: { 'p(95)': 1 } } })).toEqual({ missing: ['http_req_duration p(99)', 'http_req_failed rate'] });
    expect(gateMetrics({ metrics: { http_req_duration: { 'p(95)': 1, 'p(99)': 2 }, http_req_failed: { passes: 0, fails: 10, value: 0 } } })).toEqual({ metrics: { p95Ms: 1, p99Ms: 2, errorRate: 0 }, missing: [] });
  });
});
