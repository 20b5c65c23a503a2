import { DateTime } from 'luxon';
import { z } from 'zod';
import { actionName, resolveTargets } from '../prescale/targets.js';
import { nonNegInt, posInt, target, type CampaignTarget } from './capacity.js';

export type { CampaignTarget };
import { formatDuration, parseDuration } from '../util/duration.js';
import { checkTimeZone, instantsOfLocal } from '../util/time.js';
import { BUCKET_NAME } from '../aws/names.js';

/**
 * The retailctl.yaml schema. Every section is optional; a command that needs one says so when it
 * is missing. Objects are strict: an unknown (often misspelt) key is an error, not silently ignored.
 * The documented example is examples/retailctl.yaml.
 */

const nameKey = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'names use letters, digits, ".", "_" and "-" only (they become part of AWS resource names)');


/** `20m`, `3h`, `1h30m` → milliseconds. */
const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 90s, 20m, 3h or 1h30m, got "${text}"` });
    return z.NEVER;
  }
  return ms;
});

/** An IANA zone name, spelt as the database spells it (`utc` or `america/new_york` is refused with the right spelling). */
const timezone = z.string().superRefine((tz, ctx) => {
  const check = checkTimeZone(tz);
  if (check.ok) return;
  ctx.addIssue({
    code: 'custom',
    message: check.suggestion
      ? `"${tz}" is not spelt as the IANA time zone database spells it: did you mean ${check.suggestion}?`
      : `expected an IANA time zone like America/New_York or Europe/Berlin, got "${tz}"`,
  });
});

const localDateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'expected a local date and time like 2027-03-02T09:00:00 (no offset: `timezone` says where)')
  .superRefine((text, ctx) => {
    const [, hh, mm, ss] = /T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text) ?? [];
    if (Number(hh) > 23) ctx.addIssue({ code: 'custom', message: `${text} is not a time of day: hours go from 00 to 23 (write the next day's 00:00 for midnight)` });
    else if (Number(mm) > 59 || Number(ss ?? 0) > 59) ctx.addIssue({ code: 'custom', message: `${text} is not a time of day: minutes and seconds go from 00 to 59` });
    else if (!DateTime.fromISO(text, { zone: 'utc' }).isValid) ctx.addIssue({ code: 'custom', message: `${text} is not a date (${text.slice(0, 10)} does not exist in the calendar)` });
  });

// ---------- campaigns (retailctl prescale / loadtest) ----------

const loadtest = z.strictObject({
  url: z.url(),
  baselineRps: z.number().positive(),
  multiplier: z.number().positive().default(1),
  rampUp: duration.default(60_000),
  hold: duration.default(300_000),
  thresholds: z.strictObject({ p95Ms: z.number().positive().optional(), errorRate: z.number().min(0).max(1).optional() }).default({}),
  /** The latency k6's virtual users are sized for (Little's law); default thresholds.p95Ms, else 500 ms. */
  expectedP95Ms: z.number().positive().optional(),
});

/** The longest window a campaign may hold raised capacity for. */
export const MAX_CAMPAIGN_MS = 14 * 86_400_000;

/** The shortest campaign window: AWS runs at() actions within about a minute, so anything shorter is capacity up and straight back down. */
export const MIN_CAMPAIGN_MS = 60_000;

/** A campaign window: at least a minute, at most 14 days (longer is a new normal, not a campaign). */
const campaignDuration = duration.superRefine((ms, ctx) => {
  if (ms < MIN_CAMPAIGN_MS) ctx.addIssue({ code: 'custom', message: `a campaign window must last at least 1m, got ${ms <= 0 ? '0s' : `${ms}ms`}: the capacity would go up and straight back down` });
  else if (ms > MAX_CAMPAIGN_MS) {
    ctx.addIssue({ code: 'custom', message: `${formatDuration(ms)} is longer than the 14d a campaign may hold raised capacity: raise the service's normal capacity instead, or split the campaign` });
  }
});

