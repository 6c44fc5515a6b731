// Token-request form: builds a scenario with form controls; every change re-validates in WASM.
// The scenario object is the only state: the form reads from it and writes through to it, so a
// fix (a JSON Patch from the core) or a shared link simply re-renders the form.
import { $, copy, debounce, h, nextId, say } from './dom';
import { card, rich, scenarioPointer, summary, verdictText } from './diag';
import * as hash from './hash';
import { redact, redactText } from './secrets';
import * as wasm from './wasm';
import type {
  Dataset,
  Diagnostic,
  EffectiveIdentity,
  Endpoint,
  GenerateTokenRequestV2,
  GenerateTokenRequestV2Dataset,
  GenerateTokenRequestV2Report,
  GroupUserAccessRight,
  ModelKind,
  ReportType,
  Scenario,
  ScenarioReport,
  TokenAccessLevel,
  Workspace,
  WorkspaceType,
  XmlaPermissions,
} from './wasm';
// What the page waits for before it starts (main.ts).
export { load } from './wasm';

type Json = Record<string, unknown>;
type Kind = Endpoint['kind'];

/** The sample service principal's object id: a placeholder until the user gives their app's. */
export const SP_OBJECT_ID = '6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01';
/** The sample master user: a placeholder too. */
export const MASTER_UPN = 'embed@contoso.com';
const WS_ID = 'a1a1a1a1-0000-4000-8000-000000000001';
const DS_ID = 'd1d1d1d1-0000-4000-8000-000000000001';
const REPORT_ID = 'e1e1e1e1-0000-4000-8000-000000000001';

/** The starting point: a service principal embedding one report on an RLS dataset. */
export function defaultScenario(): Scenario {
  return {
    caller: { principalType: 'App', objectId: SP_OBJECT_ID },
    endpoint: { kind: 'GenerateTokenV2' },
    workspaces: [{ id: WS_ID, name: 'Contoso', type: 'Workspace', callerAccess: 'Admin' }],
    datasets: [{ id: DS_ID, name: 'Sales', workspaceId: WS_ID, model: 'Import', roles: ['Customer'] }],
    reports: [
      {
        id: REPORT_ID,
        name: 'Sales report',
        workspaceId: WS_ID,
        datasetId: DS_ID,
        reportType: 'PowerBIReport',
        embedUrl: `https://app.powerbi.com/reportEmbed?reportId=${REPORT_ID}&groupId=${WS_ID}`,
      },
    ],
    request: { reports: [{ id: REPORT_ID }], datasets: [{ id: DS_ID }] },
  };
}

const KINDS: [Kind, string][] = [
  ['GenerateTokenV2', 'V2 · POST /GenerateToken (several items)'],
  ['Report', 'V1 · report (view or edit)'],
  ['CreateReport', 'V1 · create a report'],
  ['Dataset', 'V1 · dataset (Q&A)'],
  ['Dashboard', 'V1 · dashboard'],
  ['Tile', 'V1 · dashboard tile'],
];
const KIND_IDS: Record<Kind, string[]> = {
  GenerateTokenV2: [],
  Report: ['groupId', 'reportId'],
  CreateReport: ['groupId'],
  Dataset: ['groupId', 'datasetId'],
  Dashboard: ['groupId', 'dashboardId'],
  Tile: ['groupId', 'dashboardId', 'tileId'],
};
const ID_LABELS: Record<string, string> = {
  groupId: 'Workspace (group) ID',
  reportId: 'Report ID',
  datasetId: 'Dataset ID',
  dashboardId: 'Dashboard ID',
  tileId: 'Tile ID',
};
const MODELS: [ModelKind, string][] = [
  ['Import', 'Import (internal-hosted)'],
  ['DirectQuery', 'DirectQuery (internal-hosted)'],
  ['DirectQueryAzureSqlSso', 'DirectQuery · Azure SQL with SSO'],
  ['DirectLake', 'Direct Lake'],
  ['AzureAnalysisServicesLive', 'Azure Analysis Services · live'],
  ['SqlServerAnalysisServicesLive', 'SQL Server Analysis Services · live (on premises)'],
];
const WS_TYPES: [WorkspaceType, string][] = [
  ['Workspace', 'Workspace (new)'],
  ['Group', 'Classic workspace'],
  ['PersonalGroup', 'My workspace'],
];
const ACCESS: GroupUserAccessRight[] = ['Admin', 'Member', 'Contributor', 'Viewer', 'None'];
const REPORT_TYPES: [ReportType, string][] = [
  ['PowerBIReport', 'Power BI report'],
  ['PaginatedReport', 'Paginated report (RDL)'],
];
const XMLA: XmlaPermissions[] = ['Off', 'ReadOnly'];
const ACCESS_LEVELS: TokenAccessLevel[] = ['View', 'Edit', 'Create'];

// ---------------------------------------------------------------------------------------------
// State

let state: Scenario = defaultScenario();
/** Field wrappers by the scenario pointer they edit (diagnostics land on the nearest one). */
let fields = new Map<string, HTMLElement>();

const isV2 = () => state.endpoint.kind === 'GenerateTokenV2';
const req = (): Json => {
  if (!state.request || typeof state.request !== 'object' || Array.isArray(state.request)) state.request = {};
  return state.request as Json;
};
const reqList = <T>(key: string): T[] => {
  const r = req();
  if (!Array.isArray(r[key])) r[key] = [];
  return r[key] as T[];
};
const dropEmptyList = (key: string) => {
  const r = req();
  if (Array.isArray(r[key]) && (r[key] as unknown[]).length === 0) delete r[key];
};
const sameId = (a?: string | null, b?: string | null) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
/** The id a rename starts from: empty matches empty (a field cleared, then typed into again). */
const renamedFrom = (x: string | null | undefined, old: string) => (x ?? '').toLowerCase() === old.toLowerCase();
const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** Sets or deletes an optional string member. */
function setOpt(obj: Json, key: string, value: string) {
  if (value.trim() === '') delete obj[key];
  else obj[key] = value;
}

// ---------------------------------------------------------------------------------------------
// Controls

interface FieldOpts {
  label: string;
  pointers: string[];
  hint?: string;
  wide?: boolean;
  /** A GUID field: twice as wide. */
  id?: boolean;
}

