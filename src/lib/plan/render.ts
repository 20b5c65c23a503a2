/** The envelope of a plan file, for people (text) and for a pull-request comment (Markdown). */
import { mdCode, mdTable } from '../util/markdown.js';
import { shown } from '../util/sanitize.js';
import type { PlanDocument } from './document.js';

export function renderPlanHeader(doc: PlanDocument, file: string, expired = false): string {
  return [
    `plan ${shown(file)}: ${doc.kind} (format ${doc.version}, retailctl ${shown(doc.retailctl, 40)})`,
    `  made ${doc.createdAt} for account ${doc.account} in ${shown(doc.region, 40)}; ${expired ? 'EXPIRED' : 'expires'} ${doc.expiresAt}`,
    `  from: ${shown(doc.command, 300)}`,
    `  ${doc.preconditions.length} precondition${doc.preconditions.length === 1 ? '' : 's'} re-read before applying; ${doc.actions.length} write call${doc.actions.length === 1 ? '' : 's'}:`,
    ...doc.actions.slice(0, 50).map((a, i) => `    ${i + 1}. ${a.call} ${shown(a.target, 200)}: ${shown(a.summary, 300)}`),
    ...(doc.actions.length > 50 ? [`    … and ${doc.actions.length - 50} more`] : []),
  ].join('\n');
}

/** At most this many actions listed in a comment (GitHub comments are limited to 65,536 characters). */
const MAX_MD_ACTIONS = 100;

export function renderPlanMarkdown(doc: PlanDocument, body: string, expired = false): string {
  const actions = doc.actions.slice(0, MAX_MD_ACTIONS).map((a, i) => [i + 1, a.call, a.target, a.summary]);
  return [
    `### retailctl plan: \`${doc.kind}\``,
    '',
    mdTable(['', ''], [
      ['command', doc.command],
      ['account / region', `${doc.account} / ${doc.region}`],
      ['made', doc.createdAt],
      [expired ? 'EXPIRED' : 'expires', doc.expiresAt],
      ['preconditions', `${doc.preconditions.length} (re-read by apply; any change refuses the plan)`],
      ['digest', doc.digest],
    ]),
    '',
    body,
    '',
    `#### Write calls (${doc.actions.length})`,
    '',
    doc.actions.length ? mdTable(['#', 'call', 'target', 'what'], actions) : '_none: nothing to change_',
    ...(doc.actions.length > MAX_MD_ACTIONS ? ['', `… and ${doc.actions.length - MAX_MD_ACTIONS} more (\`retailctl plan show\` lists them all)`] : []),
    '',
    '<details><summary>apply</summary>',
    '',
    mdCode(`retailctl apply <plan file> --yes`, 'sh'),
    '',
    '</details>',
  ].join('\n');
}
