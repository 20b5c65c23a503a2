/**
 * After a cdn change is INSYNC (or its health checks are updated): is the DNS answer the
 * destination's? Route 53's own answer (TestDNSAnswer, per record and type, optionally as asked by a
 * given resolver / EDNS client subnet) and, optionally, chosen recursive resolvers asked directly,
 * each polled until it returns the new answer or the deadline passes. The time from the change to
 * the new answer is kept per record and resolver.
 */
import type { AwsClients } from '../aws/context.js';
import type { CdnVerifyConfig } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { sleep } from '../util/sleep.js';
import { SIDES, sideSet, normalizeName, type GroupState, type Side } from './model.js';
import type { CdnPlan, SetView } from './plan.js';
import { groupTraffic } from './traffic.js';

/** Default `--verify-timeout`. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 120_000;

/** Between two TestDNSAnswer draws at a weighted split, divided among the split records (4 calls a second in all, under Route 53's 5 per second per account). */
const DRAW_POLL_MS = 250;
/** The longest a split's draw is polled beyond `--verify-timeout`. */
const MAX_DRAW_MS = 600_000;

/** Answers to draw for a 99.9% chance that one is from a side with `share` of the weight. */
export function drawsNeeded(share: number): number {
  return share >= 1 ? 1 : Math.ceil(Math.log(0.001) / Math.log(1 - share));
}

export interface VerifySettings {
  /** TestDNSAnswer ResolverIP. */
  resolverIp?: string;
  /** TestDNSAnswer EDNS0 client subnet. */
  ednsSubnet?: { ip: string; mask: string };
  /** Recursive resolvers asked directly (`ip` or `ip:port`). */
  resolvers: string[];
  timeoutMs: number;
  /** Between two TestDNSAnswer calls (default 2 s: Route 53 allows ~5 requests/s per account). */
  pollMs?: number;
  /** Between two queries to one resolver (default 1 s). */
  resolverPollMs?: number;
}

/** One record set's answer that counts as "the destination". */
export interface AcceptedAnswer {
  setIdentifier: string;
  side: Side | null;
  /** Record values, or the alias target's DNS name; normalised (lower case, no trailing dot). */
  values: string[];
  alias: boolean;
}

export interface ExpectedAnswer {
  name: string;
  type: string;
  /** What Route 53 must answer at least once: at a weighted split, only the record sets that newly get weight. */
  accept: AcceptedAnswer[];
  /**
   * A weighted split: every record set that may answer now (Route 53 draws one per query, by weight).
   * Recursive resolvers cache one draw for the record's TTL, so they are only asked to answer from
   * these; Route 53 itself (no cache) is polled until it draws one of `accept`.
   */
  split?: AcceptedAnswer[];
  /** At a split: the share of answers `accept` gets (0-1), for the chance of never drawing it. */
  share?: number;
  /**
   * Alias record sets that served before and are not the destination: an answer of addresses counts
   * for an accepted alias only with an address none of these targets has (CloudFront distributions
   * share edge addresses, so an address both have proves nothing).
   */
  reject?: AcceptedAnswer[];
}

export interface AnswerCheck {
  record: string;
  type: string;
  /** `route53` (TestDNSAnswer) or the resolver asked. */
  via: string;
  switched: boolean;
  /** Milliseconds from the change to the first new answer. */
  afterMs?: number;
  switchedAt?: string;
  /** The last answer seen. */
  answer: string[];
  /** What would have counted, one entry per accepted record set. */
  expected: string[];
  /** The last query error, if the last query failed. */
  error?: string;
  /** A weighted split, asked of Route 53: how many answers were drawn until the new side's (or the deadline). */
  draws?: number;
  /** A weighted split, asked of a resolver: any side with weight counted (a resolver caches one draw for the TTL). */
  anyWeighted?: boolean;
}

export interface Verification {
  /** When the change was applied (the write answered), ISO time: every `afterMs` counts from it. */
  changedAt: string;
  timeoutMs: number;
  /** Every check saw the new answer. */
  ok: boolean;
  interrupted?: boolean;
  /** The check itself failed (e.g. TestDNSAnswer denied): not verified. */
  error?: string;
  checks: AnswerCheck[];
  /** Weighted splits: the share of answers the newly weighted side gets, per `record type`. */
  shares?: Record<string, number>;
}

