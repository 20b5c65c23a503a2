import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, MAX_CONFIG_BYTES, parseConfigText } from '../../src/lib/config/load.js';
import { ExitCode, RetailctlError } from '../../src/lib/errors.js';

function problemsOf(text: string, file = 'retailctl.yaml'): string[] {
  try {
    parseConfigText(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(RetailctlError);
    const e = err as RetailctlError;
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.code).toBe('CONFIG_INVALID');
    return e.details.length ? e.details : [e.message];
  }
  throw new Error('expected the config to be rejected');
}

const GOOD_CAMPAIGN = `campaigns:
  spring-sale:
    sendAt: "2027-03-02T09:00:00"
    timezone: America/New_York
    duration: 3h
    targets:
      - lambda: checkout-api:live
        provisioned: 300
      - ecs: storefront/web
        min: 40
`;

describe('config validation', () => {
  it('accepts the shipped example, with every section, and normalises durations and targets', async () => {
    const example = await readFile(new URL('../../examples/retailctl.yaml', import.meta.url), 'utf8');
    const config = parseConfigText(example, 'examples/retailctl.yaml');
    const campaign = config.campaigns!['spring-sale-email']!;
    expect(campaign.leadTime).toBe(20 * 60_000);
    expect(campaign.duration).toBe(3 * 3_600_000);
    expect(campaign.targets.map((t) => t.kind)).toEqual(['lambda', 'lambda', 'ecs', 'dynamodb']);
    expect(config.images?.bucket).toBe('shop-product-images');
    expect(config.images).toMatchObject({ giveUpAfter: 30_000, lockExpiry: 120_000 });
    expect(config.cdn?.storefront).toMatchObject({ routing: 'weighted', primary: { setIdentifier: 'cloudfront' } });
    expect(config.inventory?.failOn).toEqual(['oversell']);
  });

  it('accepts JSON as well as YAML', () => {
    const config = parseConfigText(JSON.stringify({ images: { bucket: 'my-images' } }), 'retailctl.json');
    expect(config.images?.bucket).toBe('my-images');
    expect(config.images?.sse).toBe('AES256');
  });

  it('images.giveUpAfter is a duration or 0 (never); images.lockExpiry a duration of at least 1s', () => {
    expect(parseConfigText('images: { giveUpAfter: 0 }', 'retailctl.yaml').images?.giveUpAfter).toBe(0);
    expect(parseConfigText('images: { giveUpAfter: 90s, lockExpiry: 5m }', 'retailctl.yaml').images).toMatchObject({ giveUpAfter: 90_000, lockExpiry: 300_000 });
    expect(problemsOf('images:\n  lockExpiry: 500ms\n').join('\n')).toContain('images.lockExpiry: at least 1s');
    expect(problemsOf('images:\n  lockExpiry: 1000d\n').join('\n')).toContain('images.lockExpiry: at most 1h');
    expect(problemsOf('images:\n  giveUpAfter: soon\n').join('\n')).toContain('images.giveUpAfter');
  });

  it('treats an empty file as an empty config', () => {
    expect(parseConfigText('', 'retailctl.yaml')).toEqual({});
  });

  it('names file, line, column, the path inside the file and what is expected', () => {
    const text = GOOD_CAMPAIGN.replace('provisioned: 300', 'provisioned: lots');
    expect(problemsOf(text)).toEqual([
      'retailctl.yaml:8:9: campaigns.spring-sale.targets[0].provisioned: expected a number, got "lots"',
    ]);
  });

  it('reports one line per problem, including unknown (misspelt) keys and missing ones', () => {
    const text = GOOD_CAMPAIGN.replace('duration: 3h', 'duraton: 3h').replace('timezone: America/New_York', 'timezone: Mars/Olympus');
    const problems = problemsOf(text);
    expect(problems).toHaveLength(3);
    expect(problems).toContain('retailctl.yaml:4:5: campaigns.spring-sale.timezone: expected an IANA time zone like America/New_York or Europe/Berlin, got "Mars/Olympus"');
    expect(problems).toContain('retailctl.yaml:2:3: campaigns.spring-sale.duration: missing: expected a string');
    expect(problems).toContain('retailctl.yaml:5:5: campaigns.spring-sale.duraton: unknown key (misspelt? keys are case-sensitive)');
  });

  it('checks capacity targets by kind', () => {
    const text = GOOD_CAMPAIGN.replace('lambda: checkout-api:live', 'lambda: checkout-api:$LATEST').replace('ecs: storefront/web', 'ecs: web');
    const problems = problemsOf(text);
    expect(problems).toContain('retailctl.yaml:7:9: campaigns.spring-sale.targets[0].lambda: provisioned concurrency cannot be set on $LATEST: use an alias or a version');
    expect(problems).toContain('retailctl.yaml:9:9: campaigns.spring-sale.targets[1].ecs: expected cluster/service, e.g. storefront/web');
    expect(problemsOf(GOOD_CAMPAIGN.replace('ecs: storefront/web', 'ec2: storefront/web'))).toEqual([
      'retailctl.yaml:9:9: campaigns.spring-sale.targets[1]: expected a target with one of the keys `lambda`, `ecs` or `dynamodb`',
    ]);
  });

  it('rejects bad durations, enums and unknown sections', () => {
    expect(problemsOf(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: three hours'))).toEqual([
      'retailctl.yaml:5:5: campaigns.spring-sale.duration: expected a duration like 90s, 20m, 3h or 1h30m, got "three hours"',
    ]);
    expect(problemsOf('images:\n  bucket: imgs\n  sse: aes\n')).toEqual(['retailctl.yaml:3:3: images.sse: expected one of "AES256", "aws:kms", got "aes"']);
    expect(problemsOf('imagez: {}\n')).toEqual(['retailctl.yaml:1:1: imagez: unknown key (misspelt? keys are case-sensitive)']);
  });

  it('refuses campaign timings that cannot work: a 0s or over-14-day window, a misspelt zone name, a sendAt the clocks skip', () => {
    expect(problemsOf(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: 0s'))).toEqual([
      'retailctl.yaml:5:5: campaigns.spring-sale.duration: a campaign window must last at least 1m, got 0s: the capacity would go up and straight back down',
    ]);
    expect(problemsOf(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: 15d'))).toEqual([
      "retailctl.yaml:5:5: campaigns.spring-sale.duration: 15d is longer than the 14d a campaign may hold raised capacity: raise the service's normal capacity instead, or split the campaign",
    ]);
    expect(parseConfigText(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: 14d'), 'r.yaml').campaigns!['spring-sale']!.duration).toBe(14 * 86_400_000);
    // Intl accepts any case; AWS and other tools do not, and the config should say exactly what it means
    expect(problemsOf(GOOD_CAMPAIGN.replace('timezone: America/New_York', 'timezone: america/new_york'))).toEqual([
      'retailctl.yaml:4:5: campaigns.spring-sale.timezone: "america/new_york" is not spelt as the IANA time zone database spells it: did you mean America/New_York?',
    ]);
    expect(problemsOf(GOOD_CAMPAIGN.replace('timezone: America/New_York', 'timezone: utc'))).toEqual([
      'retailctl.yaml:4:5: campaigns.spring-sale.timezone: "utc" is not spelt as the IANA time zone database spells it: did you mean UTC?',
    ]);
    for (const zone of ['UTC', 'Europe/London', 'US/Eastern', 'Asia/Kolkata']) {
      expect(parseConfigText(GOOD_CAMPAIGN.replace('timezone: America/New_York', `timezone: ${zone}`), 'r.yaml').campaigns!['spring-sale']!.timezone).toBe(zone);
    }
    // 02:30 never happens in New York on 2027-03-14 (02:00 EST is followed by 03:00 EDT)
    expect(problemsOf(GOOD_CAMPAIGN.replace('2027-03-02T09:00:00', '2027-03-14T02:30:00'))).toEqual([
      'retailctl.yaml:3:5: campaigns.spring-sale.sendAt: 2027-03-14T02:30:00 does not exist in America/New_York: the clocks skip that hour that night (daylight-saving change); pick a time outside it',
    ]);
  });

  it('refuses a window under a minute, a date or time of day that does not exist, an all-capitals zone link, and action names over 256 characters', () => {
    expect(problemsOf(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: 500ms'))).toEqual([
      'retailctl.yaml:5:5: campaigns.spring-sale.duration: a campaign window must last at least 1m, got 500ms: the capacity would go up and straight back down',
    ]);
    expect(parseConfigText(GOOD_CAMPAIGN.replace('duration: 3h', 'duration: 1m'), 'r.yaml').campaigns!['spring-sale']!.duration).toBe(60_000);
    expect(problemsOf(GOOD_CAMPAIGN.replace('2027-03-02T09:00:00', '2027-02-30T09:00:00'))).toEqual([
      'retailctl.yaml:3:5: campaigns.spring-sale.sendAt: 2027-02-30T09:00:00 is not a date (2027-02-30 does not exist in the calendar)',
    ]);
    expect(problemsOf(GOOD_CAMPAIGN.replace('2027-03-02T09:00:00', '2027-03-02T24:00:00'))).toEqual([
      "retailctl.yaml:3:5: campaigns.spring-sale.sendAt: 2027-03-02T24:00:00 is not a time of day: hours go from 00 to 23 (write the next day's 00:00 for midnight)",
    ]);
    expect(problemsOf(GOOD_CAMPAIGN.replace('timezone: America/New_York', 'timezone: US/EASTERN'))).toEqual([
      'retailctl.yaml:4:5: campaigns.spring-sale.timezone: "US/EASTERN" is not spelt as the IANA time zone database spells it: did you mean US/Eastern?',
    ]);
    const long = 'x'.repeat(240);
    const [problem] = problemsOf(GOOD_CAMPAIGN.replace('spring-sale:', `${long}:`));
    expect(problem).toContain(`retailctl.yaml:7:9: campaigns.${long}.targets`);
    expect(problem).toMatch(/the scheduled action names for campaign x+ and lambda checkout-api:live would be 274 characters .*Application Auto Scaling allows 256: shorten the campaign name$/);
  });

  it('reports YAML syntax errors with their position', () => {
    const [problem] = problemsOf('campaigns:\n  a: [1, 2\n');
    expect(problem).toMatch(/^retailctl\.yaml:\d+:\d+: syntax error: /);
  });

  it('cdn groups sit beside the reserved audit keys', () => {
    const config = parseConfigText(
      'cdn:\n  auditBucket: audit-bucket\n  storefront:\n    zoneId: Z1\n    record: [www.example.com, example.com]\n    routing: failover\n    primary: { setIdentifier: cf }\n    secondary: { setIdentifier: fastly }\n',
      'r.yaml',
    );
    expect(config.cdn?.auditBucket).toBe('audit-bucket');
    expect(config.cdn?.storefront).toMatchObject({ type: 'CNAME', record: ['www.example.com', 'example.com'] });
    expect(problemsOf('cdn:\n  storefront:\n    zoneId: Z1\n    record: www\n    routing: geo\n    primary: { setIdentifier: cf }\n    secondary: { setIdentifier: f }\n')).toEqual([
      'retailctl.yaml:5:5: cdn.storefront.routing: expected one of "weighted", "failover", "latency", got "geo"',
    ]);
  });

  it('refuses cdn groups whose sides are the same record set, a record listed twice, and a record in two groups', () => {
    const group = (name: string, record: string, primary: string, secondary: string) =>
      `  ${name}:\n    zoneId: Z1\n    record: ${record}\n    routing: weighted\n    primary: { setIdentifier: ${primary} }\n    secondary: { setIdentifier: ${secondary} }\n`;
    expect(problemsOf(`cdn:\n${group('storefront', 'www.example.com', 'cf', 'cf')}`)).toEqual([
      'retailctl.yaml:7:18: cdn.storefront.secondary.setIdentifier: "cf" is also the primary\'s set identifier for record "www.example.com": the two sides must be different record sets',
    ]);
    expect(problemsOf(`cdn:\n${group('storefront', '[www.example.com, WWW.example.com.]', 'cf', 'fa')}`)).toEqual([
      'retailctl.yaml:4:31: cdn.storefront.record[1]: record "WWW.example.com." is listed twice in this group',
    ]);
    expect(problemsOf(`cdn:\n${group('storefront', 'www.example.com', 'cf', 'fa')}${group('campaign', 'www.example.com.', 'cf2', 'fa2')}`)).toEqual([
      'retailctl.yaml:10:5: cdn.campaign.record: record "www.example.com." (CNAME) is also in cdn group "storefront": a record may belong to one group only',
    ]);
    // the same zone written with and without the /hostedzone/ prefix is the same zone
    const zoned = `cdn:\n${group('storefront', 'www.example.com', 'cf', 'fa')}${group('campaign', 'WWW.example.com.', 'cf2', 'fa2').replace('zoneId: Z1', 'zoneId: /hostedzone/Z1')}`;
    expect(problemsOf(zoned)[0]).toContain('is also in cdn group "storefront"');
    // a map of identifiers: same check per record, and every record needs an entry
    expect(
      problemsOf('cdn:\n  storefront:\n    zoneId: Z1\n    record: [www.example.com, example.com]\n    routing: weighted\n    primary: { setIdentifier: { www.example.com: cf-www, example.com: cf-apex } }\n    secondary: { setIdentifier: { www.example.com: cf-www } }\n'),
    ).toEqual([
      'retailctl.yaml:7:18: cdn.storefront.secondary.setIdentifier: "cf-www" is also the primary\'s set identifier for record "www.example.com": the two sides must be different record sets',
      'retailctl.yaml:7:18: cdn.storefront.secondary.setIdentifier: no set identifier for record "example.com": add "example.com: <id>" to the map',
    ]);
  });

  it('a missing file is a usage error that says how to create one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-config-'));
    await expect(loadConfig('nope.yaml', dir)).rejects.toMatchObject({ code: 'CONFIG_NOT_FOUND', exitCode: 2, message: 'config file nope.yaml not found' });
    await writeFile(path.join(dir, 'ok.yaml'), 'inventory:\n  sources:\n    wms: { path: exports/wms.csv, role: warehouse, columns: { sku: item } }\n');
    const loaded = await loadConfig('ok.yaml', dir);
    expect(loaded.resolve('exports/wms.csv')).toBe(path.join(dir, 'exports/wms.csv'));
    expect(loaded.config.inventory?.safetyStock).toBe(0);
  });
});

