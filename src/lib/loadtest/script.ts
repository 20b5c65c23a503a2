import type { Campaign } from '../config/schema.js';

/** The latency VUs are sized for when the campaign gives neither `expectedP95Ms` nor `thresholds.p95Ms`. */
export const DEFAULT_EXPECTED_P95_MS = 500;
/** Pre-allocated VUs cover the expected latency with this much to spare. */
export const PREALLOCATED_HEADROOM = 0.5;
/** k6 may add VUs up to this many times the expected need: the rate holds until responses are this much slower. */
export const MAX_VUS_FACTOR = 4;
/** The spike is aborted once k6 has dropped more than this share of its planned iterations. */
export const DROPPED_SHARE = 0.001;

/** The load a campaign's spike puts on its URL. */
export interface LoadProfile {
  url: string;
  baselineRps: number;
  peakRps: number;
  rampUpSeconds: number;
  holdSeconds: number;
  thresholds: { p95Ms?: number; errorRate?: number };
  /** The latency the VUs are sized for, and which setting it came from. */
  expectedLatency: { ms: number; from: 'loadtest.expectedP95Ms' | 'loadtest.thresholds.p95Ms' | 'default' };
  /** Virtual users k6 allocates up front and at most (Little's law on the peak rate; see `vuSizing`). */
  preAllocatedVUs: number;
  maxVUs: number;
  /** Iterations the arrival rate plans (ramp + hold), and how many of them k6 may drop before it aborts. */
  plannedIterations: number;
  maxDroppedIterations: number;
}

/** Pure: the profile of a campaign's load test. */
export function loadProfile(loadtest: NonNullable<Campaign['loadtest']>): LoadProfile {
  const peakRps = Math.ceil(loadtest.baselineRps * loadtest.multiplier);
  const rampUpSeconds = Math.round(loadtest.rampUp / 1000);
  const holdSeconds = Math.round(loadtest.hold / 1000);
  const expectedLatency: LoadProfile['expectedLatency'] =
    loadtest.expectedP95Ms !== undefined
      ? { ms: loadtest.expectedP95Ms, from: 'loadtest.expectedP95Ms' }
      : loadtest.thresholds.p95Ms !== undefined
        ? { ms: loadtest.thresholds.p95Ms, from: 'loadtest.thresholds.p95Ms' }
        : { ms: DEFAULT_EXPECTED_P95_MS, from: 'default' };
  // Little's law: requests in flight = arrival rate × time in the system; each VU holds one request
  const inFlight = (peakRps * expectedLatency.ms) / 1000;
  const preAllocatedVUs = Math.max(1, Math.ceil(round6(inFlight * (1 + PREALLOCATED_HEADROOM))));
  const maxVUs = Math.max(preAllocatedVUs, Math.ceil(round6(inFlight * MAX_VUS_FACTOR)));
  // the ramp is linear from baseline to peak, then the peak is held
  const plannedIterations = Math.round(((loadtest.baselineRps + peakRps) / 2) * rampUpSeconds + peakRps * holdSeconds);
  return {
    url: loadtest.url,
    baselineRps: loadtest.baselineRps,
    peakRps,
    rampUpSeconds,
    holdSeconds,
    thresholds: loadtest.thresholds,
    expectedLatency,
    preAllocatedVUs,
    maxVUs,
    plannedIterations,
    maxDroppedIterations: Math.ceil(round6(plannedIterations * DROPPED_SHARE)),
  };
}

/** Floating-point noise off before a ceil: 900 × 0.1 × 1.5 is 135.00000000000003. */
function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Pure: the VU arithmetic, as the plan and `--dry-run` show it. */
export function vuSizing(profile: LoadProfile): string[] {
  const { peakRps: rate, expectedLatency: latency } = profile;
  const from = latency.from === 'default' ? `the default expected p95 (set loadtest.expectedP95Ms)` : latency.from;
  const inFlight = round6((rate * latency.ms) / 1000);
  const keepsUpTo = Math.floor((profile.maxVUs / rate) * 1000);
  return [
    `VUs by Little's law (VUs ≈ rate × latency), at the peak ${rate} req/s and an expected p95 of ${latency.ms} ms (${from}):`,
    `  preAllocatedVUs = ceil(${rate} req/s × ${latency.ms} ms / 1000 × (1 + ${PREALLOCATED_HEADROOM})) = ceil(${round6(inFlight * (1 + PREALLOCATED_HEADROOM))}) = ${profile.preAllocatedVUs}`,
    `  maxVUs = ceil(${rate} req/s × ${latency.ms} ms / 1000 × ${MAX_VUS_FACTOR}) = ceil(${round6(inFlight * MAX_VUS_FACTOR)}) = ${profile.maxVUs} (the rate holds while responses take up to ${keepsUpTo} ms)`,
    `  aborted when more than ${profile.maxDroppedIterations} of the ${profile.plannedIterations} planned iterations are dropped (${DROPPED_SHARE * 100}%): k6, not the site, could not keep the rate`,
  ];
}

/**
 * Pure: a k6 script for the profile: ramping arrival rate from baseline to peak over the ramp-up,
 * held at peak, thresholds from the config, and a dropped-iterations threshold that aborts the run
 * when k6 cannot keep the arrival rate. The URL is embedded as a JSON string literal and is the
 * only thing the script ever requests. The options carry k6's own type (a JSDoc annotation, checked
 * against @types/k6 by the tests). Results come from `k6 run --summary-export`.
 */
export function k6Script(profile: LoadProfile, campaign: string): string {
  const thresholds: Record<string, (string | { threshold: string; abortOnFail: boolean })[]> = {};
  if (profile.thresholds.p95Ms !== undefined) thresholds.http_req_duration = [`p(95)<${profile.thresholds.p95Ms}`];
  if (profile.thresholds.errorRate !== undefined) thresholds.http_req_failed = [`rate<${profile.thresholds.errorRate}`];
  // an iteration k6 had no free VU for is not sent: the spike the site saw was smaller than planned
  thresholds.dropped_iterations = [{ threshold: `count<=${profile.maxDroppedIterations}`, abortOnFail: true }];
  const options = {
    discardResponseBodies: true,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    scenarios: {
      spike: {
        executor: 'ramping-arrival-rate',
        startRate: profile.baselineRps,
        timeUnit: '1s',
        preAllocatedVUs: profile.preAllocatedVUs,
        maxVUs: profile.maxVUs,
        stages: [
          { target: profile.peakRps, duration: `${profile.rampUpSeconds}s` },
          { target: profile.peakRps, duration: `${profile.holdSeconds}s` },
        ],
      },
    },
    thresholds,
  };
  return `// Generated by retailctl loadtest for campaign ${JSON.stringify(campaign)}: do not edit, regenerate.
// ${profile.baselineRps} -> ${profile.peakRps} requests/s over ${profile.rampUpSeconds}s, held ${profile.holdSeconds}s.
// VUs sized for ${profile.expectedLatency.ms} ms per request (${profile.expectedLatency.from}): ${profile.preAllocatedVUs} pre-allocated, at most ${profile.maxVUs}.
import http from 'k6/http';
import { check } from 'k6';

const TARGET = ${JSON.stringify(profile.url)};

/** @type {import('k6/options').Options} */
export const options = ${JSON.stringify(options, null, 2)};

export default function () {
  const res = http.get(TARGET, { tags: { name: 'campaign-target' } });
  check(res, { 'status is 2xx/3xx': (r) => r.status >= 200 && r.status < 400 });
}
`;
}
