// Entry point: loads the wasm module, then starts the page named by <body data-page>.
import * as wasm from './wasm';

const pages: Record<string, () => Promise<{ start: () => void }>> = {
  form: () => import('./form'),
  rls: () => import('./checker'),
  capabilities: () => import('./capabilities'),
  explain: () => import('./explain'),
};

async function main() {
  const page = document.body.dataset.page ?? 'form';
  const [mod] = await Promise.all([pages[page](), wasm.load()]);
  mod.start();
  document.body.classList.add('ready');
}

main().catch((e) => {
  const el = document.getElementById('status');
  if (el) el.textContent = `Could not start: ${(e as Error).message}`;
  console.error(e);
});
