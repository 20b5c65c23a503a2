/**
 * Object keys for product images: a template such as `{category}/{sku}/{variant}.{ext}` filled
 * from a catalogue row, every value slugified. Pure: no I/O.
 *
 * A key is Unicode-normalised and transliterated (Crème → creme, Größe → groesse), lower case,
 * built from [a-z0-9._-] and `/` only, never has a `..`/`.` or empty segment or a leading `/`,
 * and always starts with the prefix: a catalogue value can never move an object outside it.
 */
type Slugify = (value: string, options: { decamelize: boolean; preserveCharacters: string[] }) => string;
let slugifyLib: Slugify | undefined;

/** Load the slug rules (@sindresorhus/slugify is an ES module: imported once, before planning). */
export async function loadKeyRules(): Promise<void> {
  slugifyLib ??= (await import('@sindresorhus/slugify')).default;
}

export const PLACEHOLDERS = ['category', 'sku', 'variant', 'position', 'name', 'ext', 'hash', 'dir'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const DEFAULT_TEMPLATE = '{category}/{sku}/{variant}.{ext}';
/** Without a catalogue the key keeps the source's relative path (each part slugified). */
export const PATH_TEMPLATE = '{dir}/{name}.{ext}';

/** S3's limit on a key's length in bytes. */
const MAX_KEY_BYTES = 1024;
const SAFE_SEGMENT = /^[a-z0-9_-][a-z0-9._-]*$/;

export interface Template {
  source: string;
  parts: (string | { placeholder: Placeholder })[];
  uses: Set<Placeholder>;
}

/** Parse and check a key template; throws a message naming the problem (the caller adds the flag). */
export function parseTemplate(template: string): Template {
  const parts: Template['parts'] = [];
  const uses = new Set<Placeholder>();
  const re = /\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const name = m[1] as Placeholder;
    if (!PLACEHOLDERS.includes(name)) throw new Error(`unknown placeholder {${m[1]}} (use ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
    parts.push({ placeholder: name });
    uses.add(name);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  for (const p of parts) {
    if (typeof p === 'string' && !/^[a-z0-9/._-]*$/.test(p)) throw new Error(`"${p}": only a-z 0-9 / . _ - may appear outside placeholders`);
  }
  if (template.startsWith('/')) throw new Error('must not start with /');
  // a key never leaves the prefix: no . or .. segment, no empty one
  for (const segment of template.split('/')) {
    if (segment === '.' || segment === '..') throw new Error(`"${segment}" segments are not allowed (a key stays under --prefix)`);
    if (segment === '') throw new Error('has an empty path segment (//, or a trailing /)');
  }
  if (!uses.has('ext')) throw new Error('needs {ext} (keys keep the file type)');
  return { source: template, parts, uses };
}

/** Values repeat (categories, directories, variants): remembered, up to a bound. */
const slugs = new Map<string, string>();

/** A slug of one value: transliterated, lower case, [a-z0-9_-] joined by dashes. */
export function slug(value: string): string {
  let out = slugs.get(value);
  if (out !== undefined) return out;
  if (!slugifyLib) throw new Error('internal: loadKeyRules() was not awaited');
  out = slugifyLib(value.normalize('NFC'), { decamelize: false, preserveCharacters: ['_'] });
  if (slugs.size < 200_000) slugs.set(value, out);
  return out;
}

/** A category path (`Skincare > Serums`, `skincare/serums`) as slugified segments. */
export function categorySegments(value: string): string[] {
  return value
    .split(/\s*[>/|]\s*/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(slug);
}

const EXT_ALIASES: Record<string, string> = { jpeg: 'jpg', jpe: 'jpg', jfif: 'jpg', tif: 'tiff' };

/** Lower case, normalised extension of a file name ('' when it has none). */
export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return '';
  const ext = base.slice(dot + 1).toLowerCase();
  return EXT_ALIASES[ext] ?? ext;
}

/** A file name without directory and extension. */
export function baseNameOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Normalise `--prefix`: no leading slash, one trailing slash, safe segments only. */
export function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.split('/')) {
    if (!SAFE_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new Error(`"${prefix}": each part must be lower case a-z 0-9 . _ - (not "${segment}")`);
    }
  }
  return `${trimmed}/`;
}

/** What a key is built from. */
export interface KeyFields {
  /** The source image's path relative to the source (forward slashes). */
  sourcePath: string;
  sku?: string;
  category?: string;
  variant?: string;
  position?: string;
  /** First 12 hex characters of the content's SHA-256 (only when the template uses {hash}). */
  hash?: string;
}

export type KeyResult = { key: string } | { error: string };

/**
 * Fill the template for one image. `{variant}` falls back to `{position}`, then to the image's own
 * base name, so a catalogue without a variant column still gives every image of a sku its own key.
 */
export function buildKey(template: Template, prefix: string, fields: KeyFields): KeyResult {
  const name = baseNameOf(fields.sourcePath);
  const ext = extensionOf(fields.sourcePath);
  const dir = fields.sourcePath.includes('/') ? fields.sourcePath.slice(0, fields.sourcePath.lastIndexOf('/')) : '';
  const value = (p: Placeholder): string | { error: string } => {
    switch (p) {
      case 'category': {
        const segments = categorySegments(fields.category ?? '');
        if (segments.length === 0 || segments.some((s) => s === '')) return { error: `{category} "${fields.category ?? ''}" gives an empty path segment` };
        return segments.join('/');
      }
      case 'sku':
        return slug(fields.sku ?? '') || { error: `{sku} "${fields.sku ?? ''}" is empty once made URL-safe` };
      case 'variant':
        return slug(fields.variant ?? '') || slug(fields.position ?? '') || slug(name) || { error: `{variant} is empty (no variant, position or usable file name)` };
      case 'position':
        return slug(fields.position ?? '') || { error: `{position} "${fields.position ?? ''}" is empty` };
      case 'name':
        return slug(name) || { error: `{name}: "${name}" is empty once made URL-safe` };
      case 'ext':
        return /^[a-z0-9]{1,10}$/.test(ext) ? ext : { error: `{ext}: "${fields.sourcePath}" has no usable file extension` };
      case 'hash':
        return fields.hash ? fields.hash.slice(0, 12) : { error: '{hash}: the content hash is not known' };
      case 'dir': {
        const segments = dir === '' ? [] : dir.split('/').map(slug);
        if (segments.some((s) => s === '')) return { error: `{dir}: "${dir}" has a part that is empty once made URL-safe` };
        return segments.join('/');
      }
    }
  };
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const v = value(part.placeholder);
    if (typeof v !== 'string') return v;
    out += v;
  }
  // an empty {dir} at the start (files at the top of the source) leaves no segment, not an empty one
  if (template.uses.has('dir') && dir === '') out = out.replace(/^\/+/, '').replace(/\/\/+/g, '/');
  const segments = out.split('/');
  for (const s of segments) {
    if (s === '') return { error: `the key "${out}" has an empty path segment` };
    if (s === '.' || s === '..' || !SAFE_SEGMENT.test(s)) return { error: `the key "${out}" has an unsafe part "${s}"` };
  }
  const key = prefix + out;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return { error: `the key is longer than S3's ${MAX_KEY_BYTES} bytes` };
  return { key };
}
