/** Flags, commands and config files: the README's exit-code table from the user's side. */
import type { CorpusCase } from './types.js';

export const cases: CorpusCase[] = [
  { name: 'an unknown command', args: ['prescal'], message: /unknown command 'prescal'/ },
  { name: 'an unknown flag', args: ['cdn', 'status', '--colour'], message: /unknown option '--colour'/ },
  { name: 'a config file that does not exist', args: ['config', 'validate', '--config', 'nope.yaml'], message: 'nope.yaml' },
  {
    name: 'a YAML syntax error names file and line',
    args: ['config', 'validate', '--config', 'bad.yaml'],
    files: { 'bad.yaml': 'version: 1\nprescale:\n  campaigns: [\n' },
    message: /bad\.yaml:\d+/,
  },
];
