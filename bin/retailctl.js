#!/usr/bin/env node
// Node 22.1+ caches compiled code on disk (a no-op on Node 20): faster `retailctl --help`.
(await import('node:module')).enableCompileCache?.();
const { run } = await import('../dist/cli.js');
process.exitCode = await run(process.argv.slice(2));
