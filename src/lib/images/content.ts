/**
 * Content-Type from an image's own bytes (magic numbers, via file-type), checked against what its
 * extension claims (mime-types); SVG (text) is recognised by its root element.
 */
import { lookup } from 'mime-types';

/** How many leading bytes the sniffer looks at (file-type's own recommendation). */
export const SNIFF_BYTES = 4100;

export interface ContentType {
  contentType: string;
  /** Set when the bytes and the extension disagree, or neither says what the file is. */
  warning?: string;
}

let fileTypeModule: Promise<typeof import('file-type')> | undefined;

function looksLikeSvg(head: Uint8Array): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 1024)).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  return text.startsWith('<') && /<svg[\s>]/i.test(text);
}

/** The Content-Type to store for a file named `name` whose first bytes are `head`. */
export async function detectContentType(name: string, head: Uint8Array): Promise<ContentType> {
  const byName = lookup(name) || undefined;
  let byBytes: string | undefined;
  if (looksLikeSvg(head)) byBytes = 'image/svg+xml';
  else {
    fileTypeModule ??= import('file-type');
    byBytes = (await (await fileTypeModule).fileTypeFromBuffer(head))?.mime;
  }
  if (byBytes && byName && byBytes !== byName) return { contentType: byBytes, warning: `content is ${byBytes} but the name says ${byName}` };
  if (byBytes) return { contentType: byBytes };
  if (byName) return { contentType: byName, ...(byName.startsWith('image/') ? { warning: `content not recognised as ${byName}` } : {}) };
  return { contentType: 'application/octet-stream', warning: 'unknown content type' };
}
