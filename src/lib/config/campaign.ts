import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';
import type { Campaign, RetailctlConfig } from './schema.js';

/** The campaign `name` from the config, or a usage error listing the campaigns there are. */
export function findCampaign(config: RetailctlConfig, name: string): Campaign {
  const campaigns = config.campaigns ?? {};
  const campaign = Object.hasOwn(campaigns, name) ? campaigns[name] : undefined;
  if (campaign) return campaign;
  const known = Object.keys(campaigns);
  throw new RetailctlError('CAMPAIGN_UNKNOWN', `no campaign named "${shown(name)}" in the config${known.length ? ` (it has ${known.join(', ')})` : ''}`, {
    exitCode: ExitCode.Usage,
    hint: known.length ? undefined : 'declare it under `campaigns:` (see examples/retailctl.yaml)',
  });
}
