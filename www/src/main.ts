// Start-up shared by every page: loads what the page needs (the wasm module, or the rules page's catalog), then
// starts the page. Each page has its own bundle (src/entries/*.ts): a page downloads only its own code beside
// the module, which is what the first verdict on a slow link waits for.
interface Page {
  /** What the page waits for before it starts: the wasm module, or the rules page's catalog. */
  load: () => Promise<unknown>;
  start: () => void;
}

// Until what it waits for is ready the page's controls are inert and a visible notice says why: loading, or
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

let page: Page;

async function main() {
  setInert(true);
  showLoading();
  try {
    await page.load();
    // Live before start: a page may move the focus (the rules page, to the linked rule).
    setInert(false);
    if (!started) page.start();
    started = true;
    notice.hidden = true;
    document.body.classList.add('ready');
  } catch (e) {
    setInert(true);
    showFailure(e);
  }
}

/** Starts `p` once the module is ready (with a visible loading state and a retry on failure). */
export function boot(p: Page) {
  page = p;
  void main();
}
