/**
 * npm run build: bundle src/ into dist/ with esbuild.
 *
 * Why a bundle: `retailctl --help` must start within ~25 ms of bare `node`. Loading commander and
 * our shell as one ES module instead of ~15 files (plus commander's CommonJS interop) saves ~8 ms.
 * Everything a command needs beyond that (the AWS SDK, zod, yaml, ora, inquirer) stays external in
 * node_modules and is imported lazily by the command that needs it; esbuild keeps those dynamic
 * imports as separate chunks. Type checking is `npm run typecheck` (tsc), not this step.
 */
import { rm } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';

/** Bundle only commander (needed for every start); every other package stays in node_modules. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path === 'commander' || args.path.startsWith('commander/') ? undefined : { path: args.path, external: true }));
  },
};

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  plugins: [externalPackages],
  // commander is CommonJS: give its require() calls a real require inside the ES module bundle
  banner: { js: "import { createRequire as __retailctlRequire } from 'node:module'; const require = __retailctlRequire(import.meta.url);" },
  minify: true,
  keepNames: true,
  logLevel: 'warning',
});
