import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/lib/loadtest/run.js';
import { k6Script, loadProfile } from '../../src/lib/loadtest/script.js';

const LOADTEST = { url: 'https://shop.example.com/api/price?sku=ABC-1', baselineRps: 60, multiplier: 15, rampUp: 120_000, hold: 600_000, thresholds: { p95Ms: 100, errorRate: 0.01 } };

describe('k6 script for a campaign spike', () => {
  it('ramps the arrival rate from baseline to baseline × multiplier, holds it, and carries the thresholds', () => {
    const profile = loadProfile(LOADTEST);
    expect(profile).toMatchObject({ baselineRps: 60, peakRps: 900, rampUpSeconds: 120, holdSeconds: 600, preAllocatedVUs: 450, maxVUs: 1800 });
    const script = k6Script(profile, 'spring');
    const options = JSON.parse(/export const options = (\{[\s\S]*?\n\});/.exec(script)![1]!) as { scenarios: { spike: Record<string, unknown> }; thresholds: Record<string, string[]> };
    expect(options.scenarios.spike).toMatchObject({ executor: 'ramping-arrival-rate', startRate: 60, timeUnit: '1s', stages: [{ target: 900, duration: '120s' }, { target: 900, duration: '600s' }] });
    expect(options.thresholds).toEqual({ http_req_duration: ['p(95)<100'], http_req_failed: ['rate<0.01'] });
  });

  it('requests only the configured URL, embedded as a string literal (no injection through the config)', () => {
    const script = k6Script(loadProfile({ ...LOADTEST, url: 'https://shop.example.com/x?q="); import evil' }), 'spring');
    expect(script).toContain('const TARGET = "https://shop.example.com/x?q=\\"); import evil";');
    expect(script.match(/http\.\w+\(/g)).toEqual(['http.get(']);
    expect(script).toContain('http.get(TARGET');
  });
});

describe('k6 summary', () => {
  it('reports p50/p95/p99, error rate and each threshold verdict', () => {
    const result = summarize({
      metrics: {
        http_reqs: { values: { count: 1200, rate: 99.87 } },
        http_req_duration: { values: { med: 12.34, 'p(95)': 80.1, 'p(99)': 140.9 }, thresholds: { 'p(95)<100': { ok: true } } },
        http_req_failed: { values: { rate: 0.02 }, thresholds: { 'rate<0.01': { ok: false } } },
      },
    });
    expect(result).toEqual({
      requests: 1200,
      rps: 99.9,
      p50Ms: 12.3,
      p95Ms: 80.1,
      p99Ms: 140.9,
      errorRate: 0.02,
      thresholds: [{ name: 'http_req_duration p(95)<100', ok: true }, { name: 'http_req_failed rate<0.01', ok: false }],
      passed: false,
    });
  });
});