/** Settings from flags over `cdn.verify`. */
export function verifySettings(config: CdnVerifyConfig | undefined, flags: { resolverIp?: string; ednsSubnet?: string; resolvers?: string; timeoutMs?: number }): VerifySettings {
  const resolverIp = flags.resolverIp ?? config?.resolverIp;
  const subnet = flags.ednsSubnet ?? config?.ednsSubnet;
  const resolvers = flags.resolvers !== undefined ? flags.resolvers.split(',').map((r) => r.trim()).filter(Boolean) : (config?.resolvers ?? []);
  const settings: VerifySettings = { resolvers, timeoutMs: flags.timeoutMs ?? config?.timeout ?? DEFAULT_VERIFY_TIMEOUT_MS };
  if (resolverIp) settings.resolverIp = resolverIp;
  if (subnet) {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(subnet);
    if (!m) throw new RetailctlError('USAGE', `--edns-subnet: expected ip/mask like 192.0.2.0/24, got "${subnet}"`, { exitCode: ExitCode.Usage });
    settings.ednsSubnet = { ip: m[1]!, mask: m[2]! };
  }
  for (const r of resolvers) {
    if (!/^(\[[0-9a-fA-F:]+\](:\d+)?|[0-9.]+(:\d+)?|[0-9a-fA-F:]+)$/.test(r)) throw new RetailctlError('USAGE', `--verify-resolvers: "${r}" is not an IP address (optionally ip:port)`, { exitCode: ExitCode.Usage, hint: 'example: --verify-resolvers 1.1.1.1,8.8.8.8' });
  }
  return settings;
}

function accepted(view: SetView): AcceptedAnswer {
  const alias = view.target.startsWith('alias ');
  const values = alias ? [normalizeName(view.target.slice('alias '.length))] : view.target.split(', ').filter(Boolean).map(normalizeName);
  return { setIdentifier: view.setIdentifier, side: view.side, values: values.sort(), alias };
}

/** Weight in a SetView's routing text (`weight 10`), or undefined. */
function weightOf(view: SetView): number | undefined {
  const m = /^weight (\d+)$/.exec(view.routing);
  return m ? Number(m[1]) : undefined;
}

/**
 * Pure: the answers that count as the plan's destination, per record. Failover and latency routing:
 * the destination side's record sets (both after a latency failback). Weighted: after a full move,
 * the record sets left with weight. At a split (e.g. a 90/10 drill), an answer from the side that
 * already served proves nothing, so Route 53 must draw one of the record sets that newly got weight;
 * `split` lists every set that may answer, for resolvers. A split where no set newly got weight
 * (50/50 to 70/30) cannot be told from before by one answer: any set with weight counts.
 */
export function expectedForPlan(plan: Pick<CdnPlan, 'routing' | 'records' | 'to'>): ExpectedAnswer[] {
  return plan.records.map((record) => {
    if (plan.routing !== 'weighted') {
      const views = record.after.filter((v) => v.side !== null && (plan.to === undefined || v.side === plan.to));
      const others = record.after.filter((v) => v.side !== null && !views.includes(v));
      return withRejects({ name: record.name, type: record.type, accept: views.map(accepted) }, others.map(accepted));
    }
    const serving = record.after.filter((v) => (weightOf(v) ?? 0) > 0);
    const servedBefore = new Set(record.before.filter((v) => (weightOf(v) ?? 0) > 0).map((v) => v.setIdentifier));
    const fresh = serving.filter((v) => !servedBefore.has(v.setIdentifier));
    const acceptViews = fresh.length ? fresh : serving;
    const expected: ExpectedAnswer = withRejects({ name: record.name, type: record.type, accept: acceptViews.map(accepted) }, record.before.filter((v) => servedBefore.has(v.setIdentifier) && !acceptViews.some((a) => a.setIdentifier === v.setIdentifier)).map(accepted));
    if (serving.length > 1) {
      expected.split = serving.map(accepted);
      if (fresh.length && fresh.length < serving.length) {
        const total = serving.reduce((n, v) => n + weightOf(v)!, 0);
        expected.share = fresh.reduce((n, v) => n + weightOf(v)!, 0) / total;
      }
    }
    return expected;
  });
}

