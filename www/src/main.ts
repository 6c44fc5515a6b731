// Entry point: loads the wasm module, then starts the page named by <body data-page>.
import * as wasm from './wasm';

const pages: Record<string, () => Promise<{ start: () => void }>> = {
  form: () => import('./form'),
  rls: () => import('./checker'),
  capabilities: () => import('./capabilities'),
  explain: () => import('./explain'),
  rules: () => import('./rules'),
};

// Until the module is ready the page's controls are inert and a visible notice says why: loading, or
// the failure with a retry (a blank page with working-looking buttons would mislead).
const notice = document.createElement('div');
notice.id = 'load-state';
notice.className = 'load-state';
document.querySelector('main')?.before(notice);

function setInert(on: boolean) {
  const main = document.querySelector('main');
  if (main) main.inert = on;
}

function showLoading() {
  notice.className = 'load-state';
  notice.setAttribute('role', 'status');
  notice.replaceChildren('Loading the checker…');
  notice.hidden = false;
}

function showFailure(e: unknown) {
  notice.className = 'load-state failed';
  notice.setAttribute('role', 'alert');
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.id = 'load-retry';
  retry.textContent = 'Retry';
  retry.onclick = () => void main();
  const text = document.createElement('span');
  text.textContent = `The checker could not start: ${(e as Error)?.message ?? e}. Check your connection, then retry. `;
  notice.replaceChildren(text, retry);
  notice.hidden = false;
  retry.focus();
  const el = document.getElementById('status');
  if (el) el.textContent = `Could not start: ${(e as Error)?.message ?? e}`;
}

let started = false;

async function main() {
  setInert(true);
  showLoading();
  try {
    const page = document.body.dataset.page ?? 'form';
    const [mod] = await Promise.all([pages[page](), wasm.load()]);
    // Live before start: a page may move the focus (the rules page, to the linked rule).
    setInert(false);
    if (!started) mod.start();
    started = true;
    notice.hidden = true;
    document.body.classList.add('ready');
  } catch (e) {
    setInert(true);
    showFailure(e);
  }
}

void main();