/** A labelled control with a slot for the diagnostics its pointers collect. */
function field(o: FieldOpts, control: HTMLElement): HTMLElement {
  const id = control.id || nextId('f');
  control.id = id;
  const diags = h('div', { class: 'field-diags', id: `${id}-diags` });
  const hint = o.hint ? h('span', { class: 'hint', id: `${id}-hint` }, o.hint) : null;
  if (hint) control.setAttribute('aria-describedby', hint.id);
  const wrap = h(
    'div',
    { class: `field${o.wide ? ' wide' : ''}${o.id ? ' id' : ''}`, 'data-pointer': o.pointers[0] },
    control.getAttribute('type') === 'checkbox'
      ? h('label', { class: 'check', for: id }, control, h('span', {}, o.label))
      : [h('label', { for: id }, o.label), control],
    hint,
    diags,
  );
  for (const p of o.pointers) fields.set(p, wrap);
  return wrap;
}

function text(value: string | null | undefined, onInput: (v: string) => void, attrs: Record<string, string> = {}) {
  const el = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off', ...attrs });
  el.value = value ?? '';
  el.addEventListener('input', () => {
    onInput(el.value);
    changed();
  });
  return el;
}

function select<T extends string>(
  options: [T, string][],
  value: T | null | undefined,
  onChange: (v: T) => void,
  opts: { structural?: boolean; blank?: string } = {},
) {
  const el = h(
    'select',
    {},
    opts.blank !== undefined ? h('option', { value: '' }, opts.blank) : null,
    options.map(([v, label]) => h('option', { value: v }, label)),
  );
  el.value = value ?? '';
  el.addEventListener('change', () => {
    onChange(el.value as T);
    if (opts.structural) rerender(el.id ? `#${el.id}` : undefined);
    else changed();
  });
  return el;
}

/** A checkbox; a `structural` one rebuilds the form and gets the focus back through its `key`. */
function checkbox(checked: boolean, onChange: (v: boolean) => void, structural = false, key?: string) {
  const el = h('input', { type: 'checkbox', 'data-key': key });
  el.checked = checked;
  el.addEventListener('change', () => {
    onChange(el.checked);
    if (structural) rerender(key ? `[data-key="${key}"]` : undefined);
    else changed();
  });
  return el;
}

function section(id: string, title: string, pointer: string | null, intro: string | null, ...body: (HTMLElement | null)[]) {
  const diags = h('div', { class: 'field-diags section-diags', id: `${id}-diags` });
  const el = h(
    'section',
    { class: 'card', id, 'aria-labelledby': `${id}-title`, 'data-pointer': pointer ?? undefined },
    h('h2', { id: `${id}-title` }, title),
    intro ? h('p', { class: 'intro' }, intro) : null,
    diags,
    ...body,
  );
  if (pointer) fields.set(pointer, el);
  return el;
}

function removeButton(label: string, onClick: () => void) {
  return h('button', { type: 'button', class: 'icon remove', 'aria-label': label, title: label, onclick: onClick }, '✕');
}

function addButton(label: string, onClick: () => void, testid: string) {
  return h('button', { type: 'button', class: 'add', 'data-testid': testid, onclick: onClick }, `+ ${label}`);
}

// ---------------------------------------------------------------------------------------------
// Sections

function callerSection(): HTMLElement {
  const c = state.caller;
  const mode = c.principalType === 'App' ? (c.profile ? 'profile' : 'sp') : 'user';
  const radios = h(
    'div',
    { class: 'segmented', role: 'radiogroup', 'aria-label': 'Caller' },
    (
      [
        ['user', 'Master user'],
        ['sp', 'Service principal'],
        ['profile', 'Service principal profile'],
      ] as const
    ).map(([v, label]) => {
      const input = h('input', { type: 'radio', name: 'caller-kind', value: v, id: `caller-${v}` });
      input.checked = mode === v;
      input.addEventListener('change', () => {
        if (!input.checked) return;
        setCallerMode(v);
        rerender(`#caller-${v}`);
      });
      return h('label', { for: `caller-${v}`, class: 'seg' }, input, h('span', {}, label));
    }),
  );
  const kindField = h('div', { class: 'field wide', 'data-pointer': '/caller/principalType' }, radios, h('div', { class: 'field-diags' }));
  fields.set('/caller', kindField);
  fields.set('/caller/principalType', kindField);
  const row = h('div', { class: 'grid' });
  if (mode === 'user') {
    row.append(
      field(
        { label: 'User principal name', pointers: ['/caller/upn'], hint: 'The master user account, e.g. embed@contoso.com' },
        text(c.upn, (v) => setOpt(c as unknown as Json, 'upn', v), { id: 'caller-upn', placeholder: 'embed@contoso.com' }),
      ),
    );
  } else {
    row.append(
      field(
        { label: 'Service principal object ID', id: true, pointers: ['/caller/objectId'], hint: 'The object ID, not the app (client) ID' },
        text(c.objectId, (v) => setOpt(c as unknown as Json, 'objectId', v), { id: 'caller-object-id' }),
      ),
    );
  }
  if (mode === 'profile') {
    const p = c.profile!;
    row.append(
      field(
        { label: 'Profile ID', id: true, pointers: ['/caller/profile', '/caller/profile/id'], hint: 'Sent as X-PowerBI-Profile-Id' },
        text(p.id, (v) => (p.id = v), { id: 'caller-profile-id' }),
      ),
      field(
        { label: 'Profile display name', pointers: ['/caller/profile/displayName'] },
        text(p.displayName, (v) => setOpt(p as unknown as Json, 'displayName', v), { id: 'caller-profile-name' }),
      ),
    );
  }
  return section('caller', 'Caller', null, 'Who calls GenerateToken.', kindField, row);
}

const remembered: { upn?: string | null; objectId?: string | null; profileId?: string; profileName?: string | null } = {};

function setCallerMode(mode: 'user' | 'sp' | 'profile') {
  const c = state.caller;
  // What the mode being left holds, also when the user emptied it (a cleared UPN stays cleared).
  if (c.principalType === 'User') remembered.upn = c.upn ?? '';
  else remembered.objectId = c.objectId ?? '';
  if (c.profile) {
    remembered.profileId = c.profile.id;
    remembered.profileName = c.profile.displayName;
  }
  const next: Scenario['caller'] =
    mode === 'user'
      ? { principalType: 'User', upn: remembered.upn ?? 'embed@contoso.com' }
      : { principalType: 'App', objectId: remembered.objectId ?? SP_OBJECT_ID };
  if (mode === 'profile') {
    next.profile = { id: remembered.profileId ?? '0c0c0c0c-1111-4111-8111-000000000001', displayName: remembered.profileName ?? 'Contoso' };
  }
  state.caller = next;
}

