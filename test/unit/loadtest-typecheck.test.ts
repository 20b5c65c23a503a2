/**
 * Every k6 script retailctl generates is type-checked against k6's own API (@types/k6), without k6:
 * the scripts of representative campaigns are written to a temporary directory and compiled with
 * the TypeScript compiler (checkJs). The options carry `import('k6/options').Options` as a JSDoc
 * type, so an option k6 does not have, a misspelt executor field or a wrong type fails here; so
 * does a call to a k6 module function that does not exist.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/lib/config/load.js';
import type { Campaign } from '../../src/lib/config/schema.js';
import { k6Script, loadProfile } from '../../src/lib/loadtest/script.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const K6_TYPES = path.join(ROOT, 'node_modules', '@types', 'k6');

/** The TypeScript diagnostics of these scripts (name → source), checked against @types/k6. */
async function k6Diagnostics(scripts: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-k6-types-'));
  const files: string[] = [];
  for (const [name, source] of Object.entries(scripts)) {
    const file = path.join(dir, `${name}.js`);
    await writeFile(file, source);
    files.push(file);
  }
  // global.d.ts declares __ENV, __VU and friends: no import reaches it
  const program = ts.createProgram([...files, path.join(K6_TYPES, 'global.d.ts')], {
    allowJs: true,
    checkJs: true,
    noEmit: true,
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    // k6's modules (k6, k6/http, k6/options, …) and globals (__ENV, __VU) from @types/k6 only: no DOM, no Node
    lib: ['lib.es2022.d.ts'],
    types: [],
    paths: { k6: [path.join(K6_TYPES, 'index.d.ts')], 'k6/*': [path.join(K6_TYPES, '*')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

const loadtestOf = (yaml: string, name: string) => parseConfigText(yaml, 'retailctl.yaml').campaigns![name]!.loadtest!;
const CAMPAIGN = (loadtest: string) => `campaigns:\n  c:\n    sendAt: "2030-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [{ ecs: shop/web, min: 1 }]\n    loadtest: ${loadtest}\n`;

/** Representative campaigns: the example config's, the least a config may say, the most, and a hostile URL. */
const CAMPAIGNS: Record<string, NonNullable<Campaign['loadtest']>> = {
  example: parseConfigText(readFileSync(path.join(ROOT, 'examples', 'retailctl.yaml'), 'utf8'), 'examples/retailctl.yaml').campaigns!['spring-sale-email']!.loadtest!,
  bare: loadtestOf(CAMPAIGN('{ url: "https://shop.example.com/", baselineRps: 1 }'), 'c'),
  full: loadtestOf(CAMPAIGN('{ url: "https://shop.example.com/cart", baselineRps: 250.5, multiplier: 40, rampUp: 30s, hold: 1h, expectedP95Ms: 320, thresholds: { p95Ms: 800, errorRate: 0 } }'), 'c'),
  hostile: loadtestOf(CAMPAIGN(`{ url: "https://shop.example.com/x?q=\\"); import evil from 'k6/evil'; //\`\${1}", baselineRps: 5, thresholds: { errorRate: 0.5 } }`), 'c'),
};

describe('generated k6 scripts type-check against @types/k6', () => {
  it('the scripts of representative campaigns use only options and APIs k6 has', { timeout: 60_000 }, async () => {
    const scripts = Object.fromEntries(Object.entries(CAMPAIGNS).map(([name, lt]) => [name, k6Script(loadProfile(lt), name)]));
    expect(Object.keys(scripts)).toHaveLength(4);
    expect(await k6Diagnostics(scripts)).toEqual([]);
  });

  it('and the check would catch an option, executor field or API k6 does not have', { timeout: 60_000 }, async () => {
    const script = k6Script(loadProfile(CAMPAIGNS.example!), 'example');
    const broken = {
      option: script.replace('"discardResponseBodies": true', '"discardResponseBody": true'),
      field: script.replace('"maxVUs"', '"maxVus"'),
      executor: script.replace('"ramping-arrival-rate"', '"ramping-arrival"'),
      abort: script.replace('"abortOnFail": true', '"abortOnFail": "yes"'),
      api: script.replace('http.get(TARGET', 'http.fetch(TARGET'),
    };
    for (const [name, source] of Object.entries(broken)) expect(source, name).not.toBe(script);
    const found = await k6Diagnostics(broken);
    for (const name of Object.keys(broken)) expect(found.filter((d) => d.startsWith(`${name}.js:`)), `${name}: ${found.join('\n')}`).not.toEqual([]);
  });
});
