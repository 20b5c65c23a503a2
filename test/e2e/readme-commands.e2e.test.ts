/**
 * Every command the README shows is run: by this file (the built binary, as the README writes it,
 * against the emulator or the example data), by the demo (which this file runs too), or by CI's own
 * entry point. A command added to the README without a way to run it here fails the first test.
 *
 * "Shown" means a command in a ```console block (`$ …`, with `\` continuations), a line of a ```sh
 * block (split at `&&`), or an inline `npx retailctl …` to copy.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { seedStorefront } from '../support/seed.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const README = await readFile(path.join(ROOT, 'README.md'), 'utf8');

/** The commands the README shows, whitespace normalised, comments dropped. */
function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  let lang: string | undefined;
  let pending = '';
  for (const line of markdown.split('\n')) {
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) {
      lang = lang === undefined ? fence[1]! : undefined;
      continue;
    }
    if (lang === 'console') {
      if (!pending && !line.startsWith('$ ')) continue;
      const text = (pending ? line : line.slice(2)).replace(/\s+#.*$/, '');
      if (text.endsWith('\\')) {
        pending += `${text.slice(0, -1)} `;
        continue;
      }
      commands.push(pending + text);
      pending = '';
    } else if (lang === 'sh') {
      const text = line.replace(/\s+#.*$/, '').trim();
      if (text) commands.push(...text.split('&&'));
    }
  }
  for (const m of markdown.matchAll(/`(npx retailctl [^`]+)`/g)) commands.push(m[1]!);
  return [...new Set(commands.map((c) => c.trim().replace(/\s+/g, ' ')).filter((c) => c && c !== 'echo $?'))];
}

const argv = (command: string) => command.replace(/^(npx )?retailctl /, '').split(' ');
const lines = (text: string) => text.split('\n').map((l) => l.replace(/^\S+Z /, '')).filter(Boolean);
/** The output lines the README shows under `$ command` (up to the next `$`). */
function shownOutput(command: string): string[] {
  const at = README.indexOf(`$ ${command}`);
  const after = README.slice(README.indexOf('\n', at) + 1);
  return after.slice(0, after.search(/^(\$ |```)/m)).split('\n').filter(Boolean);
}

/** How each shown command is run outside this file: the file that runs it and what it must contain. */
const RUN_ELSEWHERE: Record<string, { by: string; evidence: string[] }> = {
  'npm ci': { by: '.ci/run', evidence: ['npm ci'] },
  'npm test': { by: '.ci/run', evidence: ['npm test'] },
  'npm run demo': { by: 'package.json', evidence: ['"demo": "npm run build && tsx scripts/demo.ts"'] },
  'retailctl cdn failover storefront --yes': { by: 'scripts/demo.ts', evidence: ["args: ['cdn', 'failover', 'storefront', '--config', config, '--yes']"] },
  'retailctl cdn failover storefront --plan-out failover.json': { by: 'scripts/demo.ts', evidence: ["args: ['cdn', 'failover', 'storefront', '--config', config, '--plan-out', '.retailctl/demo/failover.json']"] },
  'retailctl plan show failover.json --markdown > comment.md': { by: 'scripts/demo.ts', evidence: ["args: ['plan', 'show', '.retailctl/demo/failover.json', '--markdown']"] },
  'retailctl apply failover.json --yes': { by: 'scripts/demo.ts', evidence: ["args: ['apply', '.retailctl/demo/failover.json', '--config', config, '--yes'], expect: 0", "args: ['apply', '.retailctl/demo/failover.json', '--config', config, '--yes'], expect: 1"] },
  'retailctl prescale --campaign spring-sale-email --schedule --dry-run': { by: 'scripts/demo.ts', evidence: ["args: ['prescale', '--campaign', 'spring-sale-email', '--schedule', '--config', config, '--dry-run']"] },
  'retailctl loadtest --campaign spring-sale-email --dry-run': { by: 'test/e2e/loadtest-k6-stub.e2e.test.ts', evidence: ["const command = 'retailctl loadtest --campaign spring-sale-email --dry-run';"] },
  'retailctl loadtest --campaign spring-sale-email --summary-out summary.json --baseline previous-summary.json --max-regression 10%': { by: 'test/e2e/loadtest-k6-stub.e2e.test.ts', evidence: ["const command = 'retailctl loadtest --campaign spring-sale-email --summary-out summary.json --baseline previous-summary.json --max-regression 10%';"] },
};

