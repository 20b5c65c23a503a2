/**
 * Who the run's credentials are (sts:GetCallerIdentity) and the region they work in: read once per
 * run, whoever asks (the plan file's account binding, apply's check, the cdn audit's caller).
 */
import type { AwsClients } from './context.js';

export interface Identity {
  account: string;
  arn: string;
  region: string;
}

const asked = new WeakMap<AwsClients, Promise<Identity>>();

export function callerIdentity(read: AwsClients, signal: AbortSignal): Promise<Identity> {
  let identity = asked.get(read);
  if (!identity) {
    identity = (async () => {
      const sts = await read.client('sts');
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
      const [who, region] = await Promise.all([sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal }), sts.config.region()]);
      return { account: who.Account ?? 'unknown', arn: who.Arn ?? 'unknown', region };
    })();
    // a failed or interrupted read is not kept: the next caller asks again
    identity.catch(() => asked.delete(read));
    asked.set(read, identity);
  }
  return identity;
}
