import type { Output } from '../io/output.js';
import type { DoctorReport } from './checks.js';

/** One line per check: ✓ / ✗ (required) / ! (optional), the detail, and a hint under failures. */
export function renderDoctor(report: DoctorReport, out: Pick<Output, 'style'>): string {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const check of report.checks) {
    const mark = check.ok ? out.style('green', '✓') : check.required ? out.style('red', '✗') : out.style('yellow', '!');
    lines.push(`${mark} ${check.id.padEnd(width)}  ${check.detail}`);
    if (!check.ok && check.hint) lines.push(`  ${' '.repeat(width)}  → ${check.hint}`);
  }
  const failed = report.checks.filter((c) => !c.ok && c.required).length;
  lines.push(failed === 0 ? 'all required checks passed' : `${failed} required check${failed === 1 ? '' : 's'} failed`);
  return lines.join('\n');
}
