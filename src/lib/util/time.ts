import { DateTime, IANAZone } from 'luxon';

/**
 * Time zone names and wall-clock times, for config validation and for scheduling. Pure.
 *
 * `Intl` (and luxon, which relies on it) accepts zone names in any case: `america/new_york` and
 * `utc` work here but are not the names AWS or other tools accept, and a config should say exactly
 * what it means. So a name must be spelled as the IANA database spells it.
 */

/** The IANA name as spelt in the database for `tz`, when `tz` differs from it only in case. */
function canonicalSpelling(tz: string): string | undefined {
  const lower = tz.toLowerCase();
  const known = ['UTC', ...Intl.supportedValuesOf('timeZone')];
  return known.find((name) => name.toLowerCase() === lower);
}

/**
 * Whether `tz` is an IANA time zone name spelt exactly as in the database. A known name in the
 * wrong case is refused with the right spelling as `suggestion`; links such as `US/Eastern` or
 * `Asia/Kolkata` are accepted when each part starts with a capital letter, as IANA spells them.
 */
export function checkTimeZone(tz: string): { ok: true } | { ok: false; suggestion?: string } {
  if (!IANAZone.isValidZone(tz)) return { ok: false };
  const spelt = canonicalSpelling(tz);
  if (spelt !== undefined) return spelt === tz ? { ok: true } : { ok: false, suggestion: spelt };
  // a link (not in Intl's list of canonical names): IANA spells every part with a capital first,
  // and no link has an all-capital word of more than three letters (US, GB, NZ, UTC, PRC: yes; EASTERN: no)
  const parts = tz.split('/');
  if (parts.every((part) => /^[A-Z]/.test(part)) && !parts.some((part) => /^[A-Z]{4,}$/.test(part))) return { ok: true };
  const recased = parts.map((part) => (/^[A-Z]{4,}$/i.test(part) && !/^[A-Z]{1,3}$/.test(part) ? part[0]!.toUpperCase() + part.slice(1).toLowerCase() : part)).join('/');
  if (recased !== tz && IANAZone.isValidZone(recased) && recased.split('/').every((part) => /^[A-Z]/.test(part))) return { ok: false, suggestion: recased };
  const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  return { ok: false, suggestion: resolved };
}

/** `yyyy-MM-ddTHH:mm:ss`: a local wall-clock time without offset. */
export const LOCAL_FORMAT = "yyyy-MM-dd'T'HH:mm:ss";

/**
 * The instants a local wall-clock time denotes in `zone`: one normally, two when clocks go back
 * and the time happens twice (earlier first), none when clocks go forward over it.
 */
export function instantsOfLocal(local: string, zone: string): number[] {
  const wall = DateTime.fromISO(local, { zone: 'utc' });
  if (!wall.isValid) return [];
  const z = IANAZone.create(zone);
  const guess = wall.toMillis();
  // the offsets in force a day either side cover every offset that local time can have
  const offsets = [...new Set([z.offset(guess - 86_400_000), z.offset(guess), z.offset(guess + 86_400_000)])];
  const text = wall.toFormat(LOCAL_FORMAT);
  return offsets
    .map((minutes) => guess - minutes * 60_000)
    .filter((ms) => DateTime.fromMillis(ms, { zone }).toFormat(LOCAL_FORMAT) === text)
    .filter((ms, i, all) => all.indexOf(ms) === i)
    .sort((a, b) => a - b);
}

/** `2027-11-07T01:59:00-04:00`: an instant as local time in `zone` with its offset (unambiguous). */
export function localWithOffset(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true })!;
}

/** `2027-11-07T05:59:00Z`. */
export function utcText(ms: number): string {
  return DateTime.fromMillis(ms, { zone: 'utc' }).toISO({ suppressMilliseconds: true })!;
}

/**
 * The instant of an Application Auto Scaling `at(yyyy-mm-ddThh:mm:ss)` schedule, read as AWS reads
 * it: in the action's `Timezone` (UTC when there is none). Older retailctl versions wrote local times
 * in the campaign's zone; a time that happened twice is read as its first occurrence. Undefined for a
 * schedule that is not `at(...)` or a time that does not exist in that zone.
 */
export function atInstant(schedule: string, timezone: string | undefined): number | undefined {
  const local = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)\)$/.exec(schedule.trim())?.[1];
  if (!local) return undefined;
  const zone = timezone && IANAZone.isValidZone(timezone) ? timezone : 'UTC';
  return instantsOfLocal(local, zone)[0];
}