/** The commands this file runs itself (each has an `it` below). */
const RUN_HERE = [
  'retailctl doctor --profile shop-prod',
  'retailctl init --config ci/retailctl.yaml --dry-run',
  'retailctl init --config ci/retailctl.yaml',
  'retailctl config validate --config test/fixtures/bad-config.yaml',
  'retailctl images migrate examples/images/media --catalog examples/images/catalog.csv --bucket shop-product-images --prefix catalog --cdn-domain images.shop.example.com --manifest images.csv --redirects redirects.map --yes',
  'retailctl inventory reconcile --config examples/retailctl.yaml',
  'npm run emulator -- --port 4566 --seed',
  'npx retailctl doctor --config examples/retailctl.yaml',
  'retailctl images migrate examples/images/media --catalog examples/images/catalog.csv --bucket shop-product-images --prefix catalog --cdn-domain images.shop.example.com --manifest images.csv --plan-out images-plan.json',
  'retailctl apply images-plan.json --yes',
];

it('every command the README shows is run here, by the demo, or by CI', async () => {
  const shown = readmeCommands(README);
  expect(shown.length).toBeGreaterThan(10);
  const unknown = shown.filter((c) => !RUN_HERE.includes(c) && !(c in RUN_ELSEWHERE));
  expect(unknown, 'README commands nobody runs: add a test (or a demo step) and list it here').toEqual([]);
  // and nothing listed here that the README no longer shows
  expect([...RUN_HERE, ...Object.keys(RUN_ELSEWHERE)].filter((c) => !shown.includes(c))).toEqual([]);
  for (const [command, { by, evidence }] of Object.entries(RUN_ELSEWHERE)) {
    const text = await readFile(path.join(ROOT, by), 'utf8');
    for (const e of evidence) expect(text, `${by} should run \`${command}\``).toContain(e);
  }
});

it('the demo runs every step with the exit code it expects (it runs the cdn and prescale examples)', { timeout: 240_000 }, async () => {
  const r = await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/demo.ts'], { cwd: ROOT, timeoutMs: 230_000 });
  expect(r.code, r.stdout.slice(-3000) + r.stderr.slice(-3000)).toBe(0);
  expect(r.stdout).toContain('Demo finished: every step ended as expected');
});

