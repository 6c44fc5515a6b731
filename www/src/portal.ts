// The demo portal (portal.html): OIDC sign-in with PKCE at the portal's identity provider (the emulator's in
// `make dev`), the user's reports from `/api/reports`, one report embedded with @embedgate/embed, a token
// countdown and a refresh log. The ID token is kept in memory only; reloading the page signs in again.
import 'powerbi-client';
import { embedReports, EmbedgateError, type EmbedSession, type ReportsResponse } from '../../packages/embed/src/index.js';

interface PortalConfig {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  issuer: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const PKCE_KEY = 'embedgate-portal-pkce'; // the verifier and state of a sign-in in progress (no token)

let idToken = '';
let session: EmbedSession | undefined;
let countdown: ReturnType<typeof setInterval> | undefined;

function status(text: string) {
  $('portal-status').textContent = text;
}

function b64url(bytes: Uint8Array) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n: number) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

async function signIn(cfg: PortalConfig) {
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: 'code', client_id: cfg.clientId, redirect_uri: redirectUri(), scope: 'openid',
    code_challenge: challenge, code_challenge_method: 'S256', state, nonce: random(16),
  });
  location.assign(`${cfg.authorizationEndpoint}?${q}`);
}

/** Completes a sign-in when the IdP redirected back with `?code=`; the code leaves the URL at once. */
async function completeSignIn(cfg: PortalConfig): Promise<boolean> {
  const q = new URLSearchParams(location.search);
  const code = q.get('code');
  if (!code && !q.get('error')) return false;
  history.replaceState(null, '', redirectUri());
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null') as { verifier: string; state: string } | null;
  sessionStorage.removeItem(PKCE_KEY);
  if (q.get('error')) throw new Error(`Sign-in failed: ${q.get('error')}`);
  if (!pending || pending.state !== q.get('state')) throw new Error('Sign-in failed: the answer does not match this sign-in (state).');
  const r = await fetch(cfg.tokenEndpoint, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri(),
      client_id: cfg.clientId, code_verifier: pending.verifier }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || typeof body.id_token !== 'string') throw new Error(`Sign-in failed: ${body.error_description ?? r.status}`);
  idToken = body.id_token;
  return true;
}

function claims(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
}

function log(text: string) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('refresh-log').append(li);
}

function showError(e: unknown) {
  const box = $('portal-error');
  box.replaceChildren();
  const err = e instanceof EmbedgateError ? e : new EmbedgateError('network', (e as Error)?.message ?? String(e));
  box.dataset.kind = err.kind;
  const title = document.createElement('strong');
  title.textContent = {
    signin: 'Your sign-in has expired. Sign in again.',
    forbidden: 'Your organisation does not have access to this report.',
    invalid_request: 'The request was not accepted.',
    validation: 'This token request was refused before it reached Power BI.',
    rate_limited: 'Too many requests right now. Try again in a minute.',
    unavailable: 'Reports are unavailable right now. Try again shortly.',
    network: 'The token service could not be reached.',
    embed: 'The report could not be shown.',
  }[err.kind];
  const detail = document.createElement('p');
  detail.textContent = `${err.message}${err.code ? ` (${err.status} ${err.code}${err.path ? ` at ${err.path}` : ''})` : ''}`;
  box.append(title, detail);
  if (err.diagnostics.length) {
    const ul = document.createElement('ul');
    for (const d of err.diagnostics) {
      const li = document.createElement('li');
      li.textContent = `${d.code}: ${d.message}`;
      ul.append(li);
    }
    box.append(ul);
  }
  box.hidden = false;
}

function stopSession() {
  session?.destroy();
  session = undefined;
  clearInterval(countdown);
  countdown = undefined;
  $('token-id').textContent = '–';
  $('token-countdown').textContent = '–';
  $('token-expiry').textContent = '–';
}

