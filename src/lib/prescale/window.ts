import { DateTime } from 'luxon';
import type { Campaign } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';

/** A campaign's window as instants (UTC) and as local times in the campaign's time zone. */
export interface CampaignWindow {
  timezone: string;
  /** Capacity must be ready by then: sendAt − leadTime. */
  readyBy: { utc: string; local: string };
  sendAt: { utc: string; local: string };
  /** Capacity comes back down then: sendAt + duration. */
  endsAt: { utc: string; local: string };
}

const LOCAL = "yyyy-MM-dd'T'HH:mm:ss";

/**
 * Pure: the window of a campaign. Arithmetic is done on instants, so a lead time or duration that
 * crosses a daylight-saving change is exact; local times are then written in the campaign's zone.
 */
export function campaignWindow(campaign: Pick<Campaign, 'sendAt' | 'timezone' | 'leadTime' | 'duration'>): CampaignWindow {
  const send = DateTime.fromISO(campaign.sendAt, { zone: campaign.timezone });
  if (!send.isValid) {
    throw new RetailctlError('CAMPAIGN_TIME', `sendAt ${campaign.sendAt} in ${campaign.timezone}: ${send.invalidExplanation ?? 'invalid'}`, { exitCode: ExitCode.Usage });
  }
  const at = (dt: DateTime) => ({ utc: dt.toUTC().toISO({ suppressMilliseconds: true })!, local: dt.setZone(campaign.timezone).toFormat(LOCAL) });
  return {
    timezone: campaign.timezone,
    readyBy: at(send.minus({ milliseconds: campaign.leadTime })),
    sendAt: at(send),
    endsAt: at(send.plus({ milliseconds: campaign.duration })),
  };
}

/** A window time moved by `ms` (instant arithmetic), with its local time in the window's zone. */
export function shiftLocal(window: Pick<CampaignWindow, 'timezone'>, at: { utc: string }, ms: number): { utc: string; local: string } {
  const dt = DateTime.fromISO(at.utc, { zone: 'utc' }).plus({ milliseconds: ms });
  return { utc: dt.toISO({ suppressMilliseconds: true })!, local: dt.setZone(window.timezone).toFormat(LOCAL) };
}
