// Tiny DOM helpers: no framework.
type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export function $(sel: string, root: ParentNode = document): HTMLElement {
  const el = root.querySelector<HTMLElement>(sel);
  if (!el) throw new Error(`missing element ${sel}`);
  return el;
}

/** Writes the page's `aria-live` status only when its text changes (a rewrite is announced again). */
export function say(text: string) {
  const status = $('#status');
  if (status.textContent !== text) status.textContent = text;
}

let uid = 0;
export const nextId = (prefix: string) => `${prefix}-${++uid}`;

const copiedTimers = new WeakMap<HTMLElement, ReturnType<typeof setTimeout>>();

/** Copies text to the clipboard; falls back to a hidden textarea where the API is unavailable. */
export async function copy(text: string, button: HTMLElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea', { class: 'offscreen', 'aria-hidden': 'true' }, text);
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
    button.focus();
  }
  // The label is kept from the first click: a second click within the delay must not keep "Copied".
  button.dataset.label ??= button.textContent ?? '';
  button.textContent = 'Copied';
  announce('Copied to the clipboard');
  button.classList.add('copied');
  clearTimeout(copiedTimers.get(button));
  copiedTimers.set(
    button,
    setTimeout(() => {
      button.textContent = button.dataset.label ?? '';
      button.classList.remove('copied');
    }, 1200),
  );
}

export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** Says `text` to screen readers through one shared polite live region. */
export function announce(text: string): void {
  let live = document.getElementById('announce');
  if (!live) {
    live = h('p', { id: 'announce', class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    document.body.append(live);
  }
  // Cleared first so the same words twice are announced twice.
  live.textContent = '';
  requestAnimationFrame(() => {
    live.textContent = text;
  });
}
