/**
 * npm run emulator -- [--port 4566] [--seed]
 *
 * Start the local AWS emulator that the tests use (moto server + the shim for what moto lacks)
 * on 127.0.0.1 in the foreground, print the endpoint and the environment to export, and wait
 * for Ctrl-C. With --seed, create the example storefront that examples/retailctl.yaml describes.
 */
import { parseArgs } from 'node:util';
import { startEmulator } from '../test/support/emulator.js';
import { seedStorefront } from '../test/support/seed.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({ options: { port: { type: 'string', default: '4566' }, seed: { type: 'boolean', default: false } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`error: --port: expected a port number, got "${values.port}"`);
  process.exit(2);
}

const emulator = await startEmulator({ port, log: (line) => console.error(line) });
console.error(`AWS emulator (moto ${emulator.motoVersion} behind the retailctl shim) listening on ${emulator.endpoint}`);
if (values.seed) {
  const seeded = await seedStorefront(emulator.endpoint);
  console.error(`seeded the example storefront: zone ${seeded.zoneId} (${seeded.record}), distribution ${seeded.distributionId}, buckets ${seeded.imageBucket} and ${seeded.exportsBucket}`);
}
console.log(`
# In another shell:
${Object.entries(emulator.env)
  .map(([k, v]) => `export ${k}=${v}`)
  .join('\n')}
npx retailctl doctor --config examples/retailctl.yaml

# Ctrl-C here stops the emulator (all state is in memory).`);

const stop = async () => {
  await emulator.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
