/**
 * Content-Type from an image's own bytes (magic numbers, via file-type), checked against what its
 * extension claims (mime-types); SVG (text) is recognised by its root element.
 */
/**
 * The image file extensions retailctl moves (a directory walk takes only these) and the type each
 * claims; mime-types (and its ~20 ms database load) answers for any other name.
 */
export const IMAGE_TYPES: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', jfif: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  avif: 'image/avif', svg: 'image/svg+xml', tif: 'image/tiff', tiff: 'image/tiff', bmp: 'image/bmp', ico: 'image/x-icon', heic: 'image/heic', heif: 'image/heif', jxl: 'image/jxl',
};

/** The type an image's name claims (the extensions retailctl moves), or undefined. */
export function imageTypeByName(name: string): string | undefined {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return Object.hasOwn(IMAGE_TYPES, ext) ? IMAGE_TYPES[ext] : undefined;
}

async function typeByName(name: string): Promise<string | undefined> {
  const known = imageTypeByName(name);
  if (known) return known;
  const { lookup } = await import('mime-types');
  return lookup(name) || undefined;
}

/** How many leading bytes the sniffer looks at (file-type's own recommendation). */
export const SNIFF_BYTES = 4100;

export interface ContentType {
  contentType: string;
  /** Set when the bytes and the extension disagree, or neither says what the file is. */
  warning?: string;
}

let fileTypeModule: Promise<typeof import('file-type')> | undefined;

function looksLikeSvg(head: Uint8Array): boolean {
  // only text that starts with "<" (after a BOM or blanks) can be SVG: skip decoding binary images
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  if (head[i] !== 0x3c) return false;
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 1024)).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  return text.startsWith('<') && /<svg[\s>]/i.test(text);
}

const at = (head: Uint8Array, offset: number, ascii: string) => {
  for (let i = 0; i < ascii.length; i++) if (head[offset + i] !== ascii.charCodeAt(i)) return false;
  return true;
};

/**
 * The signatures of the formats nearly every catalogue is made of, checked in a few byte compares
 * before asking file-type (which knows hundreds of formats, and costs ~40 ms to load and tens of µs
 * per call): most runs never load it. APNG is reported as image/png, as browsers accept it.
 */
function commonImageType(h: Uint8Array): string | undefined {
  if (h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff) return 'image/jpeg';
  if (h[0] === 0x89 && at(h, 1, 'PNG\r\n\x1a\n')) return 'image/png';
  if (at(h, 0, 'GIF87a') || at(h, 0, 'GIF89a')) return 'image/gif';
  if (at(h, 0, 'RIFF') && at(h, 8, 'WEBP')) return 'image/webp';
  if (at(h, 4, 'ftyp') && (at(h, 8, 'avif') || at(h, 8, 'avis'))) return 'image/avif';
  return undefined;
}

/** The Content-Type to store for a file named `name` whose first bytes are `head`. */
export async function detectContentType(name: string, head: Uint8Array): Promise<ContentType> {
  const byName = await typeByName(name);
  let byBytes: string | undefined = commonImageType(head);
  if (byBytes) {
    // fast path
  } else if (looksLikeSvg(head)) byBytes = 'image/svg+xml';
  else {
    fileTypeModule ??= import('file-type');
    byBytes = (await (await fileTypeModule).fileTypeFromBuffer(head))?.mime;
  }
  if (byBytes && byName && byBytes !== byName) return { contentType: byBytes, warning: `content is ${byBytes} but the name says ${byName}` };
  if (byBytes) return { contentType: byBytes };
  if (byName) return { contentType: byName, ...(byName.startsWith('image/') ? { warning: `content not recognised as ${byName}` } : {}) };
  return { contentType: 'application/octet-stream', warning: 'unknown content type' };
}
