import type { RetailctlConfig } from './schema.js';

/** Reserved keys under `cdn:` that are settings, not groups. */
export const CDN_SETTINGS_KEYS = new Set(['auditBucket', 'auditLog', 'verify']);

/** Names of the CDN groups in a config. */
export function cdnGroupNames(config: RetailctlConfig): string[] {
  return Object.keys(config.cdn ?? {}).filter((k) => !CDN_SETTINGS_KEYS.has(k));
}

/** What a config defines, e.g. `["1 campaign", "images", "1 cdn group", "inventory (4 sources)"]`. */
export function summarizeConfig(config: RetailctlConfig): string[] {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (config.campaigns) parts.push(count(Object.keys(config.campaigns).length, 'campaign'));
  if (config.images) parts.push('images');
  if (config.cdn) parts.push(count(cdnGroupNames(config).length, 'cdn group'));
  if (config.inventory) parts.push(`inventory (${count(Object.keys(config.inventory.sources).length, 'source')})`);
  return parts;
}