const campaign = z
  .strictObject({
    /** When the email goes out, local time in `timezone`. */
    sendAt: localDateTime,
    timezone,
    /** Capacity must be ready this long before sendAt (default 15m). */
    leadTime: duration.default(15 * 60_000),
    /** Window after sendAt during which capacity is held (more than 0s, at most 14d). */
    duration: campaignDuration,
    targets: z.array(target).min(1, 'a campaign needs at least one target'),
    loadtest: loadtest.optional(),
  })
  .superRefine((c, ctx) => {
    if (!DateTime.fromISO(c.sendAt, { zone: 'utc' }).isValid) return;
    // a send time the clocks skip (spring forward) never happens: say so rather than guess
    if (!checkTimeZone(c.timezone).ok) return;
    if (instantsOfLocal(c.sendAt, c.timezone).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['sendAt'], message: `${c.sendAt} does not exist in ${c.timezone}: the clocks skip that hour that night (daylight-saving change); pick a time outside it` });
    }
  });

// ---------- images (retailctl images migrate) ----------

const images = z.strictObject({
  source: z.string().min(1).optional(),
  bucket: z.string().regex(BUCKET_NAME, 'expected an S3 bucket name (lower case, 3-63 characters)').optional(),
  prefix: z.string().optional(),
  catalog: z.string().optional(),
  columns: z.record(z.string(), z.string()).optional(),
  keyTemplate: z.string().optional(),
  cacheControl: z.string().optional(),
  cacheRules: z.array(z.strictObject({ glob: z.string(), cacheControl: z.string() })).optional(),
  sse: z.enum(['AES256', 'aws:kms']).default('AES256'),
  kmsKeyId: z.string().optional(),
  concurrency: posInt.max(512).optional(),
  cdnDomain: z.string().optional(),
  distributionId: z.string().optional(),
  /** Stop (exit 1, resumable) when no S3 request has succeeded for this long while requests kept failing; `0` = never. Default 30s. */
  giveUpAfter: z.union([z.literal(0), z.literal('0').transform(() => 0), duration]).optional(),
  /** How long the bucket lock lives without a refresh (refreshed every quarter of it). Default 2m. */
  lockExpiry: duration.refine((ms) => ms >= 1000, 'at least 1s').refine((ms) => ms <= 3_600_000, 'at most 1h').optional(),
  /** `--engine batch` (S3 Batch Operations) for an s3:// source. */
  batch: z
    .strictObject({
      /** The IAM role the job runs as (docs/iam.md). */
      roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)').optional(),
      /** The copy function (examples/batch-copy-function) for jobs whose objects each need their own key or headers. */
      functionArn: z.string().regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$/, 'expected a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)').optional(),
      /** `--engine auto` takes the batch engine from this many objects to copy. Default 1,000,000. */
      minObjects: posInt.optional(),
      /** The job's priority (higher runs first). Default 10. */
      priority: z.number().int().min(0).max(2147483647).optional(),
      /** How often DescribeJob is polled. Default 15s. */
      pollInterval: duration.refine((ms) => ms >= 100, 'at least 100ms').optional(),
    })
    .optional(),
});

// ---------- cdn (retailctl cdn ...) ----------

const cdnEndpoint = z.strictObject({
  /**
   * The SetIdentifier of this CDN's record set: one for every record of the group, or a map from
   * record name to identifier when they differ (`{ www.shop.example.com: cf-www, shop.example.com: cf-apex }`).
   */
  setIdentifier: z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]),
  /** The CloudFront distribution behind this side: checked Enabled and Deployed before traffic moves to it. */
  distributionId: z.string().optional(),
  /** The Route 53 health check for this side; default: the one on its record set. */
  healthCheckId: z.string().optional(),
});

const cdnGroup = z.strictObject({
  zoneId: z.string().min(1),
  /** One record name, or several that always move together. */
  record: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  type: z.enum(['CNAME', 'A', 'AAAA']).default('CNAME'),
  routing: z.enum(['weighted', 'failover', 'latency']),
  primary: cdnEndpoint,
  secondary: cdnEndpoint,
});

