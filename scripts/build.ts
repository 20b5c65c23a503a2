/**
 * npm run build: bundle src/ into dist/cli.cjs with esbuild.
 *
 * `retailctl --help` must start within ~25 ms of a bare `node -e 0` (npm run bench). Two choices
 * get it there, both measured on the 2-core CI machines:
 * - one bundle with commander inlined, instead of ~15 modules plus commander's interop: ~8 ms less;
 * - CommonJS output, started from a CommonJS bin: Node then never boots its ES module loader for
 *   `--help`, another ~8 ms. The source stays ES modules (package.json "type": "module").
 * Every other package (AWS SDK, zod, yaml, ora, inquirer) stays external in node_modules and is
 * loaded only when a command reaches code that needs it: esbuild wraps each lazily imported module
 * in an initialiser, so its require() calls run on first use, not at start-up.
 * Type checking is `npm run typecheck` (tsc), not this step.
 */
import { rm } from 'node:fs/promises';
import { build, type BuildOptions, type Plugin } from 'esbuild';

/** Bundle only commander (needed for every start); every other package stays in node_modules. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path === 'commander' || args.path.startsWith('commander/') ? undefined : { path: args.path, external: true }));
  },
};

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
const common: BuildOptions = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: true,
  plugins: [externalPackages],
  // the source is ESM and uses import.meta.url; give the CommonJS bundle the same value
  define: { 'import.meta.url': '__retailctlModuleUrl' },
  banner: { js: "const __retailctlModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};
// the inventory engine's threads run their own small bundle, beside the CLI's
await build({ ...common, entryPoints: ['src/lib/inventory/worker.ts'], outfile: 'dist/inventory-worker.cjs' });
await build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.cjs' });