/** The alias sets among `others` become `reject` (answers of addresses must not be theirs too). */
function withRejects(expected: ExpectedAnswer, others: AcceptedAnswer[]): ExpectedAnswer {
  const reject = others.filter((o) => o.alias && !expected.accept.some((a) => a.values[0] === o.values[0]));
  if (reject.length && expected.accept.some((a) => a.alias)) expected.reject = reject;
  return expected;
}

/** Pure: the answers Route 53 gives in `state` (the record sets serving now), per record: what a rollback must bring back. */
export function expectedForState(state: GroupState): ExpectedAnswer[] {
  const traffic = groupTraffic(state);
  return state.records.map((record, i) => {
    const serving = traffic.records[i]!.serving;
    const sets = state.config.routing === 'weighted'
      ? record.sets.filter((s) => (s.Weight ?? 0) > 0)
      : SIDES.filter((s) => serving.includes(s)).map((s) => sideSet(state, record, s)!).filter(Boolean);
    const answerOf = (s: (typeof record.sets)[number]): AcceptedAnswer => {
      const side = SIDES.find((x) => sideSet(state, record, x) === s) ?? null;
      const alias = Boolean(s.AliasTarget?.DNSName);
      const values = alias ? [normalizeName(s.AliasTarget!.DNSName!)] : (s.ResourceRecords ?? []).map((r) => normalizeName(r.Value ?? ''));
      return { setIdentifier: s.SetIdentifier ?? '', side, values: values.sort(), alias };
    };
    const accept = sets.map(answerOf);
    // a split read at the start: any set with weight is its answer
    const expected: ExpectedAnswer = state.config.routing === 'weighted' && accept.length > 1 ? { name: record.name, type: record.type, accept, split: accept } : { name: record.name, type: record.type, accept };
    return withRejects(expected, record.sets.filter((s) => !sets.includes(s)).map(answerOf));
  });
}

const norm = (answer: string[]) => answer.map(normalizeName).sort();

/** Pure: does this answer come from one of the accepted record sets? (`aliasIps`: the alias targets resolved, for answers that are addresses.) */
export function answerMatches(answer: string[], expected: ExpectedAnswer, aliasIps: Record<string, string[]> = {}): boolean {
  const got = norm(answer);
  if (!got.length) return false;
  const rejected = new Set((expected.reject ?? []).flatMap((r) => aliasIps[r.values[0]!] ?? []));
  return expected.accept.some((a) => {
    if (got.join(' ') === a.values.join(' ')) return true;
    // an alias answered with addresses: an address of the target that no target of another side has
    const ips = a.alias ? aliasIps[a.values[0]!] : undefined;
    return Boolean(ips?.length && got.some((ip) => ips!.includes(ip) && !rejected.has(ip)));
  });
}

function describeAccepted(e: ExpectedAnswer): string[] {
  return e.accept.map((a) => `${a.setIdentifier}: ${a.alias ? 'alias ' : ''}${a.values.join(', ')}`);
}