function endpointSection(): HTMLElement {
  const kind = state.endpoint.kind;
  const kindSelect = select(KINDS, kind, (v) => setEndpointKind(v), { structural: true });
  kindSelect.id = 'endpoint-kind';
  const grid = h(
    'div',
    { class: 'grid' },
    field({ label: 'Endpoint', pointers: ['/endpoint', '/endpoint/kind'], wide: true }, kindSelect),
  );
  const ep = state.endpoint as unknown as Json;
  for (const key of KIND_IDS[kind]) {
    grid.append(
      field(
        { label: ID_LABELS[key], id: true, pointers: [`/endpoint/${key}`] },
        text(ep[key] as string, (v) => (ep[key] = v), { id: `endpoint-${key}` }),
      ),
    );
  }
  if (!isV2()) {
    const r = req();
    grid.append(
      field(
        { label: 'Access level', pointers: ['/request/accessLevel'] },
        select(
          ACCESS_LEVELS.map((a) => [a, a]),
          r.accessLevel as TokenAccessLevel,
          (v) => setOpt(r, 'accessLevel', v),
          { blank: '(not set)' },
        ),
      ),
    );
    if (kind === 'CreateReport') {
      grid.append(
        field(
          { label: 'Dataset ID (for the new report)', pointers: ['/request/datasetId'] },
          text(r.datasetId as string, (v) => setOpt(r, 'datasetId', v), { list: 'dataset-ids', 'data-testid': 'request-datasetId' }),
        ),
      );
    }
    if (kind === 'Report' || kind === 'CreateReport') {
      grid.append(
        field(
          { label: 'Allow Save As', pointers: ['/request/allowSaveAs'] },
          checkbox(r.allowSaveAs === true, (v) => (v ? (r.allowSaveAs = true) : delete r.allowSaveAs)),
        ),
      );
    }
  }
  return section('endpoint', 'Endpoint', null, null, grid, h('p', { class: 'path', id: 'endpoint-path' }));
}

/** The V2 body while a V1 endpoint is chosen: switching back to V2 restores it. */
let parkedV2: Json | undefined;

function setEndpointKind(kind: Kind) {
  const old = state.endpoint as unknown as Json;
  const wasV2 = isV2();
  const next: Json = { kind };
  const guess: Record<string, string | undefined> = {
    groupId: state.workspaces?.[0]?.id,
    reportId: state.reports?.[0]?.id,
    datasetId: state.datasets?.[0]?.id,
    dashboardId: '',
    tileId: '',
  };
  for (const key of KIND_IDS[kind]) next[key] = (old[key] as string) ?? guess[key] ?? '';
  state.endpoint = next as unknown as Endpoint;
  const r = req();
  if (wasV2 && kind !== 'GenerateTokenV2') {
    // V1 body: identities and lifetime carry over; the item lists belong to V2.
    const v1: Json = { accessLevel: kind === 'CreateReport' ? 'Create' : 'View' };
    if (kind === 'CreateReport' && state.datasets?.[0]) v1.datasetId = state.datasets[0].id;
    for (const k of ['identities', 'lifetimeInMinutes']) if (k in r) v1[k] = r[k];
    parkedV2 = r;
    state.request = v1;
  } else if (!wasV2 && kind === 'GenerateTokenV2') {
    const v2: GenerateTokenRequestV2 & Json = parkedV2 ?? {};
    if (!parkedV2) {
      if (state.reports?.length) v2.reports = state.reports.map((x) => ({ id: x.id }));
      if (state.datasets?.length) v2.datasets = state.datasets.map((x) => ({ id: x.id }));
    }
    // Identities and lifetime were edited on the V1 body meanwhile.
    for (const k of ['identities', 'lifetimeInMinutes'] as const) {
      if (k in r) (v2 as Json)[k] = r[k];
      else delete (v2 as Json)[k];
    }
    parkedV2 = undefined;
    state.request = v2;
  } else if (!wasV2 && kind !== 'GenerateTokenV2') {
    // Another V1 item: the body keeps only what the new endpoint accepts.
    if (kind === 'CreateReport') {
      r.accessLevel = 'Create';
      if (!r.datasetId && state.datasets?.[0]) r.datasetId = state.datasets[0].id;
    } else {
      if (r.accessLevel === 'Create' || (r.accessLevel === 'Edit' && kind !== 'Report')) r.accessLevel = 'View';
      delete r.datasetId;
    }
    if (kind !== 'Report' && kind !== 'CreateReport') delete r.allowSaveAs;
  }
}

/** Index of the request entry (`request.<key>[i]`) with this id, or -1. */
function entryIndex(key: string, id: string): number {
  const list = req()[key];
  return isV2() && Array.isArray(list) ? (list as { id: string }[]).findIndex((e) => sameId(e?.id, id)) : -1;
}

function toggleEntry(key: string, id: string, on: boolean) {
  const list = reqList<{ id: string }>(key);
  const i = list.findIndex((e) => sameId(e.id, id));
  if (on && i < 0) list.push({ id });
  if (!on && i >= 0) list.splice(i, 1);
  dropEmptyList(key);
}

/**
 * Renames an item of `kind` everywhere the scenario names it (the request's lists, the identities,
 * other items, the endpoint), then shows the new id in the fields that display those references.
 */
function renameId(kind: 'workspace' | 'dataset' | 'report', oldId: string, newId: string) {
  const swap = (o: Json, key: string) => {
    if (typeof o[key] === 'string' && renamedFrom(o[key] as string, oldId)) o[key] = newId;
  };
  const swapAll = (list: unknown) => {
    if (Array.isArray(list)) for (const e of list) if (e && typeof e === 'object') swap(e as Json, 'id');
  };
  const swapIds = (o: Json, key: string) => {
    if (Array.isArray(o[key])) o[key] = (o[key] as unknown[]).map((x) => (typeof x === 'string' && renamedFrom(x, oldId) ? newId : x));
  };
  // Another item still has the old id (the new one passed through it while being typed): the
  // references may be that item's, so they stay.
  const items = { workspace: state.workspaces, dataset: state.datasets, report: state.reports }[kind] ?? [];
  if (items.some((x) => renamedFrom(x.id, oldId))) return showReferences();
  const r = req();
  // The V2 body's lists, also while a V1 endpoint is chosen and the V2 body is parked.
  const v2 = isV2() ? r : (parkedV2 ?? {});
  const identities = Array.isArray(r.identities) ? (r.identities as Json[]) : [];
  const ep = state.endpoint as unknown as Json;
  if (kind === 'workspace') {
    swapAll(v2.targetWorkspaces);
    for (const d of state.datasets ?? []) swap(d as unknown as Json, 'workspaceId');
    for (const x of state.reports ?? []) for (const k of ['workspaceId', 'datasetWorkspaceId']) swap(x as unknown as Json, k);
    for (const x of state.dashboards ?? []) swap(x as unknown as Json, 'workspaceId');
    swap(ep, 'groupId');
  } else if (kind === 'dataset') {
    swapAll(v2.datasets);
    for (const idn of identities) swapIds(idn, 'datasets');
    for (const x of state.reports ?? []) swap(x as unknown as Json, 'datasetId');
    swap(ep, 'datasetId');
    if (!isV2()) swap(r, 'datasetId');
  } else {
    swapAll(v2.reports);
    for (const idn of identities) swapIds(idn, 'reports');
    swap(ep, 'reportId');
  }
  showReferences();
}

