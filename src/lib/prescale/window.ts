import { DateTime } from 'luxon';
import type { Campaign } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { instantsOfLocal, LOCAL_FORMAT, localWithOffset, utcText } from '../util/time.js';

/** One instant of a campaign window: UTC, and the wall-clock time in the campaign's zone. */
export interface WindowTime {
  utc: string;
  /** `yyyy-MM-ddTHH:mm:ss` in the campaign's zone (for people; ambiguous on the night clocks go back). */
  local: string;
  /** The same local time with its UTC offset, e.g. `2027-11-07T01:59:00-04:00` (never ambiguous). */
  localOffset: string;
}

/** A campaign's window as instants (UTC) and as local times in the campaign's time zone. */
export interface CampaignWindow {
  timezone: string;
  /** Capacity must be ready by then: sendAt − leadTime. */
  readyBy: WindowTime;
  sendAt: WindowTime;
  /** Capacity comes back down then: sendAt + duration. */
  endsAt: WindowTime;
  /**
   * Set when sendAt is a wall-clock time that happens twice (the night clocks go back): the first
   * occurrence is used, and this is the second one, for the plan to say so.
   */
  sendAtAlsoAt?: WindowTime;
}

/** An instant as a window time in `timezone`. */
export function windowTime(ms: number, timezone: string): WindowTime {
  return { utc: utcText(ms), local: DateTime.fromMillis(ms, { zone: timezone }).toFormat(LOCAL_FORMAT), localOffset: localWithOffset(ms, timezone) };
}

/**
 * Pure: the window of a campaign. Arithmetic is done on instants, so a lead time or duration that
 * crosses a daylight-saving change is exact; local times are then written in the campaign's zone.
 */
export function campaignWindow(campaign: Pick<Campaign, 'sendAt' | 'timezone' | 'leadTime' | 'duration'>): CampaignWindow {
  const instants = instantsOfLocal(campaign.sendAt, campaign.timezone);
  if (instants.length === 0) {
    // the config schema refuses this already; kept for callers that build a campaign by hand
    throw new RetailctlError('CAMPAIGN_TIME', `sendAt ${campaign.sendAt} does not exist in ${campaign.timezone}`, { exitCode: ExitCode.Usage });
  }
  const send = instants[0]!;
  const window: CampaignWindow = {
    timezone: campaign.timezone,
    readyBy: windowTime(send - campaign.leadTime, campaign.timezone),
    sendAt: windowTime(send, campaign.timezone),
    endsAt: windowTime(send + campaign.duration, campaign.timezone),
  };
  if (instants.length > 1) window.sendAtAlsoAt = windowTime(instants[1]!, campaign.timezone);
  return window;
}
