/** Which feature applies which plan kind (loaded on demand, so `apply` pulls in only the feature it needs). */
import { ExitCode, RetailctlError } from '../errors.js';
import type { PlanKind } from './document.js';
import type { KindHandler } from './handler.js';

export async function handlerFor(kind: PlanKind): Promise<KindHandler<unknown>> {
  switch (kind) {
    case 'cdn.failover':
    case 'cdn.failback':
    case 'cdn.shift':
      return (await import('../cdn/kind.js')).cdnKind as KindHandler<unknown>;
    case 'prescale.schedule':
    case 'prescale.raise':
      return (await import('../prescale/kind.js')).prescaleKind as KindHandler<unknown>;
    case 'prescale.restore':
      return (await import('../prescale/kind.js')).restoreKind as KindHandler<unknown>;
    case 'images.migrate':
      return (await import('../images/kind.js')).migrateKind as KindHandler<unknown>;
    case 'inventory.publish':
      return (await import('../inventory/kind.js')).inventoryPublishKind as KindHandler<unknown>;
    case 'init':
      return (await import('../init/kind.js')).initKind as KindHandler<unknown>;
    default:
      throw new RetailctlError('PLAN_KIND_UNSUPPORTED', `plan kind ${kind} cannot be applied from a file by this retailctl`, { exitCode: ExitCode.Usage, hint: 'run the command directly' });
  }
}