export interface VerifyOptions {
  read: AwsClients;
  zoneId: string;
  expected: ExpectedAnswer[];
  settings: VerifySettings;
  /** When the change was applied (epoch ms). */
  changedAt: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

type Query = (name: string, type: string) => Promise<string[]>;

/** A fresh resolver per query (no answer cached between polls), at `server` (`ip` or `ip:port`). */
async function resolverQuery(server: string): Promise<Query> {
  const { Resolver } = await import('node:dns/promises');
  return async (name, type) => {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([server]);
    if (type === 'CNAME') return resolver.resolveCname(name);
    if (type === 'AAAA') return resolver.resolve6(name);
    return resolver.resolve4(name);
  };
}

/**
 * Poll Route 53 (TestDNSAnswer) and every resolver for every record until each gives an accepted
 * answer or the deadline passes. Never throws for a wrong or failed answer: the result says.
 * An interrupt ends the wait (`interrupted`).
 */
export async function verifyAnswers(opts: VerifyOptions): Promise<Verification> {
  const { settings } = opts;
  const deadline = opts.changedAt + settings.timeoutMs;
  const route53 = await opts.read.client('route53');
  const { TestDNSAnswerCommand } = await import('@aws-sdk/client-route-53');
  const testDns: Query = async (name, type) => {
    const res = await route53.send(
      new TestDNSAnswerCommand({
        HostedZoneId: opts.zoneId.replace(/^\/?hostedzone\//, ''),
        RecordName: name,
        RecordType: type as 'A',
        ...(settings.resolverIp ? { ResolverIP: settings.resolverIp } : {}),
        ...(settings.ednsSubnet ? { EDNS0ClientSubnetIP: settings.ednsSubnet.ip, EDNS0ClientSubnetMask: settings.ednsSubnet.mask } : {}),
      }),
      { abortSignal: opts.signal },
    );
    return res.RecordData ?? [];
  };
  const sources: { via: string; query: Query; pollMs: number; resolveAlias: (name: string, type: string) => Promise<string[]> }[] = [];
  sources.push({ via: 'route53', query: testDns, pollMs: settings.pollMs ?? 2000, resolveAlias: systemResolve });
  for (const server of settings.resolvers) {
    const query = await resolverQuery(server);
    sources.push({ via: server, query, pollMs: settings.resolverPollMs ?? 1000, resolveAlias: (name, type) => query(name, type === 'AAAA' ? 'AAAA' : 'A').catch(() => []) });
  }
  let interrupted = false;
  // Route 53 draws a weighted answer per query: at a split, poll it faster (up to 4 queries a second
  // in all, under its 5 per second per account) until it draws the new side
  const draws = opts.expected.filter((e) => e.share !== undefined);
  const drawPollMs = Math.max(DRAW_POLL_MS, DRAW_POLL_MS * draws.length);
  const verifyStart = Date.now();
  const checks = await Promise.all(
    sources.flatMap((source) =>
      opts.expected.map(async (asked): Promise<AnswerCheck> => {
        const route53Draw = source.via === 'route53' && asked.share !== undefined;
        // a draw needs enough answers whatever the INSYNC wait took of the deadline: at least as many
        // as give a 99.9% chance of drawing the new side (up to 10 minutes), and the draws of several
        // records take turns rather than starting at once
        const checkDeadline = route53Draw ? Math.max(deadline, verifyStart + Math.min(drawsNeeded(asked.share!) * drawPollMs, MAX_DRAW_MS)) : deadline;
        if (route53Draw && draws.indexOf(asked) > 0) {
          try {
            await sleep(DRAW_POLL_MS * draws.indexOf(asked), opts.signal);
          } catch {
            interrupted = true;
          }
        }
        // a resolver caches one draw for the TTL: at a split, any side with weight is its answer
        const expected = source.via !== 'route53' && asked.split ? { ...asked, accept: asked.split } : asked;
        const check: AnswerCheck = { record: expected.name, type: expected.type, via: source.via, switched: false, answer: [], expected: describeAccepted(expected) };
        if (route53Draw) check.draws = 0;
        if (source.via !== 'route53' && asked.split) check.anyWeighted = true;
        const pollMs = route53Draw ? Math.min(source.pollMs, drawPollMs) : source.pollMs;
        const aliasIps: Record<string, string[]> = {};
        let reported: number | undefined;
        for (;;) {
          try {
            check.answer = await source.query(expected.name, expected.type);
            if (route53Draw) check.draws! += 1;
            delete check.error;
            // an alias may be answered with the target's addresses: resolve the targets to compare
            // (the other sides' too); a lookup that found nothing is tried again at the next poll
            for (const a of [...expected.accept, ...(expected.reject ?? [])]) {
              if (a.alias && !aliasIps[a.values[0]!]?.length && check.answer.length && !check.answer.map(normalizeName).includes(a.values[0]!)) {
                aliasIps[a.values[0]!] = await source.resolveAlias(a.values[0]!, expected.type);
              }
            }
            if (answerMatches(check.answer, expected, aliasIps)) {
              const at = Date.now();
              check.switched = true;
              check.afterMs = Math.max(0, at - opts.changedAt);
              check.switchedAt = new Date(at).toISOString();
              return check;
            }
          } catch (err) {
            if (opts.signal?.aborted) {
              interrupted = true;
              return check;
            }
            check.error = (err as Error).message;
          }
          if (interrupted) return check;
          const left = checkDeadline - Date.now();
          if (left <= 0) return check;
          // one progress line per check every few seconds, not one per poll
          const waited = Math.floor((Date.now() - opts.changedAt) / 5000) * 5;
          if (waited !== reported) {
            reported = waited;
            opts.onProgress?.(`waiting for ${source.via === 'route53' ? 'Route 53' : source.via} to answer ${expected.name} ${expected.type} with the new record (${Math.round((Date.now() - opts.changedAt) / 1000)} s${check.draws ? `, ${check.draws} answers drawn` : ''})`);
          }
          try {
            await sleep(Math.min(pollMs, left), opts.signal);
          } catch {
            interrupted = true;
            return check;
          }
        }
      }),
    ),
  );
  const result: Verification = { changedAt: new Date(opts.changedAt).toISOString(), timeoutMs: settings.timeoutMs, ok: !interrupted && checks.every((c) => c.switched), checks };
  const shares = opts.expected.filter((e) => e.share !== undefined);
  if (shares.length) result.shares = Object.fromEntries(shares.map((e) => [`${e.name} ${e.type}`, e.share!]));
  if (interrupted) result.interrupted = true;
  return result;
}

/** For Route 53's answers: an alias target resolved through the system resolver. */
async function systemResolve(name: string, type: string): Promise<string[]> {
  const dns = await import('node:dns/promises');
  return (type === 'AAAA' ? dns.resolve6(name) : dns.resolve4(name)).catch(() => []);
}

/** One line per check that did not see the new answer, e.g. `www.shop.example.com CNAME via 1.1.1.1: still d111.cloudfront.net`. */
export function unswitched(v: Verification): string[] {
  if (v.error) return [`the check failed: ${v.error}`];
  return v.checks.filter((c) => !c.switched).map((c) => `${c.record} ${c.type} via ${c.via}: ${c.error ? `no answer (${c.error})` : c.answer.length ? `still ${c.answer.join(', ')}` : 'empty answer'} (expected ${c.expected.join(' or ')}${drawNote(c, v)})`);
}

/** For a check of a weighted split: how many answers were drawn, and the chance of none being the new side at its share. */
function drawNote(c: AnswerCheck, v: Verification): string {
  if (c.draws === undefined || c.error) return '';
  const share = v.shares?.[`${c.record} ${c.type}`];
  if (share === undefined) return `; ${c.draws} answers drawn`;
  const chance = Math.pow(1 - share, c.draws);
  const pct = `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;
  const odds = chance < 0.001 ? 'under 0.1%' : `${(chance * 100).toFixed(1)}%`;
  return `; ${c.draws} answers drawn, none from the ${pct} side, a chance of ${odds} if Route 53 serves it${chance >= 0.001 ? ': raise --verify-timeout for a small weight' : ''}`;
}

/** One line: `new answer everywhere: route53 0.4 s, 1.1.1.1 12 s`. */
export function verificationSummary(v: Verification): string {
  const slowest = new Map<string, number>();
  const anyWeighted = new Set<string>();
  for (const c of v.checks) {
    if (c.switched) slowest.set(c.via, Math.max(slowest.get(c.via) ?? 0, c.afterMs ?? 0));
    if (c.anyWeighted) anyWeighted.add(c.via);
  }
  const times = [...slowest].map(([via, ms]) => `${via} ${(ms / 1000).toFixed(1)} s${anyWeighted.has(via) ? ' (either side: a split)' : ''}`).join(', ');
  return v.ok ? `new DNS answer seen: ${times}` : `new DNS answer NOT seen everywhere within ${Math.round(v.timeoutMs / 1000)} s${times ? ` (seen: ${times})` : ''}`;
}
