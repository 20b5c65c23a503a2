/**
 * The capacity targets of a campaign (`lambda`, `ecs`, `dynamodb`) and the number primitives the
 * config shares. Its own module, importing nothing of retailctl's but the duration parser: the prescale planner reads these
 * types without importing the whole config schema (which uses the planner to check action names).
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

export const posInt = z.number().int().positive();
export const nonNegInt = z.number().int().nonnegative();

const littlesLaw = z.strictObject({ peakRps: z.number().positive(), avgDurationMs: z.number().positive(), headroom: z.number().min(0).max(10).default(0.3) });

/**
 * Sizing from the last campaign: its send time (local time in the campaign's `timezone`, like
 * `sendAt`), the growth to apply to its peak, and how long after the send to look (default the
 * campaign's `duration`); the look-back starts `leadTime` before the send.
 */
export const fromSend = z.strictObject({
  fromSend: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'expected a local date and time like 2026-11-03T09:00:00 (no offset: `timezone` says where)'),
  growth: z.number().positive().max(100),
  window: z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 90m or 3h, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
});

export type FromSendSizing = z.output<typeof fromSend>;

const lambdaTarget = z
  .strictObject({
    /** `function:alias` (or `function:version`); `$LATEST` cannot have provisioned concurrency. */
    lambda: z
      .string()
      .regex(/^[A-Za-z0-9_-]+:[A-Za-z0-9_$-]+$/, 'expected function:alias, e.g. checkout-api:live')
      .refine((v) => !v.endsWith(':$LATEST'), 'provisioned concurrency cannot be set on $LATEST: use an alias or a version'),
    /** Provisioned concurrency to hold during the window. */
    provisioned: posInt.optional(),
    /**
     * Or size it: ceil(peakRps × avgDurationMs / 1000 × (1 + headroom)) (Little's law), or from the
     * last campaign: ceil(peak ConcurrentExecutions in that campaign's window × growth).
     */
    sizing: z.union([littlesLaw, fromSend]).optional(),
  })
  .refine((t) => (t.provisioned === undefined) !== (t.sizing === undefined), 'give exactly one of `provisioned` or `sizing`');

const ecsTarget = z
  .strictObject({
    /** `cluster/service`. */
    ecs: z.string().regex(/^[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+$/, 'expected cluster/service, e.g. storefront/web'),
    /** Minimum running tasks during the window. */
    min: nonNegInt.optional(),
    /** Maximum tasks during the window, at least (the registered maximum is never lowered, and the maximum is raised to `min` if lower). */
    max: posInt.optional(),
    /**
     * Or size `min` from the last campaign: ceil(peak of CPUUtilization × RunningTaskCount per minute
     * in that campaign's window / targetCpu × growth); RunningTaskCount needs Container Insights.
     */
    sizing: fromSend.extend({ targetCpu: z.number().positive().max(100) }).optional(),
  })
  .refine((t) => (t.min === undefined) !== (t.sizing === undefined), 'give exactly one of `min` or `sizing`');

const dynamodbTarget = z
  .strictObject({
    /** Table name, or `Table/index/IndexName` for a global secondary index. */
    dynamodb: z.string().regex(/^[A-Za-z0-9_.-]{3,255}(\/index\/[A-Za-z0-9_.-]{3,255})?$/, 'expected a table name or Table/index/IndexName'),
    /** Provisioned capacity units to hold (provisioned-mode tables, through Application Auto Scaling). */
    read: posInt.optional(),
    write: posInt.optional(),
    /**
     * Warm throughput in units per second (on-demand tables): set through UpdateTable, only ever
     * raised, never lowered afterwards.
     */
    warm: z
      .strictObject({ read: posInt.optional(), write: posInt.optional() })
      .refine((w) => w.read !== undefined || w.write !== undefined, 'give `warm.read`, `warm.write` or both')
      .optional(),
    /**
     * Or size `read` and `write` (a provisioned table) from the last campaign: ceil(peak consumed
     * units per second in that campaign's window × growth).
     */
    sizing: fromSend.optional(),
  })
  .refine((t) => t.read !== undefined || t.write !== undefined || t.warm !== undefined || t.sizing !== undefined, 'give `read`, `write` or both (provisioned table), `sizing` (provisioned table, from the last campaign), or `warm` (on-demand table)')
  .refine((t) => !(t.sizing && (t.read !== undefined || t.write !== undefined || t.warm)), 'give `sizing` (both `read` and `write` from the last campaign) or `read`/`write`/`warm`, not both')
  .refine((t) => !(t.warm && (t.read !== undefined || t.write !== undefined)), 'give `read`/`write` (provisioned table, Application Auto Scaling) or `warm` (on-demand table), not both');

const TARGET_KINDS = { lambda: lambdaTarget, ecs: ecsTarget, dynamodb: dynamodbTarget } as const;

/** A capacity target, recognised by which of `lambda`, `ecs`, `dynamodb` it has. */
export const target = z.unknown().transform((value, ctx) => {
  const kind = value && typeof value === 'object' ? (Object.keys(TARGET_KINDS) as (keyof typeof TARGET_KINDS)[]).find((k) => k in value) : undefined;
  if (!kind) {
    ctx.addIssue({ code: 'custom', message: 'expected a target with one of the keys `lambda`, `ecs` or `dynamodb`' });
    return z.NEVER;
  }
  const parsed = TARGET_KINDS[kind].safeParse(value, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as never);
    return z.NEVER;
  }
  return { kind, ...parsed.data } as CampaignTarget;
});

export type CampaignTarget =
  | ({ kind: 'lambda' } & z.output<typeof lambdaTarget>)
  | ({ kind: 'ecs' } & z.output<typeof ecsTarget>)
  | ({ kind: 'dynamodb' } & z.output<typeof dynamodbTarget>);