/** Fields that display other items' ids, set again from the state (after a rename). */
function showReferences() {
  const show = (selector: string, value: string) => {
    const el = document.querySelector<HTMLInputElement>(selector);
    if (el && el.value !== value) el.value = value;
  };
  const r = req();
  const identities = Array.isArray(r.identities) ? (r.identities as EffectiveIdentity[]) : [];
  identities.forEach((idn, i) => {
    show(`[data-testid="identity-${i}-datasets"]`, (idn.datasets ?? []).join(', '));
    show(`[data-testid="identity-${i}-reports"]`, (idn.reports ?? []).join(', '));
  });
  (state.datasets ?? []).forEach((d, i) => show(`[data-testid="dataset-${i}-workspace"]`, d.workspaceId ?? ''));
  (state.reports ?? []).forEach((x, i) => {
    show(`[data-testid="report-${i}-workspace"]`, x.workspaceId ?? '');
    show(`[data-testid="report-${i}-dataset"]`, x.datasetId ?? '');
  });
  const ep = state.endpoint as unknown as Json;
  for (const key of KIND_IDS[state.endpoint.kind]) show(`#endpoint-${key}`, (ep[key] as string) ?? '');
  if (!isV2()) show('[data-testid="request-datasetId"]', (r.datasetId as string) ?? '');
  $('#form').querySelector(':scope > [hidden]')?.replaceWith(datalists());
}

function workspacesSection(): HTMLElement {
  const list = (state.workspaces ??= []);
  const rows = list.map((w: Workspace, i) => {
    const p = `/workspaces/${i}`;
    const t = entryIndex('targetWorkspaces', w.id);
    const row = h(
      'div',
      { class: 'row', 'data-row': p, role: 'group', 'aria-labelledby': `row-workspaces-${i}-title` },
      h('div', { class: 'row-head' }, h('h3', { id: `row-workspaces-${i}-title` }, `Workspace ${i + 1}`), removeButton(`Remove workspace ${i + 1}`, () => removeAt('workspaces', i, 'targetWorkspaces'))),
      h(
        'div',
        { class: 'grid' },
        field(
          { label: 'ID', id: true, pointers: [p, `${p}/id`] },
          text(w.id, (v) => {
            const old = w.id;
            w.id = v;
            renameId('workspace', old, v);
          }, { 'data-testid': `workspace-${i}-id` }),
        ),
        field({ label: 'Name', pointers: [`${p}/name`] }, text(w.name, (v) => setOpt(w as unknown as Json, 'name', v))),
        field({ label: 'Type', pointers: [`${p}/type`] }, select(WS_TYPES, w.type, (v) => (w.type = v))),
        field(
          { label: 'Caller’s access', pointers: [`${p}/callerAccess`, `${p}/users`] },
          select(ACCESS.map((a) => [a, a]), w.callerAccess, (v) => setOpt(w as unknown as Json, 'callerAccess', v), { blank: '(unknown)' }),
        ),
        isV2()
          ? field(
              {
                label: 'Target workspace (token may create reports here)',
                pointers: t >= 0 ? [`/request/targetWorkspaces/${t}`, `/request/targetWorkspaces/${t}/id`] : [],
                wide: true,
              },
              checkbox(t >= 0, (on) => toggleEntry('targetWorkspaces', w.id, on), true, `workspace-${i}-target`),
            )
          : null,
      ),
    );
    fields.set(p, row);
    return row;
  });
  const s = section(
    'workspaces',
    'Workspaces',
    '/workspaces',
    'Where the items live, and the caller’s access right in each.',
    ...rows,
    addButton('Add workspace', () => addWorkspace(), 'add-workspace'),
  );
  if (isV2()) fields.set('/request/targetWorkspaces', s);
  return s;
}

function addWorkspace() {
  const list = (state.workspaces ??= []);
  const [id, n] = freshId('a1a1a1a1', list);
  list.push({ id, name: `Workspace ${n}`, type: 'Workspace', callerAccess: 'Admin' });
  rerender(`[data-row="/workspaces/${list.length - 1}"] .grid input`);
}

function datasetsSection(): HTMLElement {
  const list = (state.datasets ??= []);
  const rows = list.map((d: Dataset, i) => {
    const p = `/datasets/${i}`;
    const e = entryIndex('datasets', d.id);
    const entry = e >= 0 ? reqList<GenerateTokenRequestV2Dataset>('datasets')[e] : undefined;
    const ep = `/request/datasets/${e}`;
    const row = h(
      'div',
      { class: 'row', 'data-row': p, role: 'group', 'aria-labelledby': `row-datasets-${i}-title` },
      h('div', { class: 'row-head' }, h('h3', { id: `row-datasets-${i}-title` }, d.name || `Dataset ${i + 1}`), removeButton(`Remove dataset ${i + 1}`, () => removeAt('datasets', i, 'datasets'))),
      h(
        'div',
        { class: 'grid' },
        field(
          { label: 'ID', id: true, pointers: [p, `${p}/id`, ...(e >= 0 ? [ep, `${ep}/id`] : [])] },
          text(d.id, (v) => {
            const old = d.id;
            d.id = v;
            renameId('dataset', old, v);
          }, { 'data-testid': `dataset-${i}-id` }),
        ),
        field({ label: 'Name', pointers: [`${p}/name`] }, text(d.name, (v) => setOpt(d as unknown as Json, 'name', v))),
        field(
          { label: 'Workspace', id: true, pointers: [`${p}/workspaceId`] },
          text(d.workspaceId, (v) => setOpt(d as unknown as Json, 'workspaceId', v), { list: 'workspace-ids', 'data-testid': `dataset-${i}-workspace` }),
        ),
        field(
          { label: 'Model (dataset type)', pointers: [`${p}/model`, `${p}/datasources`] },
          select(MODELS, d.model, (v) => setOpt(d as unknown as Json, 'model', v), { blank: '(infer)' }),
        ),
        field(
          {
            label: 'RLS roles in the model',
            pointers: [`${p}/roles`, `${p}/isEffectiveIdentityRequired`, `${p}/isEffectiveIdentityRolesRequired`],
            hint: 'Comma-separated; empty: the model has no RLS',
          },
          text((d.roles ?? []).join(', '), (v) => (d.roles = splitList(v)), { 'data-testid': `dataset-${i}-roles` }),
        ),
        isV2()
          ? field(
              { label: 'In the token request', pointers: [] },
              checkbox(e >= 0, (on) => toggleEntry('datasets', d.id, on), true, `dataset-${i}-in-request`),
            )
          : null,
        entry
          ? field(
              { label: 'XMLA permissions', pointers: [`${ep}/xmlaPermissions`] },
              select(XMLA.map((x) => [x, x]), entry.xmlaPermissions, (v) => setOpt(entry as unknown as Json, 'xmlaPermissions', v), {
                blank: '(default: Off)',
              }),
            )
          : null,
      ),
    );
    fields.set(p, row);
    return row;
  });
  const s = section(
    'datasets',
    'Datasets (semantic models)',
    '/datasets',
    'Each dataset’s type and the RLS roles its model defines.',
    ...rows,
    addButton('Add dataset', () => addDataset(), 'add-dataset'),
  );
  if (isV2()) fields.set('/request/datasets', s);
  return s;
}

