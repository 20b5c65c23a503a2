import { AwsContext, type AwsSettings } from '../../src/lib/aws/context.js';
import type { RunSignals } from '../../src/lib/interrupt.js';

/** An AWS context pointed at the emulator, as a command would get it. */
export function emulatorContext(endpoint: string, options: { dryRun?: boolean; maxAttempts?: number; signals?: RunSignals } = {}): AwsContext {
  const settings: AwsSettings = {
    region: 'us-east-1',
    endpointUrl: endpoint,
    maxAttempts: options.maxAttempts ?? 3,
    userAgent: 'retailctl/0.0.0-test',
    env: {},
  };
  if (options.signals) settings.signals = options.signals;
  return new AwsContext(settings, options.dryRun ?? false);
}
