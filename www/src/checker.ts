// RLS configuration checker: a scenario (or Power BI GET dataset / report JSON) in an editor pane,
// checked on every keystroke; diagnostics listed and marked at their lines.
import { $, copy, debounce, h, say } from './dom';
import { card, summary, verdictText } from './diag';
import { defaultScenario, MASTER_UPN, SP_OBJECT_ID } from './form';
import * as hash from './hash';
import { redact, redactText } from './secrets';
import * as wasm from './wasm';
import type { Scenario, TextSpan } from './wasm';
// What the page waits for before it starts (main.ts).
export { load } from './wasm';

const EXAMPLES: Record<string, () => unknown> = {
  'Service principal, RLS dataset, no identity': () => defaultScenario(),
  'Service principal with an identity': () => {
    const s = defaultScenario();
    (s.request as Record<string, unknown>).identities = [
      { username: 'alice@contoso.com', roles: ['Customer'], datasets: [s.datasets![0].id] },
    ];
    return s;
  },
  'Azure Analysis Services, other username': () => {
    const s = defaultScenario();
    s.datasets![0] = { ...s.datasets![0], model: 'AzureAnalysisServicesLive', roles: ['Reader'] };
    (s.request as Record<string, unknown>).identities = [
      { username: 'alice@contoso.com', roles: ['Reader'], datasets: [s.datasets![0].id] },
    ];
    return s;
  },
  'Power BI GET dataset response': () => ({
    id: 'd1d1d1d1-0000-4000-8000-000000000001',
    name: 'Sales',
    configuredBy: 'owner@contoso.com',
    isRefreshable: true,
    isEffectiveIdentityRequired: true,
    isEffectiveIdentityRolesRequired: true,
    isOnPremGatewayRequired: false,
    targetStorageMode: 'Abf',
  }),
};

let editor: HTMLTextAreaElement;
let gutter: HTMLElement;

function lineCount(text: string) {
  let n = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** The marks the gutter shows now, by line. */
let shownMarks = new Map<number, string>();

/**
 * Line numbers, with a marker on each line a diagnostic points at. Only what changed is touched:
 * lines added or removed at the end, and the lines whose mark changed (a file of thousands of
 * lines would otherwise rebuild thousands of elements on every keystroke).
 */
function renderGutter(text: string, marks: Map<number, string>) {
  const n = lineCount(text);
  const lines = gutter.children;
  if (lines.length > n) {
    // One range for the whole tail: removing thousands of lines one by one takes seconds.
    const tail = document.createRange();
    tail.setStartBefore(lines[n]);
    tail.setEndAfter(gutter.lastChild!);
    tail.deleteContents();
    for (const line of [...shownMarks.keys()]) if (line > n) shownMarks.delete(line);
  } else if (lines.length < n) {
    const frag = document.createDocumentFragment();
    for (let i = lines.length + 1; i <= n; i++) frag.append(h('div', { class: 'ln', 'data-line': i }, String(i)));
    gutter.append(frag);
  }
  const mark = (line: number, sev: string | undefined) => {
    if (line <= n) lines[line - 1].className = sev ? `ln mark-${sev}` : 'ln';
  };
  for (const line of shownMarks.keys()) if (!marks.has(line)) mark(line, undefined);
  for (const [line, sev] of marks) if (shownMarks.get(line) !== sev) mark(line, sev);
  shownMarks = marks;
  gutter.scrollTop = editor.scrollTop;
}

/** Puts the caret where `after` first differs from `before` (what a fix changed), in view. */
function caretAtChange(before: string, after: string) {
  let i = 0;
  while (i < before.length && i < after.length && before.charCodeAt(i) === after.charCodeAt(i)) i++;
  const line = lineCount(after.slice(0, i));
  select({ start: i, end: i, line, column: 1, exact: true });
}

function select(span: TextSpan) {
  editor.focus();
  editor.setSelectionRange(span.start, span.end);
  // Scroll the selection into view: put its line a third of the way down.
  const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
  editor.scrollTop = Math.max(0, (span.line - 1) * lineHeight - editor.clientHeight / 3);
}

interface PowerBiItems {
  datasets: Record<string, unknown>[];
  reports: Record<string, unknown>[];
  /** The workspace `@odata.context` names (`.../groups/{id}/$metadata#datasets`). */
  workspaceId?: string;
}

/** Power BI metadata pasted on its own (GET dataset / report, or a `value` list of them). */
function powerBiItems(v: unknown): PowerBiItems | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if ('caller' in o || 'endpoint' in o || 'request' in o) return undefined;
  const items = Array.isArray(o.value) ? (o.value as Record<string, unknown>[]) : [o];
  const datasets: Record<string, unknown>[] = [];
  const reports: Record<string, unknown>[] = [];
  for (const it of items) {
    if (!it || typeof it !== 'object' || typeof it.id !== 'string') return undefined;
    if ('embedUrl' in it || 'reportType' in it || ('datasetId' in it && !('configuredBy' in it))) reports.push(it);
    else if ('isEffectiveIdentityRequired' in it || 'configuredBy' in it || 'isRefreshable' in it || 'targetStorageMode' in it)
      datasets.push(it);
    else return undefined;
  }
  const context = typeof o['@odata.context'] === 'string' ? (o['@odata.context'] as string) : '';
  const workspaceId = /\/groups\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\//i.exec(context)?.[1];
  return datasets.length || reports.length ? { datasets, reports, workspaceId } : undefined;
}

