/** Values in PR comments and step summaries: no markup, no HTML, no mention, no link, one line. */
import { describe, expect, it } from 'vitest';
import { mdCode, mdTable, mdText } from '../../src/lib/util/markdown.js';

describe('markdown values', () => {
  it('a hostile sku adds no column, line, HTML comment, mention or link', () => {
    const hostile = 'a|b\n#### fake <!-- c --> `tick` @octocat https://evil.example/x [t](http://e.example)';
    const cell = mdText(hostile, 500);
    expect(cell).not.toMatch(/(?<!\\)\|/);
    expect(cell).not.toContain('\n');
    expect(cell).not.toContain('<!--');
    expect(cell).not.toContain('@');
    expect(cell).not.toMatch(/https?:\/\//);
    expect(cell).not.toMatch(/(?<!\\)\]\(/);
    const table = mdTable(['sku', 'n'], [[hostile, 1]]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table.split('\n')[2]!.replace(/\\\|/g, '').split('|')).toHaveLength(4);
  });

  it('a code block the text cannot close', () => {
    const block = mdCode('x\n```\n# escaped?');
    expect(block.startsWith('````\n')).toBe(true);
    expect(block.endsWith('\n````')).toBe(true);
  });
});
