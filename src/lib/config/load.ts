import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ExitCode, RetailctlError } from '../errors.js';
import { configSchema, type RetailctlConfig } from './schema.js';

/** A validated config and where it came from. */
export interface LoadedConfig {
  /** Path as the user gave it (or the default), for messages. */
  file: string;
  /** Absolute path. */
  absolutePath: string;
  config: RetailctlConfig;
  /** Resolve a path written in the config relative to the config file's directory. */
  resolve(relative: string): string;
  /**
   * Where a key is written (`retailctl.yaml:12:7`), for problems found after loading (e.g. a time
   * that has passed); `found` is false when the key is absent and the location is its nearest parent.
   */
  locate(segments: readonly (string | number)[]): { location: string; found: boolean };
}

/** One problem found in a config file, already located. */
export interface ConfigProblem {
  /** `retailctl.yaml:12:7` */
  location: string;
  /** `campaigns.spring-sale.targets[1].provisioned` */
  path: string;
  message: string;
}

const NOT_FOUND_HINT = 'create one with `retailctl init`, or pass --config <file> (or set RETAILCTL_CONFIG)';

/** Read, parse (YAML or JSON) and validate a retailctl config file. Errors exit 2 with one line per problem. */
export async function loadConfig(file: string, cwd: string = process.cwd()): Promise<LoadedConfig> {
  const absolutePath = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolutePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RetailctlError('CONFIG_NOT_FOUND', `config file ${file} not found`, { exitCode: ExitCode.Usage, hint: NOT_FOUND_HINT });
    if (code === 'EISDIR') throw new RetailctlError('CONFIG_NOT_FOUND', `config path ${file} is a directory, not a file`, { exitCode: ExitCode.Usage, hint: NOT_FOUND_HINT });
    throw new RetailctlError('CONFIG_UNREADABLE', `cannot read config file ${file}: ${(err as Error).message}`, { exitCode: ExitCode.Usage, cause: err });
  }
  const parsed = parseConfigDocument(text, file);
  return { file, absolutePath, config: parsed.config, locate: parsed.locate, resolve: (p) => path.resolve(path.dirname(absolutePath), p) };
}

/** Parse and validate config text; `file` is only used in messages. Pure: no I/O. */
export function parseConfigText(text: string, file: string): RetailctlConfig {
  return parseConfigDocument(text, file).config;
}

/** Parse and validate config text, keeping the document so later problems can name file:line:col. */
export function parseConfigDocument(text: string, file: string): Pick<LoadedConfig, 'config' | 'locate'> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return `${file}:${pos.line}:${pos.col}: syntax error: ${e.message.split('\n')[0]} (the file must be YAML or JSON)`;
    });
    throw configError(file, problems);
  }
  const data = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (parsed.success) {
    return {
      config: parsed.data,
      locate: (segments) => {
        const pos = locate(doc, lineCounter, segments);
        return { location: pos ? `${file}:${pos.line}:${pos.col}` : file, found: pos?.depth === segments.length };
      },
    };
  }
  const problems = describeIssues(parsed.error.issues, doc, lineCounter, file).map((p) => `${p.location}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  throw configError(file, problems);
}

function configError(file: string, problems: string[]): RetailctlError {
  const single = problems.length === 1;
  return new RetailctlError('CONFIG_INVALID', single ? problems[0]! : `${file}: ${problems.length} problems in the config`, {
    exitCode: ExitCode.Usage,
    details: single ? [] : problems,
    hint: 'fix the config (examples/retailctl.yaml documents every key), then rerun',
  });
}

/** Turn zod issues into located, readable problems. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], doc: Document, lineCounter: LineCounter, file: string): ConfigProblem[] {
  return issues.map((issue) => {
    let issuePath = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      issuePath = [...issuePath, key];
      message = issue.keys.length === 1 ? 'unknown key (misspelt? keys are case-sensitive)' : `unknown keys ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    } else if (issue.code === 'invalid_type') {
      message = issue.input === undefined ? `missing: expected ${article(issue.expected)}` : `expected ${article(issue.expected)}, got ${describeValue(issue.input)}`;
    } else if (issue.code === 'invalid_value') {
      message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`;
    } else if (issue.code === 'too_small' && issue.origin === 'number') {
      message = `expected a number ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}, got ${describeValue(issue.input)}`;
    } else if (issue.code === 'too_big' && issue.origin === 'number') {
      message = `expected a number ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}, got ${describeValue(issue.input)}`;
    }
    const pos = locate(doc, lineCounter, issuePath);
    return { location: pos ? `${file}:${pos.line}:${pos.col}` : file, path: formatPath(issuePath), message };
  });
}

/** `campaigns.spring-sale.targets[1].lambda` */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Line and column of the deepest existing node on `segments` (the key itself for a map entry), and how deep that is. */
function locate(doc: Document, lineCounter: LineCounter, segments: readonly (string | number)[]): { line: number; col: number; depth: number } | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = isNode(node) ? node.range?.[0] : undefined;
  let depth = 0;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isNode(p.key) ? (p.key as { value?: unknown }).value : p.key) === seg);
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
      depth += 1;
    } else if (node && typeof node === 'object' && 'items' in node && typeof seg === 'number') {
      const item = (node as { items: unknown[] }).items[seg];
      if (!isNode(item)) break;
      if (item.range) offset = item.range[0];
      node = item;
      depth += 1;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : { ...lineCounter.linePos(offset), depth };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}