/** Wraps Power BI metadata into a scenario: the given caller asks for a V2 token for every item. */
function wrap(items: PowerBiItems, caller: string): Scenario {
  const callerObj: Scenario['caller'] =
    caller === 'user' ? { principalType: 'User', upn: MASTER_UPN } : { principalType: 'App', objectId: SP_OBJECT_ID };
  const ids = new Set<string>();
  for (const r of items.reports) if (typeof r.datasetId === 'string') ids.add(r.datasetId);
  for (const d of items.datasets) ids.add(d.id as string);
  // Where the items live, from what Power BI's JSON tells: `@odata.context` names the workspace
  // the items were read from, a report's embedUrl its own (groupId), and datasetWorkspaceId its
  // dataset's. The caller's access in them stays unknown.
  const workspaces = new Set<string>();
  if (items.workspaceId) workspaces.add(items.workspaceId);
  const reports = items.reports.map((r) => {
    const group = groupOf(r.embedUrl) ?? items.workspaceId;
    if (group) workspaces.add(group);
    if (typeof r.datasetWorkspaceId === 'string') workspaces.add(r.datasetWorkspaceId);
    return group && !r.workspaceId ? { ...r, workspaceId: group } : r;
  });
  const datasets = items.datasets.map((d) => {
    const home =
      items.reports.find((r) => r.datasetId === d.id && typeof r.datasetWorkspaceId === 'string')?.datasetWorkspaceId ??
      items.workspaceId;
    return home && !d.workspaceId ? { ...d, workspaceId: home } : d;
  });
  return {
    caller: callerObj,
    endpoint: { kind: 'GenerateTokenV2' },
    workspaces: [...workspaces].map((id) => ({ id, type: 'Workspace' })),
    datasets: datasets as unknown as Scenario['datasets'],
    reports: reports as unknown as Scenario['reports'],
    request: {
      ...(items.reports.length ? { reports: items.reports.map((r) => ({ id: r.id })) } : {}),
      ...(ids.size ? { datasets: [...ids].map((id) => ({ id })) } : {}),
    },
  };
}

/** Set while the editor holds a scenario built from Power BI metadata: its guesses are shown. */
let wrapped = false;

/** Edits the editor's scenario (as JSON) and checks it again. */
function editScenario(change: (s: Record<string, any>) => void) {
  try {
    const v = JSON.parse(editor.value);
    change(v);
    setText(JSON.stringify(v, null, 2));
  } catch {
    $('#status').textContent = 'The text is not JSON any more: edit it directly.';
  }
}

/**
 * What a scenario built from Power BI metadata had to guess, each with a way to set it: the
 * caller (a placeholder), and the role names Power BI's dataset JSON never lists.
 */
