// Explain: a Power BI error message in, the rule, the reason and the fix out.
import { ruleHref } from './diag';
import { DOCS, docLink } from './docs';
import { $, debounce, h, say } from './dom';
import { defaultScenario } from './form';
import * as hash from './hash';
import * as wasm from './wasm';
import type { Explanation } from './wasm';
// What the page waits for before it starts (main.ts).
export { load } from './wasm';

const SAMPLES = [
  '{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 requires effective identity to be provided"}}',
  "Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 shouldn't have effective identity",
  'Creating embed token with multiple identities is not supported',
  '{"message":"TokenExpired","detailedMessage":"Access token has expired, resubmit with a new access token","errorCode":"403"}',
];

/** The longest error text kept in the URL. */
const MAX_LINKED = 16_000;

/**
 * The form's starting scenario with the ids the message names put in place of the sample ones, so
 * the checker shows what the call that failed should have looked like.
 */
export function scenarioFor(x: Explanation): string {
  const base = defaultScenario();
  const first = (kind: string) => x.items.find((i) => i.kind === kind)?.id;
  let text = JSON.stringify(base);
  const swap = (from: string | undefined, to: string | undefined) => {
    if (from && to) text = text.split(from).join(to);
  };
  swap(base.datasets?.[0]?.id, first('dataset'));
  swap(base.reports?.[0]?.id, first('report'));
  swap(base.workspaces?.[0]?.id, first('workspace'));
  return `index.html#s=${hash.encode(text)}`;
}

export function start() {
  const input = $('#error-text') as HTMLTextAreaElement;
  const out = $('#explanations');
  const catalog = new Map(wasm.rules().map((r) => [r.code, r]));

  function run() {
    const text = input.value;
    // A long paste stays out of the URL (browsers cap URLs at about 2 MB; links this long are not shared).
    hash.write({ q: text && text.length <= MAX_LINKED ? hash.encode(text) : undefined });
    if (!text.trim()) {
      out.replaceChildren(h('p', { class: 'hint' }, 'Paste an error above, or pick a sample.'));
      say('');
      return;
    }
    const found = wasm.explain(text);
    if (found.length === 0) {
      out.replaceChildren(h('p', { class: 'none' }, 'No known Power BI error matches this text.'));
      say('No match');
      return;
    }
    out.replaceChildren(
      ...found.map((x) =>
        h(
          'article',
          { class: 'explanation card', 'data-id': x.id },
          h(
            'header',
            {},
            h('h2', {}, x.title, ' ', h('code', { class: 'explanation-id' }, x.id)),
            h('span', { class: 'status-code' }, `HTTP ${x.status.join(' or ')}`),
          ),
          h('h3', {}, 'Why'),
          h('p', { class: 'reason' }, x.reason),
          h('h3', {}, 'Fix'),
          h('p', { class: 'fix-text' }, x.fix),
          x.items.length
            ? h(
                'p',
                { class: 'ids' },
                'IDs in the message: ',
                x.items.flatMap((i, n) => [n ? ', ' : '', i.kind === 'unknown' ? '' : `${i.kind} `, h('code', {}, i.id)]),
              )
            : null,
          // Entra ID's errors have no rule: no heading over an empty list.
          x.rules.length ? h('h3', {}, 'Rules that catch it before the call') : null,
          x.rules.length ? h(
            'ul',
            { class: 'rule-list' },
            x.rules.map((code) => {
              const r = catalog.get(code);
              return h(
                'li',
                { 'data-rule': code },
                h('a', { class: 'code', href: ruleHref(code) }, code),
                ' ',
                h('strong', {}, r?.title ?? ''),
                r ? h('span', { class: 'rule-name' }, ` (${r.name})`) : null,
                r && DOCS[r.source.document]?.url ? [' · ', docLink(DOCS[r.source.document], 'source-doc')] : null,
              );
            }),
          ) : null,
          // Where the rules catch it: the form, with the message's ids, checks the request before the call.
          x.rules.length
            ? h('p', { class: 'next' }, h('a', { class: 'build-request', href: scenarioFor(x) }, 'Build this request with these ids'), ' in the request checker.')
            : null,
        ),
      ),
    );
    say(`${found.length} explanation${found.length === 1 ? '' : 's'}: ${found.map((x) => `${x.title} (${x.rules.join(', ')})`).join('; ')}`);
  }

  /** The text in the URL hash, when another link is opened in this tab. */
  function fromHash() {
    const q = hash.read('q');
    return (q && hash.decode(q)) ?? '';
  }

  const samples = $('#samples');
  for (const s of SAMPLES) {
    samples.append(
      h('li', {}, h('button', { type: 'button', class: 'link sample', onclick: () => ((input.value = s), run()) }, s.length > 90 ? `${s.slice(0, 88)}…` : s)),
    );
  }
  input.value = fromHash();
  input.addEventListener('input', debounce(run, 150));
  window.addEventListener('hashchange', () => {
    const text = fromHash();
    if (text !== input.value) {
      input.value = text;
      run();
    }
  });
  run();
}
