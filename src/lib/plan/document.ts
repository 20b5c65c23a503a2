/**
 * The plan file: a reviewed change as a versioned, signed document (`--plan-out`), executed exactly
 * by `retailctl apply`. Pure: building, canonical form, digest/HMAC and validation; no I/O.
 *
 * A plan file is one JSON object:
 * - `kind`, `version` (of this format), `retailctl` (the version that wrote it);
 * - `account`, `region`: where it was computed (sts:GetCallerIdentity, the client's region);
 * - `createdAt`, `expiresAt`;
 * - `preconditions`: the exact state the plan was computed from, one item per thing read;
 * - `actions`: every write call apply will make, in order, with its parameters;
 * - `plan`: the feature's plan object (what `--dry-run --json` prints under `plan`), which the
 *   executor runs; `actions` is derived from it and checked against it on apply;
 * - `digest`: `sha256:<hex>` of the canonical JSON (RFC 8785) of everything else, or
 *   `hmac-sha256:<hex>` keyed by RETAILCTL_PLAN_KEY.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { z } from 'zod';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';

// a CommonJS module whose typings declare an ES default export
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** The longest a plan may stay valid (`--plan-ttl` at most). */
export const MAX_PLAN_TTL_MS = 30 * 24 * 3_600_000;

/** The plan file format this retailctl writes and reads. A file with a higher version is refused. */
export const PLAN_FORMAT_VERSION = 1;

/** Every kind of plan a writing command makes. */
export const PLAN_KINDS = ['cdn.failover', 'cdn.failback', 'cdn.shift', 'prescale.schedule', 'prescale.raise', 'prescale.restore', 'images.migrate', 'inventory.publish', 'init'] as const;
export type PlanKind = (typeof PLAN_KINDS)[number];

/** One thing the plan was computed from, as read: apply reads it again and refuses when it differs. */
export interface Precondition {
  /** Stable id, unique in the plan, e.g. `route53:Z1/www.example.com./A`. */
  id: string;
  /** What it is, for people: `www.example.com. A record sets`. */
  what: string;
  /** The value as read (plain JSON); `null` = absent. */
  value: unknown;
}

/** One write call apply makes. */
export interface PlanAction {
  /** `Service:Operation`, e.g. `route53:ChangeResourceRecordSets`. */
  call: string;
  /** What it changes, for people. */
  target: string;
  /** One line: what it does. */
  summary: string;
  /** The call's parameters as sent (or the part that decides what it does). */
  params?: unknown;
}

export interface PlanDocument<P = unknown> {
  kind: PlanKind;
  version: number;
  retailctl: string;
  account: string;
  region: string;
  createdAt: string;
  expiresAt: string;
  /** The command line that made it, without global options (for people). */
  command: string;
  preconditions: Precondition[];
  actions: PlanAction[];
  plan: P;
  digest: string;
}

const iso = z.iso.datetime({ message: 'expected an ISO 8601 UTC time like 2026-12-01T10:00:00.000Z' });

/** A zod issue as one phrase: `missing` for an absent field, else what was expected. */
export function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return 'missing';
  return issue.message.replace(/^Invalid input: /, '');
}

/** Deepest nesting a plan file may have (retailctl's own plans stay under 12). */
export const MAX_PLAN_DEPTH = 64;

/** The nesting depth of a JSON value, walked without recursion (a hostile file cannot overflow the stack). */
export function jsonDepth(value: unknown, limit = MAX_PLAN_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, d);
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** The envelope, checked before anything else is trusted. `plan` is checked by its kind. */
export const envelopeSchema = z.object({
  kind: z.enum(PLAN_KINDS),
  version: z.number().int().positive(),
  retailctl: z.string(),
  account: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id'),
  region: z.string().regex(/^[a-z]{2,}(-[a-z]+)+-\d{1,2}$/, 'expected an AWS region name like us-east-1'),
  createdAt: iso,
  expiresAt: iso,
  command: z.string(),
  preconditions: z.array(z.object({ id: z.string().min(1), what: z.string(), value: z.unknown() })),
  actions: z.array(z.object({ call: z.string(), target: z.string(), summary: z.string(), params: z.unknown().optional() })),
  plan: z.record(z.string(), z.unknown()),
  digest: z.string().regex(/^(sha256|hmac-sha256):[0-9a-f]{64}$/, 'expected sha256:<64 hex> or hmac-sha256:<64 hex>'),
});