function renderWrapNotes(v: unknown) {
  const box = $('#wrap-notes');
  const s = wrapped && v && typeof v === 'object' ? (v as Record<string, any>) : undefined;
  const notes: HTMLElement[] = [];
  const field = (id: string, label: string, placeholder: string, apply: (value: string) => void) => {
    const input = h('input', { id, type: 'text', placeholder, 'aria-label': label, spellcheck: 'false' }) as HTMLInputElement;
    const use = () => input.value.trim() && apply(input.value.trim());
    input.addEventListener('keydown', (e) => e.key === 'Enter' && use());
    return [input, h('button', { type: 'button', id: `${id}-use`, onclick: use }, 'Use')];
  };
  // The placeholder caller wrap() put in, with the one value to replace.
  const caller =
    s?.caller?.objectId === SP_OBJECT_ID
      ? { key: 'objectId', id: 'wrap-object-id', label: "Your service principal's object id", example: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
          text: `The caller is a placeholder service principal (object id ${SP_OBJECT_ID}). Your app's object id (Entra ID, Enterprise applications):` }
      : s?.caller?.upn === MASTER_UPN
        ? { key: 'upn', id: 'wrap-upn', label: "Your master user's UPN", example: 'name@yourtenant.com',
            text: `The caller is a placeholder master user (${MASTER_UPN}). Your master user's UPN:` }
        : undefined;
  if (caller) {
    notes.push(
      h(
        'li',
        { 'data-note': 'caller' },
        h('span', {}, caller.text),
        ...field(caller.id, caller.label, caller.example, (value) => editScenario((x) => (x.caller[caller.key] = value))),
      ),
    );
  }
  (Array.isArray(s?.datasets) ? (s!.datasets as Record<string, any>[]) : []).forEach((d, i) => {
    if (!d || Array.isArray(d.roles) || d.isEffectiveIdentityRolesRequired !== true) return;
    notes.push(
      h(
        'li',
        { 'data-note': `roles-${i}` },
        h('span', {}, `Power BI's dataset JSON never lists role names. The RLS roles of ${d.name ?? d.id} (Power BI Desktop: Modeling, Manage roles), comma-separated:`),
        ...field(`wrap-roles-${i}`, `RLS roles of ${d.name ?? d.id}`, 'Region, Manager', (text) =>
          editScenario((x) => (x.datasets[i].roles = text.split(',').map((r) => r.trim()).filter(Boolean))),
        ),
      ),
    );
  });
  box.hidden = notes.length === 0;
  // Rebuilt only when the set of notes changes, so a half-typed value survives other edits.
  const key = notes.map((n) => n.dataset.note).join(' ');
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(h('p', {}, 'Built from Power BI metadata. What it could not know:'), h('ul', {}, notes));
  }
}

/** The `groupId` of an embed URL, if it has one. */
function groupOf(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url).searchParams.get('groupId') ?? undefined;
  } catch {
    return undefined;
  }
}

function check() {
  const text = editor.value;
  const c = wasm.checkText(text);
  const marks = new Map<number, string>();
  const out = $('#results');
  const notice = $('#metadata-notice');
  notice.hidden = true;
  if (c.syntaxError) {
    const e = c.syntaxError;
    marks.set(e.line, 'error');
    out.replaceChildren(
      h('div', { class: 'verdict verdict-invalid' }, h('span', { class: 'verdict-badge' }, '✕'), h('span', { class: 'verdict-text' }, 'Not JSON')),
      h(
        'article',
        { class: 'diag diag-error' },
        h('header', {}, h('span', { class: 'sev sev-error' }, 'Error'), h('button', {
          type: 'button',
          class: 'link where',
          onclick: () => select({ start: e.offset16, end: e.offset16, line: e.line, column: e.column, exact: true }),
        }, `line ${e.line}, column ${e.column}`)),
        h('p', { class: 'msg' }, e.message),
      ),
    );
    announce(`Not JSON: ${e.message} at line ${e.line}`);
  } else if (c.report) {
    const r = c.report;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const items = powerBiItems(parsed);
    renderWrapNotes(parsed);
    if (items) {
      notice.hidden = false;
      $('#wrap-metadata').onclick = () => {
        wrapped = true;
        setText(JSON.stringify(wrap(items, ($('#wrap-caller') as HTMLSelectElement).value), null, 2));
      };
      // Metadata is no scenario yet: its "missing field caller" would only contradict the banner.
      out.replaceChildren(
        h('div', { class: 'verdict verdict-unknown' }, h('span', { class: 'verdict-badge' }, '?'), h('span', { class: 'verdict-text' }, 'Power BI metadata: build a scenario above to check a token for it')),
      );
      announce('Power BI metadata recognised: build a scenario to check it');
      renderGutter(text, marks);
      saveHash();
      return;
    }
    const list = h('div', { class: 'diag-list' });
    r.diagnostics.forEach((d, i) => {
      const span = c.spans[i];
      if (span) {
        const prev = marks.get(span.line);
        const rank = { error: 3, warning: 2, info: 1 } as const;
        if (!prev || rank[d.severity] > rank[prev as keyof typeof rank]) marks.set(span.line, d.severity);
      }
      list.append(
        card(d, {
          where: span ? `line ${span.line}` : d.pointer,
          onGoto: span ? () => select(span) : undefined,
          onFix: d.fix
            ? () => {
                try {
                  const before = editor.value;
                  setText(wasm.applyFixText(before, d.fix!));
                  // The pressed button is gone with the old results: the focus goes to the change.
                  caretAtChange(before, editor.value);
                } catch (e) {
                  $('#status').textContent = `The fix could not be applied: ${(e as Error).message}`;
                }
              }
            : undefined,
        }),
      );
    });
    if (r.diagnostics.length === 0) list.append(h('p', { class: 'all-clear' }, 'No findings.'));
    out.replaceChildren(summary(r), list);
    announce(verdictText(r));
  }
  renderGutter(text, marks);
  saveHash();
}

