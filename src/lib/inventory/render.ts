import type { Output } from '../io/output.js';
import { CLASSES, type DriftClass, type ResultRow, type Summary } from './reconcile.js';
import { shown } from '../util/sanitize.js';

/** Counts per class × channel, units, value at risk, and the most severe rows. */
export function renderSummary(summary: Summary, drift: readonly ResultRow[], failing: readonly DriftClass[], out: Pick<Output, 'style'>): string {
  const classes = CLASSES.filter((c) => c !== 'ok');
  const channels = Object.keys(summary.byChannel).sort();
  const width = Math.max(10, ...channels.map((c) => c.length));
  // the value column only when some row has a price (a price column is mapped and filled)
  const valued = Object.keys(summary.valueAtRisk).length > 0;
  const lines = [`${'class'.padEnd(20)}${channels.map((c) => c.padStart(width + 2)).join('')}${'units'.padStart(10)}${valued ? 'value'.padStart(12) : ''}`];
  for (const c of [...classes, 'ok' as const]) {
    const counts = channels.map((ch) => String(summary.byChannel[ch]?.[c] ?? 0).padStart(width + 2)).join('');
    const value = summary.valueAtRisk[c] !== undefined ? summary.valueAtRisk[c]!.toFixed(2) : '';
    const label = failing.includes(c) ? out.style('red', c.padEnd(20)) : c.padEnd(20);
    lines.push(`${label}${counts}${String(c === 'ok' ? '' : (summary.units[c] ?? 0)).padStart(10)}${valued ? value.padStart(12) : ''}`.trimEnd());
  }
  if (drift.length) {
    lines.push('', 'most severe:');
    for (const r of drift.slice(0, 10)) {
      const detail = r.class === 'negative'
        ? `negative quantity in ${shown(r.channel)}`
        : r.class === 'missing-in-channel'
          ? `${r.expected} sellable, no row in ${shown(r.channel)}`
          : r.class === 'unknown-sku'
            ? `${shown(r.channel)} offers ${r.actual}, the warehouse does not know it`
            : `${shown(r.channel)} offers ${r.actual}, expected ${r.expected} (${r.delta! > 0 ? '+' : ''}${r.delta})`;
      lines.push(`  ${r.class.padEnd(19)} ${shown(r.sku)} @ ${shown(r.location)}: ${detail}${r.valueAtRisk !== undefined ? `, ${r.valueAtRisk.toFixed(2)} at risk` : ''}`);
    }
  }
  lines.push('', failing.length ? `failing: ${failing.join(', ')} (inventory.failOn)` : 'no class in inventory.failOn');
  return lines.join('\n');
}
