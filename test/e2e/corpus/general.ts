/** Flags, commands and config files: the README's exit-code table from the user's side. */
import type { CorpusCase } from './types.js';

/** A config with a campaign (with a load test) and a cdn group; `audit` is the audit log. */
const CONFIG = `campaigns:
  spring:
    sendAt: "2030-03-02T09:00:00"
    timezone: America/New_York
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 4
    loadtest:
      url: https://shop.example.com/
      baselineRps: 10
cdn:
  auditLog: audit.jsonl
  storefront:
    zoneId: Z0SHOPEXAMPLE
    record: www.shop.example.com
    routing: weighted
    primary: { setIdentifier: cloudfront }
    secondary: { setIdentifier: fastly }
`;
const withSendAt = (sendAt: string) => CONFIG.replace('"2030-03-02T09:00:00"', `"${sendAt}"`);

/** Nine levels of nine aliases: a "billion laughs" document. */
const BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`))
  .join('\n');

const jsonError = ({ stdout }: { stdout: string }) => {
  const doc = JSON.parse(stdout) as { ok: boolean; error: { code: string } };
  if (doc.ok !== false || !doc.error.code) throw new Error(`expected a JSON error document, got ${stdout}`);
};

export const cases: CorpusCase[] = [
  { name: 'an unknown command', args: ['prescal'], message: /unknown command 'prescal'/ },
  { name: 'an unknown flag', args: ['cdn', 'status', '--colour'], message: /unknown option '--colour'/ },
  { name: 'a config file that does not exist', args: ['config', 'validate', '--config', 'nope.yaml'], message: 'nope.yaml' },
  {
    name: 'a YAML syntax error names file and line',
    args: ['config', 'validate', '--config', 'bad.yaml'],
    files: { 'bad.yaml': 'version: 1\nprescale:\n  campaigns: [\n' },
    message: /bad\.yaml:\d+/,
  },

  // ---- config files ----
  { name: 'a YAML alias bomb ("billion laughs")', args: ['config', 'validate', '--config', 'bomb.yaml'], files: { 'bomb.yaml': `${BOMB}\n` }, message: /bomb\.yaml:2:8: aliases \(\*name\) expand this document to more than 10,000 values/ },
  { name: 'sendAt on a day that does not exist (Feb 30), before prescale reads AWS', args: ['prescale', '--campaign', 'spring', '--config', 'c.yaml', '--dry-run'], files: { 'c.yaml': withSendAt('2027-02-30T09:00:00') }, message: 'c.yaml:3:5: campaigns.spring.sendAt: 2027-02-30T09:00:00 is not a date (2027-02-30 does not exist in the calendar)' },
  { name: 'sendAt in month 13', args: ['config', 'validate', '--config', 'c.yaml'], files: { 'c.yaml': withSendAt('2026-13-01T09:00:00') }, message: 'c.yaml:3:5: campaigns.spring.sendAt: 2026-13-01T09:00:00 is not a date' },
  { name: 'sendAt at 24:00', args: ['config', 'validate', '--config', 'c.yaml'], files: { 'c.yaml': withSendAt('2027-03-02T24:00:00') }, message: 'c.yaml:3:5: campaigns.spring.sendAt: 2027-03-02T24:00:00 is not a time of day' },
  { name: 'sendAt at minute 60', args: ['config', 'validate', '--config', 'c.yaml'], files: { 'c.yaml': withSendAt('2027-03-02T09:60:00') }, message: 'minutes and seconds go from 00 to 59' },
  { name: 'sendAt with an offset (timezone says where)', args: ['config', 'validate', '--config', 'c.yaml'], files: { 'c.yaml': withSendAt('2027-03-02T09:00:00Z') }, message: 'c.yaml:3:5: campaigns.spring.sendAt: expected a local date and time like 2027-03-02T09:00:00 (no offset' },
  { name: 'a time zone in the wrong case', args: ['prescale', '--campaign', 'spring', '--config', 'c.yaml', '--dry-run'], files: { 'c.yaml': CONFIG.replace('America/New_York', 'america/new_york') }, message: 'c.yaml:4:5: campaigns.spring.timezone: "america/new_york" is not spelt as the IANA time zone database spells it: did you mean America/New_York?' },
  { name: 'a config path that is a directory', args: ['config', 'validate', '--config', 'conf.yaml'], files: { 'conf.yaml': { dir: true } }, message: 'config path conf.yaml is a directory, not a file' },
  { name: 'an empty config file', args: ['config', 'validate', '--config', 'empty.yaml'], files: { 'empty.yaml': '' }, message: 'config file empty.yaml is empty' },
  { name: 'a binary file as config', args: ['config', 'validate', '--config', 'logo.yaml'], files: { 'logo.yaml': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x1b, 0x5b, 0x32, 0x4a]) }, message: 'logo.yaml:1:1: not a text file (bytes that are not UTF-8 at byte 0)' },
  { name: 'a config over 4 MiB', args: ['config', 'validate', '--config', 'big.yaml'], files: { 'big.yaml': Buffer.alloc(4 * 1024 * 1024 + 1, 0x61) }, message: 'config file big.yaml is 4 MiB: a config file is at most 4 MiB' },
  { name: 'a FIFO as config (nothing blocks)', args: ['config', 'validate', '--config', 'fifo.yaml'], files: { 'fifo.yaml': { fifo: true } }, message: 'config path fifo.yaml is not a regular file (a FIFO, device or socket)' },
  { name: 'a key written twice in one mapping', args: ['config', 'validate', '--config', 'dup.yaml'], files: { 'dup.yaml': `${CONFIG}campaigns: {}\n` }, message: /dup\.yaml:20:1: syntax error: Map keys must be unique/ },
  { name: 'a misspelt top-level key', args: ['config', 'validate', '--config', 'typo.yaml'], files: { 'typo.yaml': CONFIG.replace('campaigns:', 'campains:') }, message: 'typo.yaml:1:1: campains: unknown key (misspelt? keys are case-sensitive)' },
  { name: 'a config error with --json: one error line, the JSON document on stdout', args: ['config', 'validate', '--config', 'typo.yaml', '--json'], files: { 'typo.yaml': 'campains: {}\n' }, message: 'campains: unknown key', check: jsonError },

  // ---- global flags ----
  { name: '--region given empty', args: ['cdn', 'status', '--config', 'c.yaml', '--region', ''], files: { 'c.yaml': CONFIG }, message: '--region: empty' },
  { name: '--region that is not a region name', args: ['cdn', 'status', '--config', 'c.yaml', '--region', 'US-EAST-1'], files: { 'c.yaml': CONFIG }, message: '--region: "US-EAST-1" is not an AWS region name' },
  {
    name: '--profile naming a profile that is in neither AWS file (a typo)',
    args: ['cdn', 'status', 'storefront', '--config', 'c.yaml', '--profile', 'prodd', '--region', 'us-east-1'],
    files: { 'c.yaml': CONFIG, '.aws/config': '[profile prod]\nregion = us-east-1\n[default]\nregion = us-east-1\n' },
    env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
    message: /--profile prodd: no such profile in \S+\/\.aws\/config or \S+\/\.aws\/credentials \(they have default, prod\)/,
  },
  { name: 'prescale --campaign constructor (a name every object has)', args: ['prescale', '--campaign', 'constructor', '--dry-run', '--config', 'c.yaml'], files: { 'c.yaml': CONFIG }, message: 'no campaign named "constructor" in the config (it has spring)' },
  { name: 'prescale status --campaign toString', args: ['prescale', 'status', '--campaign', 'toString', '--config', 'c.yaml'], files: { 'c.yaml': CONFIG }, message: 'no campaign named "toString"' },
  { name: 'loadtest --campaign __proto__', args: ['loadtest', '--campaign', '__proto__', '--config', 'c.yaml'], files: { 'c.yaml': CONFIG }, message: 'no campaign named "__proto__"' },
  { name: 'a config naming a campaign __proto__ (it would vanish into the prototype)', args: ['config', 'validate', '--config', 'c.yaml'], files: { 'c.yaml': 'campaigns:\n  __proto__:\n    sendAt: "2030-03-02T09:00:00"\n' }, message: /c\.yaml:2:3: "__proto__" cannot be used as a name/ },
  { name: 'init --config /dev/stdout (would replace what stdout is redirected to, and back it up into /dev)', args: ['init', '--config', '/dev/stdout', '--yes'], message: '/dev/stdout: is under /dev or /proc', untouched: ['/dev/stdout.bak'] },
  { name: '--profile given empty', args: ['doctor', '--config', 'c.yaml', '--profile', ''], files: { 'c.yaml': CONFIG }, message: '--profile: empty' },
  { name: '--endpoint-url that is not a URL', args: ['cdn', 'status', '--config', 'c.yaml', '--endpoint-url', 'localhost:4566'], files: { 'c.yaml': CONFIG }, noEndpoint: true, message: '--endpoint-url: expected an http:// or https:// URL, got "localhost:4566"' },
  { name: '--endpoint-url with a control character', args: ['cdn', 'status', '--config', 'c.yaml', '--endpoint-url', 'ht\x1b[2Jtp'], files: { 'c.yaml': CONFIG }, noEndpoint: true, message: '--endpoint-url: "ht\\x1b[2Jtp" is not a URL' },

  // ---- exit 3: a write without --yes and no TTY writes nothing ----
  {
    name: 'init over a different config without --yes (no TTY): exit 3, nothing replaced, no backup',
    args: ['init'],
    files: { 'retailctl.yaml': 'images: {}\n' },
    code: 3,
    message: 'this command writes and needs confirmation, but there is no terminal to ask',
    untouched: ['retailctl.yaml', 'retailctl.yaml.bak'],
  },

  // ---- prescale ----
  { name: 'prescale: a campaign that is not in the config', args: ['prescale', '--campaign', 'nope', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: 'no campaign named "nope" in the config (it has spring)' },
  { name: 'prescale: --wait that is not a duration', args: ['prescale', '--campaign', 'spring', '--config', 'c.yaml', '--wait', 'soon', '--yes'], files: { 'c.yaml': CONFIG }, message: '--wait: expected a duration like 90s, 15m or 1h30m' },
  { name: 'prescale status without --campaign', args: ['prescale', 'status', '--config', 'c.yaml'], files: { 'c.yaml': CONFIG }, message: '--campaign <name> is required' },
  { name: 'prescale restore: --wait that is not a duration', args: ['prescale', 'restore', '--campaign', 'spring', '--config', 'c.yaml', '--wait', '-5m', '--yes'], files: { 'c.yaml': CONFIG }, message: '--wait: expected a duration' },

  // ---- cdn ----
  { name: 'cdn: a group that is not in the config', args: ['cdn', 'failover', 'nogroup', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: 'no cdn group named "nogroup" in the config (it has storefront)' },
  { name: 'cdn failover --to a side that does not exist', args: ['cdn', 'failover', 'storefront', '--to', 'sideways', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: "argument 'sideways' is invalid. Allowed choices are primary, secondary" },
  { name: 'cdn shift: a weight over 255', args: ['cdn', 'shift', 'storefront', '--weights', 'cloudfront=300,fastly=10', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: "--weights: cloudfront=300 is over Route 53's maximum weight of 255" },
  { name: 'cdn shift: every weight 0', args: ['cdn', 'shift', 'storefront', '--weights', 'cloudfront=0,fastly=0', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: '--weights: all weights are 0' },
  { name: 'cdn failover: --wait that is not a duration', args: ['cdn', 'failover', 'storefront', '--wait', 'forever', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG }, message: '--wait: expected a duration' },
  { name: 'cdn: the audit log is a directory', args: ['cdn', 'failover', 'storefront', '--config', 'c.yaml', '--yes'], files: { 'c.yaml': CONFIG, 'audit.jsonl': { dir: true } }, message: 'cdn.auditLog' },

  // ---- loadtest ----
  { name: 'loadtest without --campaign', args: ['loadtest', '--config', 'c.yaml'], files: { 'c.yaml': CONFIG }, message: "required option '--campaign <name>' not specified" },
  { name: 'loadtest: a campaign that is not in the config', args: ['loadtest', '--campaign', 'nope', '--config', 'c.yaml', '--out', 'spike.js'], files: { 'c.yaml': CONFIG }, message: 'no campaign named "nope"', untouched: ['spike.js'] },
  { name: 'loadtest --out a directory', args: ['loadtest', '--campaign', 'spring', '--config', 'c.yaml', '--out', 'scripts'], files: { 'c.yaml': CONFIG, scripts: { dir: true } }, message: '--out scripts: is a directory, not a file', untouched: ['scripts'] },
  { name: 'loadtest --out a FIFO', args: ['loadtest', '--campaign', 'spring', '--config', 'c.yaml', '--out', 'k6.fifo'], files: { 'c.yaml': CONFIG, 'k6.fifo': { fifo: true } }, message: '--out k6.fifo: is not a regular file (a device, FIFO or socket)', untouched: ['k6.fifo'] },
  { name: 'loadtest --out below a file', args: ['loadtest', '--campaign', 'spring', '--config', 'c.yaml', '--out', 'c.yaml/spike.js'], files: { 'c.yaml': CONFIG }, message: /--out c\.yaml\/spike\.js: .*is not a directory/, untouched: ['c.yaml'] },
  { name: 'loadtest --out a device', args: ['loadtest', '--campaign', 'spring', '--config', 'c.yaml', '--out', '/dev/null'], files: { 'c.yaml': CONFIG }, message: '--out /dev/null: is under /dev or /proc', untouched: ['/dev/null'] },

  // ---- init ----
  { name: 'init --config a directory', args: ['init', '--config', 'conf.yaml', '--yes'], files: { 'conf.yaml': { dir: true } }, message: '--config conf.yaml: is a directory, not a file', untouched: ['conf.yaml', 'conf.yaml.bak'] },
  { name: 'init --config a symlink to a directory', args: ['init', '--config', 'link.yaml', '--yes'], files: { conf: { dir: true }, 'link.yaml': { symlink: 'conf' } }, message: '--config link.yaml: is a directory, not a file', untouched: ['link.yaml.bak'] },
  { name: 'init --config a FIFO', args: ['init', '--config', 'fifo.yaml', '--yes'], files: { 'fifo.yaml': { fifo: true } }, message: '--config fifo.yaml: is not a regular file (a device, FIFO or socket)', untouched: ['fifo.yaml', 'fifo.yaml.bak'] },
  { name: 'init --config a device: no backup copied from it', args: ['init', '--config', '/dev/null', '--yes'], message: '--config /dev/null: is under /dev or /proc', untouched: ['/dev/null.bak'] },
  { name: 'init: the backup path is a directory', args: ['init', '--yes'], files: { 'retailctl.yaml': 'images: {}\n', 'retailctl.yaml.bak': { dir: true } }, message: 'the backup of --config retailctl.yaml.bak: is a directory, not a file', untouched: ['retailctl.yaml'] },
];