/** Lower case, no trailing dot: how record names are compared (as Route 53 does). */
const recordKey = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * `cdn:` holds groups by name, plus the reserved keys `auditBucket` and `auditLog`. Refused: the two
 * sides of a group naming the same record set (a failover would then zero every weight), a record
 * listed twice in a group, and a record in two groups (two groups would move the same traffic).
 */
/** `cdn.verify`: how a change's DNS answers are checked after it is INSYNC (flags override it). */
const cdnVerify = z.strictObject({
  /** TestDNSAnswer's ResolverIP: the resolver Route 53 answers as if asked by (latency routing). */
  resolverIp: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** TestDNSAnswer's EDNS0 client subnet, `ip/mask` (e.g. 192.0.2.0/24). */
  ednsSubnet: z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'expected ip/mask, e.g. 192.0.2.0/24').optional(),
  /** Resolvers queried directly until each returns the new answer, e.g. [1.1.1.1, 8.8.8.8] (`ip:port` allowed). */
  resolvers: z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\](:\d+)?|[0-9.]+(:\d+)?|[0-9a-fA-F:]+)$/, 'expected an IP address, optionally with :port')).optional(),
  /** How long to wait for the new answer (default 120s). */
  timeout: duration.optional(),
});

const cdn = z
  .object({
    auditBucket: z.string().optional(),
    auditLog: z.string().optional(),
    verify: cdnVerify.optional(),
  })
  .catchall(cdnGroup)
  .superRefine((value, ctx) => {
    const owner = new Map<string, string>();
    for (const [group, raw] of Object.entries(value)) {
      if (group === 'auditBucket' || group === 'auditLog' || group === 'verify' || typeof raw !== 'object' || raw === null) continue;
      const g = raw as z.output<typeof cdnGroup>;
      const names = Array.isArray(g.record) ? g.record : [g.record];
      const at = (i: number): (string | number)[] => (Array.isArray(g.record) ? [group, 'record', i] : [group, 'record']);
      const seen = new Set<string>();
      names.forEach((name, i) => {
        const key = recordKey(name);
        if (seen.has(key)) return ctx.addIssue({ code: 'custom', path: at(i), message: `record "${name}" is listed twice in this group` });
        seen.add(key);
        const id = (side: 'primary' | 'secondary') => {
          const sid = g[side].setIdentifier;
          return typeof sid === 'string' ? sid : (sid[key] ?? sid[`${key}.`] ?? Object.entries(sid).find(([k]) => recordKey(k) === key)?.[1]);
        };
        for (const side of ['primary', 'secondary'] as const) {
          if (id(side) === undefined) ctx.addIssue({ code: 'custom', path: [group, side, 'setIdentifier'], message: `no set identifier for record "${name}": add "${name}: <id>" to the map` });
        }
        if (id('primary') !== undefined && id('primary') === id('secondary')) {
          ctx.addIssue({ code: 'custom', path: [group, 'secondary', 'setIdentifier'], message: `"${id('secondary')}" is also the primary's set identifier for record "${name}": the two sides must be different record sets` });
        }
        const where = `${g.zoneId.replace(/^\/?hostedzone\//, '')}|${key}|${g.type}`;
        const other = owner.get(where);
        if (other) ctx.addIssue({ code: 'custom', path: at(i), message: `record "${name}" (${g.type}) is also in cdn group "${other}": a record may belong to one group only` });
        else owner.set(where, group);
      });
    }
  });

// ---------- inventory (retailctl inventory reconcile) ----------