describe('the README commands, run as written', () => {
  const tmp = () => mkdtemp(path.join(os.tmpdir(), 'retailctl-readme-'));

  it('retailctl doctor --profile shop-prod: an expired SSO session names the profile and the login command (exit 1)', async () => {
    const home = await tmp();
    await mkdir(path.join(home, '.aws', 'sso', 'cache'), { recursive: true });
    await writeFile(path.join(home, '.aws', 'config'), '[profile shop-prod]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = StorefrontOps\nregion = eu-west-1\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n');
    await writeFile(path.join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update('corp').digest('hex')}.json`), JSON.stringify({ accessToken: 'expired', expiresAt: '2020-01-01T00:00:00Z', region: 'eu-west-1', startUrl: 'https://corp.awsapps.com/start' }));
    await symlink(path.join(ROOT, 'examples', 'retailctl.yaml'), path.join(home, 'retailctl.yaml'));
    const r = await spawnCli([...argv(RUN_HERE[0]!), '--endpoint-url', endpoint], { cwd: home, home });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/✗ credentials\s+AWS SSO session expired or missing for profile shop-prod/);
    expect(r.stdout).toContain('→ run `aws sso login --profile shop-prod` and retry');
    expect(r.stdout).toMatch(/✓ region\s+eu-west-1/);
    expect(r.stdout).toContain('1 required check failed');
  });

  it('retailctl init --config ci/retailctl.yaml [--dry-run]: the plan, then exit 3 without --yes, as shown', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'ci'));
    await writeFile(path.join(dir, 'ci', 'retailctl.yaml'), 'images: {}\n');
    const dry = await spawnCli(argv(RUN_HERE[1]!), { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    // a dry run's plan is its result: on stdout, as for every writing command
    expect(lines(dry.stdout)).toEqual(shownOutput(RUN_HERE[1]!));
    const ci = await spawnCli(argv(RUN_HERE[2]!), { cwd: dir });
    expect(ci.code).toBe(3);
    const shown = shownOutput(RUN_HERE[2]!);
    for (const line of shown) expect(lines(ci.stderr)).toContain(line);
    expect(await readFile(path.join(dir, 'ci', 'retailctl.yaml'), 'utf8')).toBe('images: {}\n');
  });

  it('retailctl config validate --config test/fixtures/bad-config.yaml: exit 2 with exactly the lines shown', async () => {
    const r = await spawnCli(argv(RUN_HERE[3]!), { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(shownOutput(RUN_HERE[3]!));
  });

  it('retailctl images migrate examples/images/media … --yes: uploads the examples and writes the manifest and redirects', async () => {
    await control.reset();
    await seedStorefront(endpoint);
    const dir = await tmp();
    await symlink(path.join(ROOT, 'examples'), path.join(dir, 'examples'));
    const r = await spawnCli(argv(RUN_HERE[4]!), { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('wrote images.csv, redirects.map, redirects.json');
    expect(await readFile(path.join(dir, 'images.csv'), 'utf8')).toContain('catalog/skincare/serums/sku-1001/front.jpg');
  });

  it('retailctl images migrate … --plan-out images-plan.json, then retailctl apply images-plan.json --yes: nothing written, then the upload', async () => {
    await control.reset();
    await seedStorefront(endpoint);
    const dir = await tmp();
    await symlink(path.join(ROOT, 'examples'), path.join(dir, 'examples'));
    await control.clearRequests();
    const planned = await spawnCli(argv(RUN_HERE[8]!), { cwd: dir, env });
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout + planned.stderr).toMatch(/plan written to images-plan\.json: images\.migrate, 6 write calls, .*nothing was changed/);
    expect((await control.requests()).filter((r) => r.service === 's3' && r.method === 'PUT')).toEqual([]);
    const applied = await spawnCli(argv(RUN_HERE[9]!), { cwd: dir, env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout + applied.stderr).toContain('6 uploaded');
    expect(await readFile(path.join(dir, 'images.csv'), 'utf8')).toContain('catalog/skincare/serums/sku-1001/front.jpg');
  });

  it('retailctl inventory reconcile --config examples/retailctl.yaml: exit 5, the oversell named', async () => {
    const r = await spawnCli(argv(RUN_HERE[5]!), { cwd: ROOT });
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toMatch(/^oversell\s+1\s+0\s+0\s+7/m);
    expect(r.stdout + r.stderr).toContain('failing: oversell (inventory.failOn)');
  });

  it('npm run emulator -- --port … --seed, then npx retailctl doctor --config examples/retailctl.yaml against it', { timeout: 120_000 }, async () => {
    const emulator = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/emulator.ts', '--port', '0', '--seed'], { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        emulator.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('npx retailctl doctor --config examples/retailctl.yaml')) resolve();
        });
        emulator.on('exit', (code) => reject(new Error(`the emulator exited (${code}) before printing its environment`)));
      });
      const exported = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(exported.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await spawnCli(argv(RUN_HERE[7]!), { cwd: ROOT, env: exported });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/✓ credentials/);
    } finally {
      emulator.kill('SIGINT');
      await new Promise((r) => emulator.once('close', r));
    }
  });
});

function run(cmd: string, args: string[], options: { cwd: string; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
