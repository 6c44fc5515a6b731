// Rendering of the core's report: a summary, and one card per diagnostic.
import { h } from './dom';
import { DOCS, docLink } from './docs';
import type { Diagnostic, Report, Source } from './wasm';


export const SEVERITY_LABEL = { error: 'Error', warning: 'Warning', info: 'Note' } as const;

/** The pointer relative to the scenario root (request pointers gain `/request`). */
export function scenarioPointer(d: Diagnostic): string {
  return d.location === 'request' ? `/request${d.pointer}` : d.pointer;
}

export function verdictText(r: Report): string {
  const verdict = r.verdict === 'valid' ? 'Valid' : r.verdict === 'warning' ? 'Valid with warnings' : 'Invalid';
  const n = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;
  return `${verdict}: ${n(r.errors, 'error')}, ${n(r.warnings, 'warning')}, ${n(r.infos, 'note')}`;
}

export function summary(r: Report): HTMLElement {
  return h(
    'div',
    { class: `verdict verdict-${r.verdict}` },
    h('span', { class: 'verdict-badge' }, r.verdict === 'valid' ? '✓' : r.verdict === 'warning' ? '!' : '✕'),
    h('span', { class: 'verdict-text' }, verdictText(r)),
  );
}

/** Text with `backtick` spans shown as code. */
export function rich(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', { class: 'inline-code' }, part) : part));
}

export interface CardOptions {
  /** Where the finding is (a label, a line); clicking it moves the focus there. */
  where?: string;
  onGoto?: () => void;
  onFix?: () => void;
  compact?: boolean;
}

export function card(d: Diagnostic, o: CardOptions = {}): HTMLElement {
  const where = o.where ?? (scenarioPointer(d) || '/');
  return h(
    'article',
    { class: `diag diag-${d.severity}`, 'data-code': d.code },
    h(
      'header',
      {},
      h('span', { class: `sev sev-${d.severity}` }, SEVERITY_LABEL[d.severity]),
      h('a', { class: 'code', href: ruleHref(d.code), title: 'This rule, its sources and how it was decided' }, d.code),
      h('span', { class: 'rule-name' }, d.rule),
      o.onGoto
        ? h('button', { type: 'button', class: 'link where', onclick: o.onGoto, title: 'Move to this field' }, where)
        : h('span', { class: 'where' }, where),
    ),
    h('p', { class: 'msg' }, ...rich(d.message)),
    d.help && !o.compact ? h('p', { class: 'help' }, ...rich(d.help)) : null,
    // No citation where no document says it (an unknown field): the rule's page explains.
    !o.compact && d.source ? h('p', { class: 'source' }, ...citation(d.source)) : null,
    d.fix && o.onFix
      ? h(
          'button',
          { type: 'button', class: 'fix', onclick: o.onFix, 'data-fix': d.code },
          h('span', { 'aria-hidden': 'true' }, '⚒ '),
          'Fix: ',
          ...rich(d.fix.title),
        )
      : null,
  );
}

/** The rule's section on the rules page. */
export function ruleHref(code: string): string {
  return `rules.html#${code}`;
}

/** The cited document by its title (a link to Microsoft Learn where it has a page), section and quote. */
export function citation(src: Source): (HTMLElement | string | null)[] {
  return [
    docLink(DOCS[src.document] ?? { title: src.document }, 'source-doc'),
    src.section ? ` · ${src.section}` : '',
    src.quote ? h('q', {}, src.quote) : null,
  ];
}