/** `50%` → 0.5 (from 0% to 100%), or `false` (no limit). */
const percentageOrOff = z.unknown().transform((value, ctx): number | false => {
  if (value === false) return false;
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
  if (!m || Number(m[1]) > 100) {
    ctx.addIssue({ code: 'custom', message: `expected a percentage from 0% to 100% like 50% (or false), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Number(m[1]) / 100;
});

/** A duration (`26h`, `1d12h`) in milliseconds, or `false` (no limit). */
const durationOrOff = z.unknown().transform((value, ctx): number | false => {
  if (value === false) return false;
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 26h, 90m or 1d12h (or false), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

const inventorySource = z.strictObject({
  path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  role: z.enum(['warehouse', 'orders', 'channel']),
  columns: z.record(z.string(), z.string()),
  format: z.enum(['csv', 'tsv', 'jsonl', 'json']).optional(),
  locationMap: z.record(z.string(), z.string()).optional(),
  /** An empty (0-byte) or header-only export is data (nothing in stock, no open orders), not a failed export. */
  allowEmpty: z.boolean().optional(),
  /** Refuse (exit 5, stale-source) an export older than this: its asOf column if mapped, else the file's mtime / S3 LastModified. */
  maxAge: durationOrOff.optional(),
  /** Refuse (exit 5, shrunk-source) a row count that fell by more than this since the previous run; default 50%, false = never. */
  maxShrink: percentageOrOff.optional(),
});

const inventory = z.strictObject({
  sources: z.record(nameKey, inventorySource),
  locationMap: z.record(z.string(), z.string()).optional(),
  safetyStock: z.union([nonNegInt, z.strictObject({ file: z.string() })]).default(0),
  tolerance: z.strictObject({ units: nonNegInt.default(0) }).default({ units: 0 }),
  failOn: z.array(z.enum(['oversell', 'undersell', 'missing-in-channel', 'unknown-sku', 'negative'])).default(['oversell']),
  /** Threads for local CSV/TSV exports (default: the machine's cores up to 4, from 16 MB of input; 1 = one thread). */
  threads: z.number().int().min(1).max(64).optional(),
  /** Where the reconciliation runs: here (`local`) or on Amazon Athena over exports in S3 (`athena`); --engine overrides. */
  engine: z.enum(['local', 'athena']).optional(),
  /** For `engine: athena` (docs/inventory.md). */
  athena: z
    .strictObject({
      workgroup: z.string().min(1).default('primary'),
      /** A Glue database that exists: retailctl creates and updates one table per source in it. */
      database: z.string().regex(/^[a-z0-9_]{1,255}$/, 'a Glue database name: lower-case letters, digits and _'),
      /** s3://bucket/prefix/: query results, and the tables' manifests under tables/. */
      outputLocation: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(.*\/)?$/, 'an S3 prefix like s3://my-bucket/retailctl/ (ending in /)'),
      /** Table names: <tablePrefix><source>. */
      tablePrefix: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'lower-case letters, digits and _, starting with a letter').default('retailctl_'),
      /** Dollars per TB scanned, for the reported cost (Athena's list price: 5). */
      pricePerTB: z.number().nonnegative().default(5),
    })
    .optional(),
});

// ---------- the file ----------

/** Application Auto Scaling refuses a scheduled action name longer than this. */
export const MAX_ACTION_NAME = 256;

export const configSchema = z
  .strictObject({
    campaigns: z.record(nameKey, campaign).optional(),
    images: images.optional(),
    cdn: cdn.optional(),
    inventory: inventory.optional(),
  })
  .superRefine((config, ctx) => {
    // retailctl-<campaign>-<target>-drain must fit in AWS's limit on scheduled action names
    for (const [name, c] of Object.entries(config.campaigns ?? {})) {
      for (const [index, t] of c.targets.entries()) {
        for (const ref of resolveTargets({ targets: [t] })) {
          const longest = actionName(name, ref, 'drain');
          if (longest.length <= MAX_ACTION_NAME) continue;
          ctx.addIssue({
            code: 'custom',
            path: ['campaigns', name, 'targets', index],
            message: `the scheduled action names for campaign ${name} and ${ref.label} would be ${longest.length} characters (${longest.slice(0, 40)}…); Application Auto Scaling allows ${MAX_ACTION_NAME}: shorten the campaign name`,
          });
        }
      }
    }
  });

export type RetailctlConfig = z.output<typeof configSchema>;
export type Campaign = z.output<typeof campaign>;
export type CdnGroup = z.output<typeof cdnGroup>;
export type CdnEndpoint = z.output<typeof cdnEndpoint>;
export type CdnVerifyConfig = z.output<typeof cdnVerify>;
export type InventoryConfig = z.output<typeof inventory>;
export type InventorySourceConfig = z.output<typeof inventorySource>;
export type ImagesConfig = z.output<typeof images>;