function tick() {
  const s = session;
  if (!s?.refreshAt) return;
  const left = Math.max(0, Math.round((s.refreshAt.getTime() - Date.now()) / 1000));
  $('token-countdown').textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

/** Embeds `reportIds` in one session: one embed token for all of them, one refresh. */
async function show(...reportIds: string[]) {
  stopSession();
  const container = $('report-container');
  const boxes = reportIds.map((id) => {
    const div = document.createElement('div');
    div.className = 'report';
    div.dataset.reportId = id;
    return div;
  });
  container.replaceChildren(...boxes);
  $('portal-error').hidden = true;
  status('Loading the report…');
  try {
    session = await embedReports({
      getUserToken: () => idToken,
      reports: reportIds.map((reportId, i) => ({ reportId, container: boxes[i] })),
      on: {
        token: (t) => {
          $('token-id').textContent = t.tokenId.slice(0, 8);
          $('token-expiry').textContent = new Date(Date.now() + t.expiresInSeconds * 1000).toLocaleTimeString();
          log(`token ${t.tokenId.slice(0, 8)} (${t.reason}), valid ${Math.round(t.expiresInSeconds)} s, next refresh ${t.refreshAt.toLocaleTimeString()}`);
        },
        retry: (r) => log(`retry ${r.attempt} after ${r.delaySeconds} s (${r.status ?? 'network'})`),
        rendered: () => status('Report shown.'),
        error: (e) => {
          log(`error: ${e.kind}`);
          showError(e);
        },
      },
    });
    countdown = setInterval(tick, 1000);
    tick();
  } catch (e) {
    container.replaceChildren();
    status('The report could not be shown.');
    showError(e);
  }
}

async function signedIn() {
  const c = claims(idToken);
  $('user-name').textContent = String(c.name ?? c.sub ?? '');
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  const r = await fetch('/api/reports', { headers: { authorization: `Bearer ${idToken}` } });
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    showError(new EmbedgateError(r.status === 401 ? 'signin' : r.status === 403 ? 'forbidden' : 'unavailable',
      body?.message ?? `The token service answered ${r.status}.`, { status: r.status, body }));
    status('Your reports could not be listed.');
    return;
  }
  const list = body as ReportsResponse;
  $('customer-name').textContent = list.customer.name;
  const select = $<HTMLSelectElement>('report-select');
  select.replaceChildren(...list.reports.map((rep) => new Option(rep.name ?? rep.id, rep.id)));
  $('embed').onclick = () => void show($<HTMLInputElement>('report-id').value.trim() || select.value);
  $('embed-all').hidden = list.reports.length < 2;
  $('embed-all').onclick = () => void show(...list.reports.map((rep) => rep.id));
  if (list.reports[0]) await show(list.reports[0].id);
  else status('Your organisation has no reports yet.');
}

function signOut() {
  stopSession();
  idToken = '';
  $('report-container').replaceChildren();
  $('refresh-log').replaceChildren();
  $('portal-error').hidden = true;
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  status('Signed out.');
}

async function main() {
  const r = await fetch('/api/portal/config');
  if (!r.ok) {
    status('Sign-in is not configured on this worker (PORTAL_AUTHORIZE_URL, PORTAL_TOKEN_URL).');
    return;
  }
  const cfg = (await r.json()) as PortalConfig;
  $('sign-in').onclick = () => void signIn(cfg);
  $('sign-out').onclick = signOut;
  if (await completeSignIn(cfg)) {
    await signedIn();
  } else {
    $('signed-out').hidden = false;
    status('Signed out.');
  }
  document.body.classList.add('ready');
}

main().catch((e) => {
  status((e as Error).message);
  $('signed-out').hidden = false;
});

// Lets tests and the console see the session without reaching the token.
Object.defineProperty(window, 'embedgatePortal', {
  value: {
    get scheduled() { return session?.scheduled ?? false; },
    get tokenId() { return session?.tokenId ?? ''; },
    show,
  },
});
