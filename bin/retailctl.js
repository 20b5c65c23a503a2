#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): no ES module loader to boot for `retailctl --help`.
'use strict';
require('node:module').enableCompileCache?.(); // Node 22.1+: cache compiled code on disk
require('../dist/cli.cjs').run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
