// Capability tables (the RLS table of "Considerations when generating an embed token", the
// dataset types of "Set effective identity"), rendered from the core's
// data and filterable by caller and dataset type. Filters live in the URL hash.
import { ruleHref } from './diag';
import { DOCS, docLink } from './docs';
import { $, h } from './dom';
import * as hash from './hash';
import * as wasm from './wasm';
import type { Capabilities, ModelKind, RlsType } from './wasm';
// What the page waits for before it starts (main.ts).
export { load } from './wasm';

type CallerFilter = 'all' | 'user' | 'sp';

/** Which dataset types (columns of the identity table) each RLS type (rows of the RLS table) concerns. */
const RLS_MODELS: Record<RlsType, ModelKind[]> = {
  CloudRls: ['Import', 'DirectQuery', 'DirectLake'],
  Rdl: [],
  AsOnPremLive: ['SqlServerAnalysisServicesLive'],
  AsAzureLive: ['AzureAnalysisServicesLive'],
  Sso: ['DirectQueryAzureSqlSso'],
  SsoCloudRls: ['DirectQueryAzureSqlSso'],
  None: [],
  Unknown: [],
};

const considerations = DOCS['seed-004-token-considerations'];
const identity = DOCS['seed-003-effective-identity'];

const yesNo = (b: boolean) => h('span', { class: b ? 'yes' : 'no' }, b ? 'Yes' : 'No');

/**
 * A table wider than the screen scrolls sideways in a region a keyboard can focus and scroll,
 * with a hint that more columns are there (hidden once the last one is in view).
 */
function scroller(table: HTMLElement, label: string): HTMLElement {
  const wrap = h('div', { class: 'table-wrap', role: 'region', 'aria-label': `${label} (table)`, tabindex: '0' }, table);
  wrap.addEventListener('scroll', () => hint(wrap), { passive: true });
  return h('div', { class: 'table-box' }, h('p', { class: 'scroll-hint', 'aria-hidden': 'true', hidden: true }, 'More columns: scroll sideways →'), wrap);
}

function hint(wrap: HTMLElement) {
  const more = wrap.scrollWidth - wrap.clientWidth - wrap.scrollLeft > 1;
  wrap.classList.toggle('more-right', more);
  const p = wrap.previousElementSibling as HTMLElement | null;
  if (p) p.hidden = !more;
}

