import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { isAlias, isMap, isNode, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';
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
  locate(segments: readonly (string | number)[]): { location: string; found: boolean; line?: number; col?: number };
}

/** One problem found in a config file, already located. */
export interface ConfigProblem {
  /** `retailctl.yaml:12:7` */
  location: string;
  /** `campaigns.spring-sale.targets[1].provisioned` */
  path: string;
  message: string;
  /** The position in `location`, when there is one. */
  line?: number;
  col?: number;
}

/** One problem to report: where, and the text after `file:line:col: `. */
interface Located {
  file: string;
  pos?: { line: number; col: number };
  text: string;
}

const NOT_FOUND_HINT = 'create one with `retailctl init`, or pass --config <file> (or set RETAILCTL_CONFIG)';
const FIX_HINT = 'fix the config (examples/retailctl.yaml documents every key), then rerun';

/** Largest config file read: the documented example is 3 KB; anything this big is not a config. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * How many nodes aliases (`*name`) may add when the document is expanded: a handful of anchors
 * reused in a config is fine; a "billion laughs" document would expand to gigabytes.
 */
const MAX_ALIAS_NODES = 10_000;

function unusableConfig(code: string, message: string, hint = NOT_FOUND_HINT, cause?: unknown): RetailctlError {
  return new RetailctlError(code, message, { exitCode: ExitCode.Usage, hint, cause });
}

/** Read, parse (YAML or JSON) and validate a retailctl config file. Errors exit 2 with one line per problem. */
export async function loadConfig(file: string, cwd: string = process.cwd()): Promise<LoadedConfig> {
  const absolutePath = path.resolve(cwd, file);
  const text = await readConfigText(absolutePath, file);
  const parsed = parseConfigDocument(text, file);
  return { file, absolutePath, config: parsed.config, locate: parsed.locate, resolve: (p) => path.resolve(path.dirname(absolutePath), p) };
}

/**
 * The config file's text. Refused (exit 2, naming the file): a missing file, a directory, anything
 * but a regular file (a FIFO would block the run, a device never ends), a file over
 * MAX_CONFIG_BYTES, an empty one (a truncated config must not pass as "no sections"), and one that
 * is not UTF-8 text.
 */
async function readConfigText(absolutePath: string, file: string): Promise<string> {
  const name = shown(file);
  let bytes: Buffer;
  try {
    // O_NONBLOCK: opening a FIFO nobody writes to would otherwise wait forever (ENXIO: a socket)
    const handle = await open(absolutePath, constants.O_RDONLY | constants.O_NONBLOCK).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENXIO') throw err;
      throw Object.assign(new Error('not a regular file'), { code: 'ESPECIAL' });
    });
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ESPECIAL' });
      if (st.size > MAX_CONFIG_BYTES) {
        throw unusableConfig('CONFIG_TOO_LARGE', `config file ${name} is ${formatMiB(st.size)}: a config file is at most ${formatMiB(MAX_CONFIG_BYTES)}`, 'pass the retailctl config file (YAML or JSON), not a data file');
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof RetailctlError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw unusableConfig('CONFIG_NOT_FOUND', `config file ${name} not found`);
    if (code === 'ENOTDIR') throw unusableConfig('CONFIG_NOT_FOUND', `config file ${name} not found (a part of the path is a file, not a directory)`);
    if (code === 'EISDIR') throw unusableConfig('CONFIG_NOT_FOUND', `config path ${name} is a directory, not a file`, 'pass the config file itself: --config <dir>/retailctl.yaml');
    if (code === 'ESPECIAL') throw unusableConfig('CONFIG_UNREADABLE', `config path ${name} is not a regular file (a FIFO, device or socket)`, 'pass the path of a config file (YAML or JSON)');
    if (code === 'EACCES' || code === 'EPERM') throw unusableConfig('CONFIG_UNREADABLE', `config file ${name} is not readable by this user`, 'fix its permissions, or pass --config <a readable file>');
    throw unusableConfig('CONFIG_UNREADABLE', `cannot read config file ${name}: ${shown((err as Error).message)}`, 'pass --config <a readable file>', err);
  }
  if (bytes.length === 0 || /^\s*$/.test(bytes.toString('latin1'))) {
    throw unusableConfig('CONFIG_EMPTY', `config file ${name} is empty`, 'write the config there (`retailctl init` writes a documented starter config); a config with no sections yet is `{}`');
  }
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  const nul = bytes.indexOf(0);
  if (text === undefined || nul !== -1) {
    const invalid = text === undefined ? firstInvalidUtf8(bytes) : Infinity;
    const at = nul !== -1 && nul < invalid ? nul : invalid;
    const pos = positionOf(bytes, at);
    const error = unusableConfig('CONFIG_NOT_TEXT', `${name}:${pos.line}:${pos.col}: not a text file (${at === nul ? 'a NUL byte' : 'bytes that are not UTF-8'} at byte ${at}): the config must be YAML or JSON in UTF-8`, 'pass the retailctl config file (YAML or JSON), not a binary file');
    error.locations.push({ file, ...pos, message: error.message.slice(`${name}:${pos.line}:${pos.col}: `.length) });
    throw error;
  }
  return text;
}