/** The editor text in the URL hash, secrets replaced (`false` when it cannot be made safe). */
function writeHash(): boolean {
  const safe = redactText(editor.value);
  if (safe === undefined) return false;
  hash.write({ t: hash.encode(safe) });
  return true;
}

const saveHash = debounce(writeHash, 250);
const announce = debounce(say, 400);

function setText(text: string) {
  editor.value = text;
  check();
}

function loadFile(file: File) {
  file.text().then((t) => {
    wrapped = false;
    setText(t);
  });
}

export function start() {
  editor = $('#editor') as HTMLTextAreaElement;
  gutter = $('#gutter');
  const fromHash = () => {
    const t = hash.read('t');
    return t ? hash.decode(t) : undefined;
  };
  editor.value = fromHash() ?? JSON.stringify(defaultScenario(), null, 2);
  window.addEventListener('hashchange', () => {
    const text = fromHash();
    if (text !== undefined && text !== editor.value && text !== redactText(editor.value)) {
      wrapped = false;
      setText(text);
    }
  });

  // Long texts are checked once typing pauses: a check of a large file takes longer than a keystroke.
  const checkSoon = debounce(check, 200);
  editor.addEventListener('input', () => (editor.value.length > LONG_TEXT ? checkSoon() : check()));
  editor.addEventListener('scroll', () => (gutter.scrollTop = editor.scrollTop));
  editor.addEventListener('keydown', (e) => {
    // Tab indents (two spaces); Escape then Tab leaves the editor, as usual for code editors.
    if (e.key === 'Tab' && !e.shiftKey && !tabEscapes) {
      e.preventDefault();
      indent();
    }
    tabEscapes = e.key === 'Escape';
  });
  const drop = $('#editor-wrap');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const f = e.dataTransfer?.files[0];
    if (f) loadFile(f);
  });
  const file = $('#file') as HTMLInputElement;
  file.addEventListener('change', () => file.files?.[0] && loadFile(file.files[0]));
  $('#open-file').addEventListener('click', () => file.click());
  // An example replaces the text only on the Load button: a select's `change` also fires on arrow keys.
  const examples = $('#example') as HTMLSelectElement;
  for (const name of Object.keys(EXAMPLES)) examples.append(h('option', { value: name }, name));
  $('#load-example').addEventListener('click', () => {
    const make = EXAMPLES[examples.value];
    if (!make) {
      $('#status').textContent = 'Choose an example first.';
      return examples.focus();
    }
    wrapped = false;
    setText(JSON.stringify(make(), null, 2));
    editor.focus();
  });
  $('#format').addEventListener('click', () => {
    try {
      setText(JSON.stringify(JSON.parse(editor.value), null, 2));
    } catch {
      $('#status').textContent = 'Cannot format: the text is not JSON.';
    }
  });
  $('#share').addEventListener('click', (e) => {
    if (writeHash()) copy(hash.shareUrl(), e.currentTarget as HTMLElement);
    else $('#status').textContent = 'Not copied: the text is not JSON and names an identity blob, whose token must not go into a link.';
  });
  $('#open-form').addEventListener('click', () => {
    try {
      const v = JSON.parse(editor.value);
      location.href = `index.html#s=${hash.encode(JSON.stringify(redact(v)))}`;
    } catch {
      $('#status').textContent = 'Cannot open in the form: the text is not JSON.';
    }
  });
  check();
}

let tabEscapes = false;

/** Characters past which the editor is checked when typing pauses rather than on every keystroke. */
const LONG_TEXT = 100_000;

/**
 * Tab: two spaces at the caret; with lines selected, two spaces before each of them, the lines
 * staying selected. Through `insertText`, so that undo takes it back (it fires `input`, which checks).
 */
function indent() {
  const { selectionStart: s, selectionEnd: t, value } = editor;
  const selected = value.slice(s, t);
  if (!selected.includes('\n')) {
    insert('  ', s, t);
    return;
  }
  const from = value.lastIndexOf('\n', s - 1) + 1;
  // A selection that ends at the start of a line leaves that line alone.
  const to = value[t - 1] === '\n' ? t - 1 : t;
  const block = value.slice(from, to).replace(/^/gm, '  ');
  insert(block, from, to);
  editor.setSelectionRange(from, from + block.length);
}

function insert(text: string, from: number, to: number) {
  editor.setSelectionRange(from, to);
  // execCommand is deprecated but still the only way to edit a textarea with the undo stack kept.
  if (!document.execCommand('insertText', false, text)) {
    editor.setRangeText(text, from, to, 'end');
    check();
  }
}