export function start() {
  const caps: Capabilities = wasm.capabilities();
  const catalog = new Map(wasm.rules().map((r) => [r.code, r]));
  const callerSel = $('#filter-caller') as HTMLSelectElement;
  const typeSel = $('#filter-type') as HTMLSelectElement;
  for (const row of caps.rls) typeSel.append(h('option', { value: `rls:${row.rlsType}` }, row.name));
  for (const row of caps.datasetTypes) typeSel.append(h('option', { value: `model:${row.model}` }, `Dataset type: ${row.name}`));
  /** The filters from the URL hash (unknown values fall back to all). */
  function fromHash() {
    callerSel.value = hash.read('caller') ?? 'all';
    typeSel.value = hash.read('type') ?? 'all';
    if (!callerSel.value) callerSel.value = 'all';
    if (!typeSel.value) typeSel.value = 'all';
  }
  fromHash();

  const ruleLinks = (codes: string[]) =>
    h(
      'span',
      { class: 'rules' },
      codes.map((c) => h('a', { class: 'rule-chip', href: ruleHref(c), title: catalog.get(c)?.title ?? c }, c)),
    );

  function render() {
    const caller = callerSel.value as CallerFilter;
    const type = typeSel.value;
    hash.write({ caller: caller === 'all' ? undefined : caller, type: type === 'all' ? undefined : type });
    const [kind, value] = type === 'all' ? ['all', ''] : type.split(':');
    const rlsRows = caps.rls.filter((r) =>
      kind === 'all' ? true : kind === 'rls' ? r.rlsType === value : RLS_MODELS[r.rlsType].includes(value as ModelKind),
    );
    const showUser = caller !== 'sp';
    const showSp = caller !== 'user';
    const rls = h(
      'table',
      { class: 'caps', id: 'rls-table' },
      h('caption', {}, 'Can I generate an embed token without specifying the effective user ID?'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'RLS type'),
          showUser ? h('th', { scope: 'col' }, 'Master user') : null,
          showSp ? h('th', { scope: 'col' }, 'Service principal') : null,
          h('th', { scope: 'col' }, 'Considerations'),
          h('th', { scope: 'col' }, 'Rules'),
        ),
      ),
      h(
        'tbody',
        {},
        rlsRows.map((r) =>
          h(
            'tr',
            { 'data-rls': r.rlsType },
            h('th', { scope: 'row' }, r.name),
            showUser ? h('td', {}, yesNo(r.masterUserWithoutIdentity)) : null,
            showSp ? h('td', {}, yesNo(r.servicePrincipalWithoutIdentity)) : null,
            h('td', {}, r.considerations.length ? h('ul', {}, r.considerations.map((c) => h('li', {}, c))) : '—'),
            h('td', {}, ruleLinks(r.rules)),
          ),
        ),
      ),
    );
    const note = showSp
      ? h(
          'aside',
          { class: 'note' },
          h('strong', {}, 'Service principal must always provide: '),
          h('ul', {}, caps.servicePrincipalNote.map((n) => h('li', {}, n))),
        )
      : null;
    const dtRows = caps.datasetTypes.filter((d) =>
      kind === 'all' ? true : kind === 'model' ? d.model === value : RLS_MODELS[value as RlsType]?.includes(d.model),
    );
    const dt = dtRows.length
      ? h(
          'table',
          { class: 'caps', id: 'dataset-table' },
          h('caption', {}, 'Effective identity parameters by dataset type'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Dataset type', 'Username', 'CustomData', 'Roles', 'IdentityBlob', 'Additional information', 'Rules'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            dtRows.map((d) =>
              h(
                'tr',
                { 'data-model': d.model },
                h('th', { scope: 'row' }, d.name),
                h('td', {}, d.usernameText),
                h('td', {}, d.customData ? yesNo(true) : h('span', { class: 'no' }, 'Not supported')),
                h('td', {}, d.rolesText),
                h('td', {}, d.identityBlob ? h('span', { class: 'yes' }, d.identityBlobText) : yesNo(false)),
                h('td', {}, d.additional || '—'),
                h('td', {}, ruleLinks(d.rules)),
              ),
            ),
          ),
        )
      : h('p', { class: 'hint' }, `“${identity.title}” does not describe this type.`);
    $('#tables').replaceChildren(
      ...([
      h('h2', {}, 'Row-level security and the caller'),
      h('p', { class: 'intro' }, 'From ', docLink(considerations, 'doc-link', `“${considerations.title}”`), ' on Microsoft Learn.'),
      scroller(rls, 'Row-level security and the caller'),
      note,
      h('h2', {}, 'Effective identity by dataset type'),
      h('p', { class: 'intro' }, 'From ', docLink(identity, 'doc-link', `“${identity.title}”`), ', “Compare dataset types”, on Microsoft Learn.'),
      scroller(dt, 'Effective identity by dataset type'),
    ].filter((x): x is HTMLElement => x !== null)),
    );
    for (const w of document.querySelectorAll<HTMLElement>('.table-wrap')) hint(w);
    $('#status').textContent = `${rlsRows.length} RLS types, ${dtRows.length} dataset types shown`;
  }
  window.addEventListener('resize', () => document.querySelectorAll<HTMLElement>('.table-wrap').forEach(hint));
  callerSel.addEventListener('change', render);
  typeSel.addEventListener('change', render);
  window.addEventListener('hashchange', () => {
    fromHash();
    render();
  });
  render();
}