function formatMiB(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // bisect on prefixes: a valid prefix decodes (a cut sequence at its end is allowed with stream)
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      decoder.decode(bytes.subarray(0, mid), { stream: true });
      decoder.decode();
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

function positionOf(bytes: Buffer, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1 && i < offset; i = bytes.indexOf(10, i + 1)) {
    line += 1;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** Parse and validate config text; `file` is only used in messages. Pure: no I/O. */
export function parseConfigText(text: string, file: string): RetailctlConfig {
  return parseConfigDocument(text, file).config;
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Parse and validate config text, keeping the document so later problems can name file:line:col. */
export function parseConfigDocument(text: string, file: string): Pick<LoadedConfig, 'config' | 'locate'> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { file, pos, text: `syntax error: ${e.message.split('\n')[0]} (the file must be YAML or JSON)` };
    });
    throw configError(file, problems);
  }
  // a key every JavaScript object already has would not become a name of its own (`__proto__` sets
  // the prototype, `constructor` shadows it): refuse it where it is written
  const reserved: Located[] = [];
  visit(doc, {
    Pair(_key, pair) {
      const key = isNode(pair.key) ? (pair.key as { value?: unknown }).value : pair.key;
      if (typeof key === 'string' && RESERVED_KEYS.has(key)) {
        const pos = isNode(pair.key) && pair.key.range ? lineCounter.linePos(pair.key.range[0]) : undefined;
        reserved.push({ file, pos, text: `"${key}" cannot be used as a name (it is reserved in JavaScript objects): choose another` });
      }
    },
  });
  if (reserved.length) throw configError(file, reserved);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_NODES }) ?? {};
  } catch (err) {
    if (!/alias/i.test((err as Error).message)) throw err;
    const pos = firstAlias(doc, lineCounter);
    throw configError(file, [
      { file, pos, text: `aliases (*name) expand this document to more than ${MAX_ALIAS_NODES.toLocaleString('en-US')} values (a "billion laughs" document): write the values out, or use fewer aliases` },
    ]);
  }
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (parsed.success) {
    return {
      config: parsed.data,
      locate: (segments) => {
        const pos = locate(doc, lineCounter, segments);
        return { location: pos ? `${file}:${pos.line}:${pos.col}` : file, found: pos?.depth === segments.length, ...(pos ? { line: pos.line, col: pos.col } : {}) };
      },
    };
  }
  const problems = describeIssues(parsed.error.issues, doc, lineCounter, file).map((p): Located => ({ file, pos: p.line === undefined ? undefined : { line: p.line, col: p.col! }, text: `${p.path ? `${p.path}: ` : ''}${p.message}` }));
  throw configError(file, problems);
}

function configError(file: string, located: Located[]): RetailctlError {
  const problems = located.map((p) => `${p.file}${p.pos ? `:${p.pos.line}:${p.pos.col}` : ''}: ${p.text}`);
  const single = problems.length === 1;
  return new RetailctlError('CONFIG_INVALID', single ? problems[0]! : `${file}: ${problems.length} problems in the config`, {
    exitCode: ExitCode.Usage,
    details: single ? [] : problems,
    hint: FIX_HINT,
    locations: located.map((p) => ({ file: p.file, ...p.pos, message: p.text })),
  });
}

/** Where the first alias (`*name`) is written. */
function firstAlias(doc: Document, lineCounter: LineCounter): { line: number; col: number } | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node) && node.range) {
        offset = node.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return offset === undefined ? undefined : lineCounter.linePos(offset);
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
    return { location: pos ? `${file}:${pos.line}:${pos.col}` : file, path: formatPath(issuePath), message, ...(pos ? { line: pos.line, col: pos.col } : {}) };
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
  if (typeof value === 'string') return `"${shown(value, 40)}"`;
  return shown(value, 40);
}