function addDataset() {
  const list = (state.datasets ??= []);
  const [id, n] = freshId('d1d1d1d1', list);
  list.push({ id, name: `Dataset ${n}`, workspaceId: state.workspaces?.[0]?.id ?? WS_ID, model: 'Import', roles: [] });
  if (isV2()) toggleEntry('datasets', id, true);
  rerender(`[data-row="/datasets/${list.length - 1}"] .grid input`);
}

function reportsSection(): HTMLElement {
  const list = (state.reports ??= []);
  const rows = list.map((r: ScenarioReport, i) => {
    const p = `/reports/${i}`;
    const e = entryIndex('reports', r.id);
    const entry = e >= 0 ? reqList<GenerateTokenRequestV2Report>('reports')[e] : undefined;
    const ep = `/request/reports/${e}`;
    const row = h(
      'div',
      { class: 'row', 'data-row': p, role: 'group', 'aria-labelledby': `row-reports-${i}-title` },
      h('div', { class: 'row-head' }, h('h3', { id: `row-reports-${i}-title` }, r.name || `Report ${i + 1}`), removeButton(`Remove report ${i + 1}`, () => removeAt('reports', i, 'reports'))),
      h(
        'div',
        { class: 'grid' },
        field(
          { label: 'ID', id: true, pointers: [p, `${p}/id`, ...(e >= 0 ? [ep, `${ep}/id`] : [])] },
          text(r.id, (v) => {
            const old = r.id;
            r.id = v;
            renameId('report', old, v);
          }, { 'data-testid': `report-${i}-id` }),
        ),
        field({ label: 'Name', pointers: [`${p}/name`] }, text(r.name, (v) => setOpt(r as unknown as Json, 'name', v))),
        field(
          { label: 'Workspace', id: true, pointers: [`${p}/workspaceId`] },
          text(r.workspaceId, (v) => setOpt(r as unknown as Json, 'workspaceId', v), { list: 'workspace-ids', 'data-testid': `report-${i}-workspace` }),
        ),
        field(
          { label: 'Dataset', id: true, pointers: [`${p}/datasetId`, `${p}/datasetWorkspaceId`] },
          text(r.datasetId, (v) => setOpt(r as unknown as Json, 'datasetId', v), { list: 'dataset-ids', 'data-testid': `report-${i}-dataset` }),
        ),
        field({ label: 'Report type', pointers: [`${p}/reportType`] }, select(REPORT_TYPES, r.reportType ?? 'PowerBIReport', (v) => (r.reportType = v))),
        isV2()
          ? field({ label: 'In the token request', pointers: [] }, checkbox(e >= 0, (on) => toggleEntry('reports', r.id, on), true, `report-${i}-in-request`))
          : null,
        entry
          ? field(
              { label: 'Allow edit', pointers: [`${ep}/allowEdit`] },
              checkbox(entry.allowEdit === true, (v) => (v ? (entry.allowEdit = true) : delete entry.allowEdit)),
            )
          : null,
      ),
    );
    fields.set(p, row);
    return row;
  });
  const s = section('reports', 'Reports', '/reports', null, ...rows, addButton('Add report', () => addReport(), 'add-report'));
  if (isV2()) fields.set('/request/reports', s);
  return s;
}

function addReport() {
  const list = (state.reports ??= []);
  const [id, n] = freshId('e1e1e1e1', list);
  const ws = state.workspaces?.[0]?.id ?? WS_ID;
  list.push({
    id,
    name: `Report ${n}`,
    workspaceId: ws,
    datasetId: state.datasets?.[0]?.id,
    reportType: 'PowerBIReport',
    embedUrl: `https://app.powerbi.com/reportEmbed?reportId=${id}&groupId=${ws}`,
  });
  if (isV2()) toggleEntry('reports', id, true);
  rerender(`[data-row="/reports/${list.length - 1}"] .grid input`);
}

function identitiesSection(): HTMLElement {
  const r = req();
  const list = Array.isArray(r.identities) ? (r.identities as EffectiveIdentity[]) : [];
  const rows = list.map((idn, i) => {
    const p = `/request/identities/${i}`;
    const o = idn as unknown as Json;
    const row = h(
      'div',
      { class: 'row', 'data-row': p, role: 'group', 'aria-labelledby': `row-identities-${i}-title` },
      h('div', { class: 'row-head' }, h('h3', { id: `row-identities-${i}-title` }, `Identity ${i + 1}`), removeButton(`Remove identity ${i + 1}`, () => removeIdentity(i))),
      h(
        'div',
        { class: 'grid' },
        field(
          { label: 'Username', pointers: [p, `${p}/username`], hint: 'USERNAME() in the model; built on your server from the signed-in user' },
          text(idn.username, (v) => setOpt(o, 'username', v), { 'data-testid': `identity-${i}-username` }),
        ),
        field(
          { label: 'Roles', pointers: [`${p}/roles`], hint: 'Comma-separated RLS role names' },
          text((idn.roles ?? []).join(', '), (v) => listOpt(o, 'roles', v), { 'data-testid': `identity-${i}-roles` }),
        ),
        field(
          { label: 'Datasets', id: true, pointers: [`${p}/datasets`], hint: 'Comma-separated dataset IDs' },
          text((idn.datasets ?? []).join(', '), (v) => listOpt(o, 'datasets', v), { list: 'dataset-ids', 'data-testid': `identity-${i}-datasets` }),
        ),
        field(
          { label: 'Custom data', pointers: [`${p}/customData`], hint: 'CUSTOMDATA() in the model' },
          text(idn.customData, (v) => setOpt(o, 'customData', v)),
        ),
        field(
          {
            label: 'Identity blob (SSO access token)',
            pointers: [`${p}/identityBlob`, `${p}/identityBlob/value`],
            hint: 'A secret: kept out of the URL and shared links',
          },
          text(idn.identityBlob?.value, (v) => (v.trim() ? (idn.identityBlob = { value: v }) : delete o.identityBlob)),
        ),
        field(
          { label: 'Paginated reports', pointers: [`${p}/reports`], hint: 'Comma-separated report IDs (RDL only)' },
          text((idn.reports ?? []).join(', '), (v) => listOpt(o, 'reports', v), { 'data-testid': `identity-${i}-reports` }),
        ),
      ),
    );
    fields.set(p, row);
    return row;
  });
  return section(
    'identities',
    'Effective identities',
    '/request/identities',
    'Row-level security: who the report is rendered for.',
    ...rows,
    addButton('Add identity', () => addIdentity(), 'add-identity'),
  );
}

