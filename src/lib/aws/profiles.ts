/**
 * The profile names in the shared AWS config and credentials files, to tell "no such profile" (a
 * typo in --profile or AWS_PROFILE: exit 2) from a profile that exists but gives no credentials.
 * Only section headers are read: `[profile name]` / `[default]` in the config file, `[name]` in the
 * credentials file (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE are honoured).
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ProfileFiles {
  configFile: string;
  credentialsFile: string;
  names: Set<string>;
}

async function sections(file: string, config: boolean): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*\[\s*([^\]]+?)\s*\]\s*$/gm)) {
    const header = m[1]!;
    if (!config) out.push(header);
    else if (header === 'default') out.push(header);
    else if (/^profile\s+/.test(header)) out.push(header.replace(/^profile\s+/, ''));
  }
  return out;
}

export async function knownProfiles(env: NodeJS.ProcessEnv): Promise<ProfileFiles> {
  const home = env.HOME ?? os.homedir();
  const configFile = env.AWS_CONFIG_FILE ?? path.join(home, '.aws', 'config');
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, '.aws', 'credentials');
  const names = new Set([...(await sections(configFile, true)), ...(await sections(credentialsFile, false))]);
  return { configFile, credentialsFile, names };
}