/** A plan object's fields as a plan file must have them (exit 2 naming the first that does not). */
export function parsePlanObject<T>(schema: z.ZodType<T>, file: string, plan: unknown): T {
  const parsed = schema.safeParse(plan);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new RetailctlError('PLAN_INVALID', `${file}: is not a valid plan file: plan.${issue.path.join('.')}: ${issueText(issue)}`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
}

/** RFC 8785 canonical JSON: keys sorted, no insignificant space, numbers in their shortest form. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** The digest of a document: over everything but `digest`. With a key, an HMAC. */
export function digestOf(doc: Omit<PlanDocument, 'digest'> & { digest?: string }, key?: string): string {
  const { digest: _ignored, ...rest } = doc;
  const body = canonicalJson(rest);
  return key ? `hmac-sha256:${createHmac('sha256', key).update(body).digest('hex')}` : `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

export interface NewPlan<P> {
  kind: PlanKind;
  command: string;
  retailctl: string;
  account: string;
  region: string;
  now: Date;
  ttlMs: number;
  preconditions: Precondition[];
  actions: PlanAction[];
  plan: P;
  /** RETAILCTL_PLAN_KEY, when set. */
  key?: string;
}

/** A signed plan document. Plain data in, plain data out. */
export function buildPlanDocument<P>(input: NewPlan<P>): PlanDocument<P> {
  // round-trip through JSON: what is signed is exactly what a reader will parse back
  const body = JSON.parse(
    JSON.stringify({
      kind: input.kind,
      version: PLAN_FORMAT_VERSION,
      retailctl: input.retailctl,
      account: input.account,
      region: input.region,
      createdAt: input.now.toISOString(),
      expiresAt: new Date(input.now.getTime() + input.ttlMs).toISOString(),
      command: input.command,
      preconditions: input.preconditions,
      actions: input.actions,
      plan: input.plan,
    }),
  ) as Omit<PlanDocument<P>, 'digest'>;
  return { ...body, digest: digestOf(body, input.key) };
}

function badPlan(file: string, why: string, hint = 'make a new plan with the command\'s --plan-out'): RetailctlError {
  return new RetailctlError('PLAN_INVALID', `${file}: ${why}`, { exitCode: ExitCode.Usage, hint });
}

/**
 * Parse and verify a plan file's text, in the order apply promises: well-formed → digest/HMAC →
 * format version. Every failure is exit 2 with one line naming the file.
 */
export function parsePlanDocument(file: string, text: string, opts: { key?: string; supportedVersion?: number }): PlanDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw badPlan(file, text.trim() === '' ? 'is empty, not a plan file' : `is not JSON (${shown((err as Error).message, 120)}): a truncated or wrong file?`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badPlan(file, 'is not a plan file (expected a JSON object with kind, version, plan and digest)');
  if (jsonDepth(raw) > MAX_PLAN_DEPTH) throw badPlan(file, `is nested deeper than ${MAX_PLAN_DEPTH} levels: not a plan retailctl made`);
  const kind = (raw as { kind?: unknown }).kind;
  if (kind !== undefined && !(PLAN_KINDS as readonly unknown[]).includes(kind)) {
    throw badPlan(file, `unknown plan kind ${shown(String(typeof kind === 'string' ? kind : JSON.stringify(kind)), 60)} (this retailctl applies ${PLAN_KINDS.join(', ')})`, 'a plan from a newer retailctl needs that version to apply it');
  }
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw badPlan(file, `is not a valid plan file: ${where}: ${issueText(issue)}`);
  }
  const doc = parsed.data as PlanDocument;
  const signed = doc.digest.startsWith('hmac-sha256:');
  if (signed && !opts.key) throw badPlan(file, 'is signed with a key (hmac-sha256) and RETAILCTL_PLAN_KEY is not set: it cannot be verified', 'set RETAILCTL_PLAN_KEY to the key the plan step used');
  if (!signed && opts.key) throw badPlan(file, 'has a plain sha256 digest but RETAILCTL_PLAN_KEY is set: only a plan signed with that key is accepted', 'make the plan in a step that has RETAILCTL_PLAN_KEY, or unset it to accept unsigned plans');
  // over the file as it is, every key included: an added key is an edit too
  const expected = digestOf(raw as PlanDocument, opts.key);
  if (!safeEqual(expected, doc.digest)) {
    throw badPlan(file, signed ? 'HMAC does not match: the file was edited after it was made, or signed with another key' : 'digest does not match its content: the file was edited after it was made', 'never edit a plan file: make a new one with --plan-out');
  }
  if (Date.parse(doc.expiresAt) - Date.parse(doc.createdAt) > MAX_PLAN_TTL_MS) throw badPlan(file, `is valid from ${doc.createdAt} to ${doc.expiresAt}, longer than the 30 days any plan may be: not a plan retailctl made`);
  const supported = opts.supportedVersion ?? PLAN_FORMAT_VERSION;
  if (doc.version > supported) {
    throw badPlan(file, `is plan format version ${doc.version}, made by retailctl ${shown(doc.retailctl, 40)}; this retailctl reads version ${supported} and older`, `apply it with retailctl ${shown(doc.retailctl, 40)} or newer`);
  }
  return doc;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A precondition that no longer holds, for the report. */
export interface ChangedPrecondition {
  id: string;
  what: string;
  planned: unknown;
  now: unknown;
}

/** Compare the preconditions as planned with the same items read now (pure). */
export function changedPreconditions(planned: readonly Precondition[], now: readonly Precondition[]): ChangedPrecondition[] {
  const fresh = new Map(now.map((p) => [p.id, p]));
  const out: ChangedPrecondition[] = [];
  for (const p of planned) {
    const is = fresh.get(p.id);
    const value = is ? is.value : null;
    if (canonicalJson(p.value ?? null) !== canonicalJson(value ?? null)) out.push({ id: p.id, what: p.what, planned: p.value ?? null, now: value ?? null });
  }
  return out;
}

/** Keys that name an element of a list of objects, in the order tried: `[SetIdentifier=fastly-0]` reads better than `[1]`. */
const ELEMENT_KEYS = ['SetIdentifier', 'id', 'key', 'name', 'target', 'sku'];

function keyOf(items: readonly unknown[]): string | undefined {
  if (!items.length || !items.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i))) return undefined;
  return ELEMENT_KEYS.find((k) => {
    const values = items.map((i) => (i as Record<string, unknown>)[k]);
    return values.every((v) => typeof v === 'string' || typeof v === 'number') && new Set(values).size === values.length;
  });
}

/**
 * Where two JSON values differ, one `path: before → after` line per differing leaf (at most `max`),
 * elements of object lists named by their key field when they have one.
 */
export function diffLines(before: unknown, after: unknown, max = 10): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  const walk = (a: unknown, b: unknown, at: string) => {
    if (out.length > max) return;
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      const key = keyOf(a) !== undefined && keyOf(a) === keyOf(b) ? keyOf(a)! : undefined;
      if (key) {
        const index = (list: unknown[]) => new Map(list.map((i) => [String((i as Record<string, unknown>)[key]), i]));
        const [x, y] = [index(a), index(b)];
        for (const k of new Set([...x.keys(), ...y.keys()])) walk(x.get(k), y.get(k), `${at}[${key}=${k}]`);
        return;
      }
      if (a.length === b.length) {
        a.forEach((item, i) => walk(item, b[i], `${at}[${i}]`));
        return;
      }
    } else if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const [x, y] = [a as Record<string, unknown>, b as Record<string, unknown>];
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], at ? `${at}.${k}` : k);
      return;
    }
    out.push(`${at || '(value)'}: ${show(a)} → ${show(b)}`);
  };
  walk(before, after, '');
  return out.length > max ? [...out.slice(0, max), `… and more`] : out;
}