function listOpt(o: Json, key: string, v: string) {
  const items = splitList(v);
  if (items.length) o[key] = items;
  else delete o[key];
}

function addIdentity() {
  const r = req();
  const list = Array.isArray(r.identities) ? (r.identities as EffectiveIdentity[]) : [];
  r.identities = list;
  const rls = (state.datasets ?? []).filter((d) => (d.roles?.length ?? 0) > 0 || d.isEffectiveIdentityRequired);
  const datasets = (rls.length ? rls : (state.datasets ?? [])).map((d) => d.id);
  list.push({ username: '', datasets });
  rerender(`[data-testid="identity-${list.length - 1}-username"]`);
}

function removeIdentity(i: number) {
  const before = structuredClone(state);
  const r = req();
  (r.identities as unknown[]).splice(i, 1);
  if ((r.identities as unknown[]).length === 0) delete r.identities;
  removed(`Identity ${i + 1}`, before, '[data-testid="add-identity"]', `[aria-labelledby="row-identities-${i}-title"] :is(input, select)`);
}

function removeAt(key: 'workspaces' | 'datasets' | 'reports', i: number, reqKey: string) {
  const before = structuredClone(state);
  const list = state[key] as { id: string; name?: string }[];
  const [gone] = list.splice(i, 1);
  if (gone && isV2()) toggleEntry(reqKey, gone.id, false);
  const what = `${key.charAt(0).toUpperCase()}${key.slice(1, -1)} ${gone?.name || i + 1}`;
  removed(what, before, `[data-testid="add-${key.slice(0, -1)}"]`, `[aria-labelledby="row-${key}-${i}-title"] :is(input, select)`);
}

/** Set while a removal's rerender runs, so that its own check does not withdraw the undo. */
let offeringUndo = false;

/**
 * After a removal: the form without the item, and an Undo that brings back the state as it was
 * (withdrawn at the next edit, which Undo would otherwise throw away).
 */
function removed(what: string, before: Scenario, focus: string, restoredFocus: string) {
  offeringUndo = true;
  rerender(focus);
  offeringUndo = false;
  const bar = $('#undo');
  bar.replaceChildren(
    h('span', {}, `${what} removed.`),
    h('button', {
      type: 'button',
      class: 'secondary',
      id: 'undo-remove',
      onclick: () => {
        bar.hidden = true;
        state = before;
        rerender(restoredFocus);
        say(`${what} restored`);
      },
    }, 'Undo'),
  );
  bar.hidden = false;
  say(`${what} removed. Undo is available.`);
}

function optionsSection(): HTMLElement {
  const r = req();
  // A text field: a number field reads "1e" as empty and rounds past 2^53, so the body would lose
  // or change what was typed. A whole number JS holds exactly goes in as a number; anything else
  // goes in as typed, and the core reports it at this field.
  const life = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', id: 'lifetime' });
  life.value = r.lifetimeInMinutes == null ? '' : String(r.lifetimeInMinutes);
  life.addEventListener('input', () => {
    const t = life.value.trim();
    if (t === '') delete r.lifetimeInMinutes;
    else r.lifetimeInMinutes = /^-?\d+$/.test(t) && Number.isSafeInteger(Number(t)) ? Number(t) : t;
    changed();
  });
  return section(
    'options',
    'Token options',
    null,
    null,
    h(
      'div',
      { class: 'grid' },
      field({ label: 'Lifetime (minutes)', pointers: ['/request/lifetimeInMinutes'], hint: 'Can only shorten the token; empty or 0: default' }, life),
    ),
  );
}