describe('config sendAt: only dates and times that exist, without an offset', () => {
  it.each([
    ['2026-13-01T09:00:00', '2026-13-01T09:00:00 is not a date (2026-13-01 does not exist in the calendar)'],
    ['2027-02-29T09:00:00', '2027-02-29T09:00:00 is not a date (2027-02-29 does not exist in the calendar)'],
    ['2027-04-31T09:00', '2027-04-31T09:00 is not a date (2027-04-31 does not exist in the calendar)'],
    ['2027-03-02T09:60:00', '2027-03-02T09:60:00 is not a time of day: minutes and seconds go from 00 to 59'],
    ['2027-03-02T09:00:60', '2027-03-02T09:00:60 is not a time of day: minutes and seconds go from 00 to 59'],
    ['2027-03-02T09:00:00Z', 'expected a local date and time like 2027-03-02T09:00:00 (no offset: `timezone` says where)'],
    ['2027-03-02T09:00:00+01:00', 'expected a local date and time like 2027-03-02T09:00:00 (no offset: `timezone` says where)'],
    ['2027-03-02', 'expected a local date and time like 2027-03-02T09:00:00 (no offset: `timezone` says where)'],
  ])('%s is refused with file:line', (sendAt, message) => {
    expect(problemsOf(GOOD_CAMPAIGN.replace('2027-03-02T09:00:00', sendAt))).toEqual([`retailctl.yaml:3:5: campaigns.spring-sale.sendAt: ${message}`]);
  });

  it('an unquoted sendAt is read as the same text, and a leap day that exists is accepted', () => {
    expect(problemsOf(GOOD_CAMPAIGN.replace('"2027-03-02T09:00:00"', '2027-02-30T09:00:00'))).toEqual([
      'retailctl.yaml:3:5: campaigns.spring-sale.sendAt: 2027-02-30T09:00:00 is not a date (2027-02-30 does not exist in the calendar)',
    ]);
    expect(parseConfigText(GOOD_CAMPAIGN.replace('2027-03-02T09:00:00', '2028-02-29T09:00'), 'r.yaml').campaigns!['spring-sale']!.sendAt).toBe('2028-02-29T09:00');
  });
});

