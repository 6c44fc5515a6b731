// The rule catalog as a page: one section per rule (its code is the anchor findings and chips link
// to), grouped by family, each with its severity, how it was decided and the sentence it rests on.
import { citation, rich, SEVERITY_LABEL } from './diag';
import { $, h } from './dom';
import type { Family, Rule } from './wasm';

const FAMILIES: Record<Family, string> = {
  request: 'Request shape',
  limits: 'Limits and formats',
  identity: 'Effective identity per dataset type',
  rls: 'Row-level security',
  workspace: 'Workspaces',
  permissions: 'Token permissions',
  profiles: 'Service principal profiles',
  scenario: 'Scenario completeness',
};

let rules: Rule[] = [];

// The catalog with its docs, written by `embedgate docs`: the page needs no module (the docs are not in it).
export async function load(): Promise<void> {
  const res = await fetch('rules.json');
  if (!res.ok) throw new Error(`rules.json: HTTP ${res.status}`);
  rules = (await res.json()) as Rule[];
}

export function start() {
  const byFamily = new Map<Family, Rule[]>();
  for (const r of rules) byFamily.set(r.family, [...(byFamily.get(r.family) ?? []), r]);
  const toc = $('#rule-toc');
  toc.replaceChildren(
    h('h2', {}, `${rules.length} rules`),
    h(
      'ul',
      { class: 'toc' },
      [...byFamily].map(([f, rs]) => h('li', {}, h('a', { href: `#family-${f}` }, FAMILIES[f] ?? f), ` (${rs.length})`)),
    ),
  );
  $('#rules').replaceChildren(
    ...[...byFamily].map(([f, rs]) =>
      h(
        'section',
        { class: 'rule-family', id: `family-${f}`, 'aria-labelledby': `family-${f}-h` },
        h('h2', { id: `family-${f}-h` }, FAMILIES[f] ?? f),
        rs.map((r) =>
          h(
            'section',
            { class: 'rule card', id: r.code, 'aria-labelledby': `${r.code}-h`, tabindex: '-1' },
            h(
              'header',
              {},
              h('h3', { id: `${r.code}-h` }, h('code', { class: 'code' }, r.code), ' ', ...rich(r.title)),
              h('span', { class: `sev sev-${r.severity}` }, SEVERITY_LABEL[r.severity]),
            ),
            h('p', { class: 'rule-name' }, h('code', {}, r.name)),
            r.doc ? h('p', { class: 'rule-doc' }, ...rich(r.doc.replace(/\s+/g, ' ').trim())) : null,
            h('p', { class: 'source' }, 'Source: ', ...citation(r.source)),
          ),
        ),
      ),
    ),
  );
  // The content arrives after the browser's own jump to the fragment: jump now, focus the rule.
  const target = location.hash.slice(1) && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) {
    target.scrollIntoView();
    target.focus({ preventScroll: true });
  }
  $('#status').textContent = `${rules.length} rules`;
}
