import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { CommandContext } from '../context.js';
import { RetailctlError } from '../errors.js';
import { translateAwsError } from '../aws/translate-error.js';
import { summarizeConfig } from '../config/summary.js';

/** One line of `retailctl doctor`. */
export interface DoctorCheck {
  /** Stable id: node, config, region, endpoint, credentials, k6. */
  id: string;
  ok: boolean;
  /** A failing required check makes doctor exit 1; optional ones only warn. */
  required: boolean;
  /** What was found (or what went wrong). */
  detail: string;
  /** What to do about a failure. */
  hint?: string;
}

export interface DoctorReport {
  /** All required checks passed. */
  ok: boolean;
  checks: DoctorCheck[];
  /** Who the AWS calls run as, when credentials resolved. */
  identity?: { arn: string; account: string };
  region?: string;
  endpoint?: string;
}

/** Lowest Node.js version retailctl supports (package.json engines). */
export const MIN_NODE = [20, 12] as const;

/** Run every check, in order. Read-only: the only AWS call is sts:GetCallerIdentity. */
export async function runDoctor(ctx: CommandContext): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [checkNode(process.versions.node)];
  checks.push(await checkConfig(ctx));

  // network checks can take seconds (5 s timeout): show that something is happening on a terminal
  const spinner = ctx.out.interactive ? await ctx.out.progress('checking AWS region, endpoint and credentials') : undefined;
  const aws = await ctx.aws();
  const sts = await aws.read.client('sts');
  let region: string | undefined;
  try {
    region = await sts.config.region();
    checks.push({ id: 'region', ok: true, required: true, detail: region });
  } catch (err) {
    const e = translateAwsError(err, { profile: ctx.options.profile });
    checks.push({ id: 'region', ok: false, required: true, detail: e.message, hint: e.hint });
  }

  const endpoint = ctx.options.endpointUrl ?? ctx.env.AWS_ENDPOINT_URL_STS ?? ctx.env.AWS_ENDPOINT_URL ?? (region ? `https://sts.${region}.amazonaws.com` : undefined);
  if (endpoint) checks.push(await checkEndpoint(endpoint, ctx.signal));
  else checks.push({ id: 'endpoint', ok: false, required: true, detail: 'not checked: no region, so no endpoint', hint: 'set a region first' });

  let identity: DoctorReport['identity'];
  if (!region) {
    checks.push({ id: 'credentials', ok: false, required: true, detail: 'not checked: needs a region', hint: 'set a region first' });
  } else {
    const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    try {
      const who = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: ctx.signal });
      identity = { arn: who.Arn ?? 'unknown', account: who.Account ?? 'unknown' };
      checks.push({ id: 'credentials', ok: true, required: true, detail: `${identity.arn} (account ${identity.account})` });
    } catch (err) {
      const e = err instanceof RetailctlError ? err : translateAwsError(err);
      checks.push({ id: 'credentials', ok: false, required: true, detail: e.message, hint: e.hint });
    }
  }

  spinner?.stop();
  checks.push(await checkK6(ctx.env));
  const report: DoctorReport = { ok: checks.every((c) => c.ok || !c.required), checks };
  if (identity) report.identity = identity;
  if (region) report.region = region;
  if (endpoint) report.endpoint = endpoint;
  return report;
}

/** Pure: is this Node.js version supported, and is an upgrade due. */
export function checkNode(version: string): DoctorCheck {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const supported = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  if (!supported) {
    return { id: 'node', ok: false, required: true, detail: `v${version} is too old`, hint: `install Node.js ${MIN_NODE.join('.')} or newer (22 LTS recommended)` };
  }
  if (major < 22) {
    return { id: 'node', ok: true, required: true, detail: `v${version} (works; AWS SDK releases from January 2027 need Node.js 22: plan the upgrade)` };
  }
  return { id: 'node', ok: true, required: true, detail: `v${version}` };
}

async function checkConfig(ctx: CommandContext): Promise<DoctorCheck> {
  try {
    const { file, config } = await ctx.config();
    const parts = summarizeConfig(config);
    return { id: 'config', ok: true, required: true, detail: `${file} is valid${parts.length ? `: ${parts.join(', ')}` : ' (no sections yet)'}` };
  } catch (err) {
    if (!(err instanceof RetailctlError)) throw err;
    const detail = err.details.length ? `${err.message}: ${err.details.join('; ')}` : err.message;
    return { id: 'config', ok: false, required: true, detail, hint: err.hint };
  }
}

/** Any HTTP answer means the endpoint is reachable; only network errors and timeouts fail. */
export function checkEndpoint(endpoint: string, signal: AbortSignal, timeoutMs = 5000): Promise<DoctorCheck> {
  const started = Date.now();
  return new Promise((resolve) => {
    const url = new URL(endpoint);
    const get = url.protocol === 'https:' ? https.get : http.get;
    const req = get(url, { timeout: timeoutMs, signal }, (res) => {
      res.resume();
      resolve({ id: 'endpoint', ok: true, required: true, detail: `${endpoint} reachable (HTTP ${res.statusCode} in ${Date.now() - started} ms)` });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      resolve({ id: 'endpoint', ok: false, required: true, detail: `${endpoint} unreachable: ${err.code ?? ''} ${err.message}`.trim(), hint: 'check the network, proxy settings and --endpoint-url / AWS_ENDPOINT_URL' });
    });
  });
}

/** k6 is optional: only `retailctl loadtest` needs it. */
export function checkK6(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  const bin = env.K6_PATH || 'k6';
  return new Promise((resolve) => {
    execFile(bin, ['version'], { timeout: 5000, env }, (err, stdout) => {
      if (err) {
        resolve({ id: 'k6', ok: false, required: false, detail: `${bin} not found on PATH (optional)`, hint: 'install k6 (or set K6_PATH) to run `retailctl loadtest`' });
      } else {
        resolve({ id: 'k6', ok: true, required: false, detail: stdout.trim().split('\n')[0] ?? 'k6' });
      }
    });
  });
}
