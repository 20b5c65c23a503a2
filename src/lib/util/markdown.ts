/** Markdown for PR comments and step summaries: table cells and code that no value can break out of. */
import { sanitizeText, shown } from './sanitize.js';

/** A value as the text of one Markdown table cell or inline text: one line, no markup, no HTML. */
export function mdText(value: unknown, max = 200): string {
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return shown(text, max)
    .replace(/[\\`*_{}[\]#+!|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // no @mention (it would notify people from a PR comment) and no link from a URL in a value
    .replace(/@/g, '&#64;')
    .replace(/(https?):\/\//gi, '$1&#58;//');
}

/** A Markdown table: a header, its separator and one line per row, every cell escaped. */
export function mdTable(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${header.map((_, i) => mdText(cells[i]) || ' ').join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

/** A fenced code block that the text cannot close early. */
export function mdCode(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${sanitizeText(text, 100_000)}\n${fence}`;
}