function fakeId(prefix: string, n: number) {
  return `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** A placeholder id no item of `list` has yet (after a removal, the next number may be taken), with its number. */
function freshId(prefix: string, list: { id: string }[]): [string, number] {
  for (let n = list.length + 1; ; n++) {
    const id = fakeId(prefix, n);
    if (!list.some((x) => sameId(x.id, id))) return [id, n];
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering, validation, preview

function datalists(): HTMLElement {
  return h(
    'div',
    { hidden: true },
    h('datalist', { id: 'workspace-ids' }, (state.workspaces ?? []).map((w) => h('option', { value: w.id }, w.name ?? ''))),
    h('datalist', { id: 'dataset-ids' }, (state.datasets ?? []).map((d) => h('option', { value: d.id }, d.name ?? ''))),
  );
}

/** Rebuilds the form from the state; `focus` is a selector to focus afterwards. */
function rerender(focus?: string) {
  const form = $('#form');
  fields = new Map();
  form.replaceChildren(
    callerSection(),
    endpointSection(),
    workspacesSection(),
    datasetsSection(),
    reportsSection(),
    identitiesSection(),
    optionsSection(),
    datalists(),
  );
  // The request body as a whole (and members the form has no control for, such as V2's
  // accessLevel): the endpoint decides which body is sent.
  fields.set('/request', $('#endpoint'));
  changed();
  if (focus) (form.querySelector<HTMLElement>(focus) ?? document.querySelector<HTMLElement>(focus))?.focus();
}

/** The nearest field wrapper for a pointer (its own, else its closest ancestor's). */
function fieldFor(pointer: string): HTMLElement | undefined {
  let p = pointer;
  for (;;) {
    const f = fields.get(p);
    if (f) return f;
    if (p === '') return undefined;
    p = p.slice(0, Math.max(0, p.lastIndexOf('/')));
  }
}

/**
 * Where a diagnostic is shown: its pointer's own field. When that is only a whole section, or only
 * an ancestor has a field (a missing member), the field its fix writes, if the form has one
 * (EG0503 points at `/request`; its fix adds `/request/datasetId`).
 */
function placeFor(d: Diagnostic): HTMLElement | undefined {
  const p = scenarioPointer(d);
  const own = fields.get(p);
  if (own && !own.matches('section')) return own;
  for (const op of d.fix?.patch ?? []) {
    const f = op.op === 'remove' ? undefined : fields.get(op.path.replace(/\/-$/, ''));
    if (f && !f.matches('section')) return f;
  }
  return own ?? fieldFor(p);
}

function fieldLabel(wrap: HTMLElement): string {
  // A row (an identity, a dataset) is named by its heading, not by its first field.
  const own = wrap.matches('.row, section') ? null : wrap.querySelector('label')?.textContent;
  const label = own ?? wrap.querySelector('h2, h3')?.textContent ?? '';
  const row = wrap.closest('.row')?.querySelector('h3')?.textContent;
  const sec = wrap.closest('section')?.querySelector('h2')?.textContent;
  return [sec, row && row !== label ? row : null, label !== sec ? label : null].filter(Boolean).join(' › ');
}

/** Moves to a field: its first control; for a row or a section, the first one that edits (not a Remove button). */
function focusField(wrap: HTMLElement) {
  const control = wrap.matches('input, select, textarea, button')
    ? wrap
    : (wrap.querySelector<HTMLElement>('.grid input, .grid select, .grid textarea') ??
      wrap.querySelector<HTMLElement>('input, select, textarea, button'));
  wrap.scrollIntoView({ block: 'center', behavior: 'smooth' });
  control?.focus({ preventScroll: true });
}

let lastAnnounced = '';
const announce = debounce((text: string) => {
  const live = $('#status');
  if (text !== lastAnnounced) {
    live.textContent = text;
    lastAnnounced = text;
  }
}, 400);

function applyDiagnosticFix(d: Diagnostic) {
  if (!d.fix) return;
  try {
    state = wasm.applyFix(state, d.fix);
  } catch (e) {
    $('#status').textContent = `The fix could not be applied: ${(e as Error).message}`;
    return;
  }
  rerender();
  const wrap = placeFor(d);
  if (wrap) focusField(wrap);
}

/** Re-validates, places every diagnostic next to its field, refreshes preview and URL. */
function changed() {
  if (!offeringUndo) $('#undo').hidden = true;
  let report;
  try {
    report = wasm.validate(state);
  } catch (e) {
    $('#summary').replaceChildren(h('p', { class: 'error' }, String(e)));
    return;
  }
  // Clear old marks.
  for (const el of document.querySelectorAll('#form .field-diags')) el.replaceChildren();
  for (const el of document.querySelectorAll('#form [aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of document.querySelectorAll('#form .has-error, #form .has-warning')) el.classList.remove('has-error', 'has-warning');

  const list = h('div', { class: 'diag-list' });
  for (const d of report.diagnostics) {
    const p = scenarioPointer(d);
    const wrap = placeFor(d);
    const where = wrap ? fieldLabel(wrap) : p;
    const onFix = d.fix ? () => applyDiagnosticFix(d) : undefined;
    list.append(card(d, { where, onGoto: wrap ? () => focusField(wrap) : undefined, onFix }));
    if (wrap) {
      const slot = wrap.querySelector(':scope > .field-diags') ?? wrap.querySelector('.field-diags');
      slot?.append(
        h(
          'p',
          { class: `inline-diag inline-${d.severity}`, 'data-code': d.code, 'data-pointer': p },
          h('code', {}, d.code),
          ' ',
          ...rich(d.message),
          onFix
            ? h(
                'button',
                { type: 'button', class: 'fix small', onclick: onFix, 'data-fix': d.code, 'aria-label': `Fix ${d.code}: ${d.fix!.title}` },
                'Fix',
              )
            : null,
        ),
      );
      if (d.severity !== 'info') wrap.classList.add(d.severity === 'error' ? 'has-error' : 'has-warning');
      const control = wrap.matches('section') ? null : wrap.querySelector('input, select');
      if (control && d.severity === 'error') {
        control.setAttribute('aria-invalid', 'true');
        const ids = new Set((control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
        if (slot?.id) ids.add(slot.id);
        control.setAttribute('aria-describedby', [...ids].join(' '));
      }
    }
  }
  if (report.diagnostics.length === 0) list.append(h('p', { class: 'all-clear' }, 'No findings: Power BI should accept this request.'));
  $('#summary').replaceChildren(summary(report), list);
  // The verdict stays in view on a narrow screen, where the findings are far below the form.
  $('#verdict-bar').replaceChildren(summary(report), h('span', { class: 'to-findings' }, 'Findings ↓'));
  announce(verdictText(report));
  preview();
  hash.write({ s: hash.encode(JSON.stringify(redact(state))) });
}

function preview() {
  const out = $('#preview');
  try {
    const p = wasm.requestPreview(state);
    // Re-rendered on every change: keep the samples the user opened open.
    const opened = new Set([...out.querySelectorAll('details[open]')].map((d) => d.id));
    $('#endpoint-path').textContent = `${p.method} ${p.url}`;
    out.replaceChildren(
      h('p', { class: 'req-line' }, h('span', { class: 'method' }, p.method), ' ', h('code', { id: 'preview-url' }, p.url)),
      h(
        'ul',
        { class: 'headers' },
        p.headers.map((x) => h('li', {}, h('code', {}, `${x.name}: ${x.value}`))),
      ),
      h(
        'div',
        { class: 'code-head' },
        h('h3', {}, 'Body'),
        h('button', { type: 'button', class: 'copy', id: 'copy-json', onclick: (e: Event) => copy(p.body, e.currentTarget as HTMLElement) }, 'Copy JSON'),
      ),
      h('pre', { class: 'code', id: 'preview-body', tabindex: '0', 'aria-label': 'Request body' }, p.body),
      h(
        'div',
        { class: 'code-head' },
        h('h3', {}, 'curl'),
        h('button', { type: 'button', class: 'copy', id: 'copy-curl', onclick: (e: Event) => copy(p.curl, e.currentTarget as HTMLElement) }, 'Copy curl'),
      ),
      h('pre', { class: 'code', id: 'preview-curl', tabindex: '0', 'aria-label': 'curl command' }, p.curl),
      // The same call as backend code, generated by the core (preview.rs).
      ...p.code.map((c) =>
        h(
          'details',
          { class: 'code-sample', id: `sample-${c.language}`, open: opened.has(`sample-${c.language}`) },
          h('summary', {}, c.label),
          h('button', { type: 'button', class: 'copy', id: `copy-${c.language}`, onclick: (e: Event) => copy(c.code, e.currentTarget as HTMLElement) }, 'Copy'),
          h('pre', { class: 'code', id: `preview-${c.language}`, tabindex: '0', 'aria-label': `${c.label} code` }, c.code),
        ),
      ),
      h('p', { class: 'hint' }, 'Set TOKEN (POWERBI_TOKEN in the code) to an Entra ID access token on your server. Never put a secret in a browser.'),
    );
  } catch (e) {
    out.replaceChildren(h('p', { class: 'error' }, `No preview: ${(e as Error).message}`));
  }
}

const isObj = (x: unknown): x is Json => !!x && typeof x === 'object' && !Array.isArray(x);
const isStr = (x: unknown) => x === undefined || x === null || typeof x === 'string';
const isStrList = (x: unknown) => x === undefined || x === null || (Array.isArray(x) && x.every((y) => typeof y === 'string'));

/** The first entry of an optional list of objects whose shape the form cannot show, or null. */
function listProblem(x: unknown, at: string, strs: string[], lists: string[] = []): string | null {
  if (x === undefined || x === null) return null;
  if (!Array.isArray(x)) return at;
  for (let i = 0; i < x.length; i++) {
    const e = x[i];
    if (!isObj(e)) return `${at}/${i}`;
    for (const k of strs) if (!isStr(e[k])) return `${at}/${i}/${k}`;
    for (const k of lists) if (!isStrList(e[k])) return `${at}/${i}/${k}`;
    if (e.identityBlob != null && !(isObj(e.identityBlob) && isStr(e.identityBlob.value))) return `${at}/${i}/identityBlob`;
  }
  return null;
}

/**
 * Where `v` has a shape the form's controls cannot show (a JSON Pointer; '' for the root), or
 * null. The RLS checker takes anything; the form takes what it can edit without losing a value.
 */
function formProblem(v: unknown): string | null {
  if (!isObj(v)) return '';
  const c = v.caller;
  if (!isObj(c)) return '/caller';
  for (const k of ['principalType', 'upn', 'objectId']) if (!isStr(c[k])) return `/caller/${k}`;
  if (c.profile != null && !(isObj(c.profile) && isStr(c.profile.id) && isStr(c.profile.displayName))) return '/caller/profile';
  const ep = v.endpoint;
  if (!isObj(ep)) return '/endpoint';
  if (typeof ep.kind !== 'string' || !Object.hasOwn(KIND_IDS, ep.kind)) return '/endpoint/kind';
  for (const k of KIND_IDS[ep.kind as Kind]) if (!isStr(ep[k])) return `/endpoint/${k}`;
  const problem =
    listProblem(v.workspaces, '/workspaces', ['id', 'name', 'type', 'callerAccess']) ??
    listProblem(v.datasets, '/datasets', ['id', 'name', 'workspaceId', 'model'], ['roles']) ??
    listProblem(v.reports, '/reports', ['id', 'name', 'workspaceId', 'datasetId', 'reportType']);
  if (problem !== null) return problem;
  if (v.request === undefined || v.request === null) return null;
  const r = v.request;
  if (!isObj(r)) return '/request';
  for (const k of ['accessLevel', 'datasetId']) if (!isStr(r[k])) return `/request/${k}`;
  if (r.lifetimeInMinutes != null && typeof r.lifetimeInMinutes !== 'number' && typeof r.lifetimeInMinutes !== 'string')
    return '/request/lifetimeInMinutes';
  return (
    listProblem(r.reports, '/request/reports', ['id']) ??
    listProblem(r.datasets, '/request/datasets', ['id', 'xmlaPermissions']) ??
    listProblem(r.targetWorkspaces, '/request/targetWorkspaces', ['id']) ??
    listProblem(r.identities, '/request/identities', ['username', 'customData'], ['roles', 'datasets', 'reports'])
  );
}

/** The scenario in the URL hash: none, one the form can edit, or text it cannot (and where). */
type Linked = undefined | { scenario: Scenario } | { text: string; problem: string };

function fromHash(): Linked {
  const s = hash.read('s');
  if (!s) return undefined;
  const text = hash.decode(s);
  if (text === undefined) return { text: '', problem: 'the link is damaged (not base64url UTF-8)' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { text, problem: 'it is not JSON' };
  }
  const at = formProblem(v);
  if (at === null) return { scenario: v as Scenario };
  return { text, problem: `the form cannot show the value at ${at === '' ? 'the root' : at}` };
}

/** Says why a linked scenario was not opened, with a way to see it in the RLS checker. */
function showNotice(problem: string, text: string) {
  const notice = $('#form-notice');
  const safe = redactText(text);
  notice.replaceChildren(h('p', {}, `The scenario in this link was not opened in the form: ${problem}. The form shows the default scenario.`));
  if (safe) notice.append(h('a', { href: `rls.html#t=${hash.encode(safe)}` }, 'Open the linked text in the RLS checker'));
  notice.hidden = false;
}

