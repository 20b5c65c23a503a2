import { ExitCode, RetailctlError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Parse a duration such as `90s`, `20m`, `1h30m` or `2d` into milliseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(trimmed); m; m = PART.exec(trimmed)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = PART.lastIndex;
  }
  return consumed === trimmed.length ? total : undefined;
}

/** Milliseconds as a short human duration (`1h30m`, `45s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/**
 * A duration flag such as `--wait 90s`; a bad value is a usage error naming the flag. `zero` says
 * what `0` means for this flag (default `do not wait`); `null`: `0` is not a value of it.
 */
export function parseDurationFlag(flag: string, text: string, zero: string | null = 'do not wait'): number {
  const ms = text === '0' && zero !== null ? 0 : parseDuration(text);
  if (ms === undefined || (ms === 0 && zero === null)) throw new RetailctlError('USAGE', `${flag}: expected a duration like 90s, 15m or 1h30m${zero === null ? '' : ` (0 = ${zero})`}, got "${text}"`, { exitCode: ExitCode.Usage });
  return ms;
}

/**
 * A whole-number flag, or undefined when not given. Next to parseDurationFlag as the other flag
 * parser commands share: one wording for every bad number.
 */
export function parseIntegerFlag(flag: string, text: string | undefined, range: { min: number; max?: number }): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < range.min || (range.max !== undefined && n > range.max)) {
    const expected = range.max === undefined ? `a whole number ≥ ${range.min}` : `a whole number from ${range.min} to ${range.max}`;
    throw new RetailctlError('USAGE', `${flag}: expected ${expected}, got "${text}"`, { exitCode: ExitCode.Usage });
  }
  return n;
}