describe('config files that are not a config', () => {
  const load = async (name: string, content?: string | Buffer) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-config-file-'));
    if (content !== undefined) await writeFile(path.join(dir, name), content);
    return loadConfig(name, dir).then(
      () => expect.unreachable('expected the config to be refused'),
      (err: unknown) => {
        expect(err).toBeInstanceOf(RetailctlError);
        expect((err as RetailctlError).exitCode).toBe(ExitCode.Usage);
        return err as RetailctlError;
      },
    );
  };

  it('a YAML alias bomb ("billion laughs") is exit 2 naming the first alias, not an unexpected error', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
      const prev = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const err = await load('bomb.yaml', `${levels.join('\n')}\n`);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/^bomb\.yaml:2:8: aliases \(\*name\) expand this document to more than 10,000 values/);
  });

  it('a few aliases in a real config still work', () => {
    const config = parseConfigText(`campaigns:\n  a:\n    sendAt: "2027-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [&web { ecs: storefront/web, min: 40 }]\n  b:\n    sendAt: "2027-03-03T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [*web]\n`, 'r.yaml');
    expect(config.campaigns?.b?.targets).toEqual([{ kind: 'ecs', ecs: 'storefront/web', min: 40 }]);
  });

  it('a duplicate key is a syntax error with its line, and an unknown or misspelt key names itself', async () => {
    expect(problemsOf('campaigns: {}\nimages: {}\ncampaigns: {}\n')).toEqual(['retailctl.yaml:3:1: syntax error: Map keys must be unique (the file must be YAML or JSON)']);
    expect(problemsOf('campains: {}\n')).toEqual(['retailctl.yaml:1:1: campains: unknown key (misspelt? keys are case-sensitive)']);
  });

  it('an empty file (0 bytes or only blanks) is refused; `{}` is a config with no sections', async () => {
    expect((await load('empty.yaml', '')).message).toBe('config file empty.yaml is empty');
    expect((await load('blank.yaml', '\n  \n')).message).toBe('config file blank.yaml is empty');
    expect(parseConfigText('{}\n', 'r.yaml')).toEqual({});
  });

  it('a directory, a FIFO and a device are refused at once (nothing blocks), naming the path', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-config-special-'));
    await mkdir(path.join(dir, 'conf.yaml'));
    await expect(loadConfig('conf.yaml', dir)).rejects.toMatchObject({ exitCode: 2, message: 'config path conf.yaml is a directory, not a file' });
    expect(spawnSync('mkfifo', [path.join(dir, 'fifo.yaml')]).status).toBe(0);
    await expect(loadConfig('fifo.yaml', dir)).rejects.toMatchObject({ exitCode: 2, message: 'config path fifo.yaml is not a regular file (a FIFO, device or socket)' });
    await expect(loadConfig('/dev/zero', dir)).rejects.toMatchObject({ exitCode: 2, message: 'config path /dev/zero is not a regular file (a FIFO, device or socket)' });
    await writeFile(path.join(dir, 'file'), 'x');
    await expect(loadConfig('file/retailctl.yaml', dir)).rejects.toMatchObject({ exitCode: 2, code: 'CONFIG_NOT_FOUND' });
  });

  it('a binary file is refused naming the first byte that is not text; its bytes are never echoed', async () => {
    const err = await load('logo.yaml', Buffer.concat([Buffer.from('images:\n  bucket: x\n'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x1b, 0x5b, 0x32, 0x4a])]));
    expect(err.code).toBe('CONFIG_NOT_TEXT');
    expect(err.message).toBe('logo.yaml:3:1: not a text file (bytes that are not UTF-8 at byte 20): the config must be YAML or JSON in UTF-8');
    const nul = await load('nul.yaml', 'a: 1\nb: \u0000\n');
    expect(nul.message).toBe('nul.yaml:2:4: not a text file (a NUL byte at byte 8): the config must be YAML or JSON in UTF-8');
  });

  it('a very large file is refused by its size, before it is read', async () => {
    const err = await load('big.yaml', Buffer.alloc(MAX_CONFIG_BYTES + 1, 'a'));
    expect(err.code).toBe('CONFIG_TOO_LARGE');
    expect(err.message).toBe('config file big.yaml is 4 MiB: a config file is at most 4 MiB');
  });

  it('control characters in a value quoted back are shown escaped', () => {
    expect(problemsOf('images:\n  sse: "\\u001b]0;pwned\\u0007"\n')[0]).toContain('\\x1b]0;pwned\\x07');
  });
});