/** Replaces the whole state and rebuilds the form; a scenario it cannot render falls back to the default. */
function load(s: Scenario, focus?: string) {
  parkedV2 = undefined;
  state = s;
  try {
    rerender(focus);
  } catch (e) {
    const text = JSON.stringify(redact(s), null, 2);
    state = defaultScenario();
    rerender(focus);
    showNotice(`it could not be shown (${(e as Error).message})`, text);
  }
}

function loadFromHash() {
  const linked = fromHash();
  $('#form-notice').hidden = true;
  if (!linked) return load(defaultScenario());
  if ('scenario' in linked) return load(linked.scenario);
  load(defaultScenario());
  showNotice(linked.problem, linked.text);
}

/** To the findings: the first Fix when there is one, else the findings themselves. */
function toFindings(e: Event) {
  e.preventDefault();
  const first = document.querySelector<HTMLElement>('#summary [data-fix]');
  const target = first ?? $('#findings');
  target.scrollIntoView({ block: 'center' });
  target.focus();
}

export function start() {
  loadFromHash();
  $('#skip-findings').addEventListener('click', toFindings);
  $('#verdict-bar').addEventListener('click', toFindings);
  $('#share').addEventListener('click', (e) => copy(hash.shareUrl(), e.currentTarget as HTMLElement));
  $('#reset').addEventListener('click', () => {
    $('#form-notice').hidden = true;
    load(defaultScenario(), '#caller-sp');
  });
  $('#open-checker').addEventListener('click', () => {
    location.href = `rls.html#t=${hash.encode(JSON.stringify(redact(state), null, 2))}`;
  });
  window.addEventListener('hashchange', () => {
    const s = hash.read('s');
    if (s && hash.decode(s) !== JSON.stringify(redact(state))) loadFromHash();
  });
}
