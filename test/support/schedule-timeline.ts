import { DescribeScalableTargetsCommand, DescribeScheduledActionsCommand, type ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DateTime } from 'luxon';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach } from 'vitest';
import type { EmulatorControl } from './emulator.js';
import { seedStorefront } from './seed.js';

/** A scheduled action as the tests read it back from the emulator. */
export interface ReadAction {
  name: string;
  schedule: string;
  timezone?: string;
  min?: number;
  max?: number;
}

/**
 * When an `at()` action fires, as Application Auto Scaling reads it: the wall-clock time in the
 * action's Timezone (UTC when none). Every reading is returned when that wall-clock time happens
 * twice (the night clocks go back), none when it never happens.
 */
export function firesAt(schedule: string, timezone: string | undefined): string[] {
  const local = /^at\((.+)\)$/.exec(schedule)?.[1];
  if (!local) return [];
  const guess = DateTime.fromISO(local, { zone: timezone ?? 'UTC' });
  return [-1, 0, 1]
    .map((h) => guess.plus({ hours: h }))
    .filter((d) => d.toFormat("yyyy-MM-dd'T'HH:mm:ss") === local)
    .map((d) => d.toUTC().toISO({ suppressMilliseconds: true })!)
    .filter((v, i, all) => all.indexOf(v) === i)
    .sort();
}

/**
 * The registered min/max of a target at `utc`, had Application Auto Scaling run its scheduled
 * actions: start from `registered` and apply every action that fired by then, in time order (the
 * emulator keeps actions but never runs them, so tests replay them to see what a user would get).
 * An action whose time is ambiguous makes the replay throw: that is a defect to report, not guess.
 */
export function capacityAt(actions: readonly ReadAction[], registered: { min: number; max: number }, utc: string): { min: number; max: number } {
  const timed = actions.map((a) => {
    const at = firesAt(a.schedule, a.timezone);
    if (at.length !== 1) throw new Error(`${a.name}: ${a.schedule} in ${a.timezone ?? 'UTC'} fires at ${at.length} instants`);
    return { ...a, at: at[0]! };
  });
  const state = { ...registered };
  for (const a of timed.filter((x) => x.at <= utc).sort((x, y) => x.at.localeCompare(y.at))) {
    if (a.min !== undefined) state.min = a.min;
    if (a.max !== undefined) state.max = a.max;
  }
  return state;
}

/** A scalable target as the tests name it. */
export interface TargetId {
  ServiceNamespace: 'ecs' | 'lambda' | 'dynamodb';
  ResourceId: string;
  ScalableDimension?: string;
}

/** The scheduled actions on a target as the emulator holds them, by name. */
export async function readActions(aas: ApplicationAutoScalingClient, target: TargetId): Promise<ReadAction[]> {
  const res = await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: target.ServiceNamespace, ResourceId: target.ResourceId }));
  return (res.ScheduledActions ?? [])
    .map((a) => ({ name: a.ScheduledActionName!, schedule: a.Schedule!, timezone: a.Timezone, min: a.ScalableTargetAction?.MinCapacity, max: a.ScalableTargetAction?.MaxCapacity }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A target's registered min/max (undefined when it is not registered). */
export async function readRegistered(aas: ApplicationAutoScalingClient, target: TargetId): Promise<{ min: number; max: number } | undefined> {
  const res = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: target.ServiceNamespace, ResourceIds: [target.ResourceId] }));
  const t = res.ScalableTargets?.find((x) => !target.ScalableDimension || x.ScalableDimension === target.ScalableDimension);
  return t ? { min: t.MinCapacity!, max: t.MaxCapacity! } : undefined;
}

/**
 * Every test of the file starts from the seeded storefront (no scheduled actions, the normal
 * min/max) with provisioned concurrency ready at once, and sets up the rest itself: none depends
 * on what an earlier one left.
 */
export function freshStorefrontEachTest(endpoint: string, control: EmulatorControl): void {
  beforeEach(async () => {
    await control.reset();
    await seedStorefront(endpoint);
    await control.configure({ pcReadyAfterMs: 0 });
  });
}

/** A writer of one config file per call (`campaigns:` plus the given YAML) in a temp directory of the file's own. */
export function campaignConfigs(prefix: string): (campaigns: string) => Promise<string> {
  let dir: Promise<string> | undefined;
  let n = 0;
  return async (campaigns) => {
    dir ??= mkdtemp(path.join(os.tmpdir(), prefix));
    const file = path.join(await dir, `retailctl-${++n}.yaml`);
    await writeFile(file, `campaigns:\n${campaigns}`);
    return file;
  };
}
