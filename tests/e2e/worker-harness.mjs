// Test harness for the edge worker: starts the real emulator binary and the real worker in workerd
// (wrangler dev, local D1 + KV in a fresh directory), and helpers to talk to both. Only 127.0.0.1.
//
// Environment: EMULATOR_BIN (default $CARGO_TARGET_DIR/debug/pbi-emulator), the worker must already be built
// (scripts/test-worker.sh does both).
import { spawn, execFile } from 'node:child_process';
import { createHmac, generateKeyPairSync, createSign, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const HS_SECRET = 'test-hs256-secret-0123456789abcdefghijklmnop';
export const CLIENT_SECRET = 'emulator-demo-secret';
export const CUSTOMERS = JSON.parse(readFileSync(join(ROOT, 'crates/worker/demo/customers.json'), 'utf8'));
export const IDS = {
  contosoReport: 'c0c0c0c0-0000-4000-8000-00000000b001',
  contosoDataset: 'c0c0c0c0-0000-4000-8000-00000000d001',
  contosoWorkspace: 'c0c0c0c0-0000-4000-8000-00000000a001',
  contosoProfile: 'c0c0c0c0-0000-4000-8000-000000000001',
  fabrikamReport: 'fab0fab0-0000-4000-8000-00000000b002',
  fabrikamDataset: 'fab0fab0-0000-4000-8000-00000000d002',
  fabrikamWorkspace: 'fab0fab0-0000-4000-8000-00000000a002',
  fabrikamProfile: 'fab0fab0-0000-4000-8000-000000000002',
  legacyReport: '1e9ac100-0000-4000-8000-00000000b003',
  legacyDataset: '1e9ac100-0000-4000-8000-00000000d003',
  legacyWorkspace: '1e9ac100-0000-4000-8000-00000000a003',
};

const target = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
const EMULATOR_BIN = process.env.EMULATOR_BIN || join(target, 'debug', 'pbi-emulator');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const WRANGLER_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  EMBEDGATE_SKIP_WORKER_BUILD: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` distinct free ports: all held open together, then released, so they never repeat each other. */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? s.close(r) : r()))));
  }
}

async function waitFor(url, ms, proc, what) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${what} exited early (${proc.exitCode})`);
    try {
      // Bounded: whatever holds a stolen port may accept and never answer.
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = r.status;
    } catch (e) {
      last = e.message;
    }
    await sleep(150);
  }
  throw new Error(`${what} not ready at ${url}: ${last}`);
}

// Every process group we started dies with this process, whatever happens to the tests.
const started = new Set();
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

/** Stops a process started with `detached: true` together with its children (wrangler's workerd). */
function stopper(proc) {
  const group = (sig) => {
    try {
      process.kill(-proc.pid, sig);
    } catch {
      // already gone
    }
  };
  started.add(proc.pid);
  return async () => {
    if (proc.exitCode === null) {
      const done = new Promise((r) => proc.once('exit', r));
      group('SIGINT');
      const t = setTimeout(() => group('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    }
    group('SIGKILL'); // anything of the group that outlived its parent
    started.delete(proc.pid);
  };
}

/** Starts pbi-emulator on free ports with the demo fixture (or `fixturePath`). */
export async function startEmulator({ fixturePath } = {}) {
  const args = ['--listen', '127.0.0.1:0', '--embed-listen', '127.0.0.1:0'];
  if (fixturePath) args.push('--state', fixturePath);
  const proc = spawn(EMULATOR_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    proc.on('exit', (c) => reject(new Error(`emulator exited (${c})`)));
    proc.on('error', reject);
  });
  const { api, embed } = JSON.parse(line);
  await waitFor(`${api}/__emulator/health`, 10000, proc, 'emulator');
  const emu = {
    api,
    embed,
    proc,
    stop: stopper(proc),
    async post(path, body) {
      const r = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await r.text();
      if (!r.ok) throw new Error(`emulator ${path}: ${r.status} ${text}`);
      return JSON.parse(text);
    },
    async calls() {
      return (await fetch(`${api}/__emulator/calls`)).json();
    },
    async callLog() {
      return (await fetch(`${api}/__emulator/calls/log`)).json();
    },
    async clearCalls() {
      await fetch(`${api}/__emulator/calls`, { method: 'DELETE' });
    },
    async fault(route, fault, count = 1) {
      return emu.post('/__emulator/faults', { route, fault, count });
    },
    async clearFaults() {
      await fetch(`${api}/__emulator/faults`, { method: 'DELETE' });
    },
    /** A portal user token from the emulator's IdP. */
    async userToken({ sub = 'alice', customer = 'contoso', alg = 'RS256', claims = {}, ...rest } = {}) {
      const r = await emu.post('/__emulator/idp/token', { sub, alg, claims: { customer, ...claims }, ...rest });
      return r.id_token;
    },
    async jwks() {
      return (await fetch(`${api}/__emulator/idp/jwks.json`)).json();
    },
    async inspect(token) {
      return emu.post('/__emulator/embed/inspect', { token });
    },
    async render(token, reportId, groupId) {
      return emu.post('/__emulator/embed/render', { token, reportId, groupId });
    },
  };
  return emu;
}

/**
 * A private copy of wrangler.toml (absolute paths, no [build]) with its own .dev.vars, so the tests never read
 * the developer's .dev.vars and secrets never appear on a command line or in wrangler's banner.
 */
function privateConfig(dir, secrets) {
  let toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  toml = toml
    .replace(/^main = "(.*)"$/m, (_, p) => `main = "${join(ROOT, p)}"`)
    .replace(/^directory = "(.*)"$/m, (_, p) => `directory = "${join(ROOT, p)}"`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, p) => `migrations_dir = "${join(ROOT, p)}"`)
    .replace(/^\[build\]\n(?:[^\[\n].*\n|\n)*/m, '');
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, toml);
  writeFileSync(join(dir, '.dev.vars'), Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join(''));
  return config;
}

/**
 * Starts the worker (wrangler dev, local D1/KV, migrations applied) pointed at `emu`. A fresh state directory
 * unless `state` names one a previous worker left behind (`stop({ keepState: true })`): a new isolate on the same
 * D1 and KV.
 */
export async function startWorker(emu, vars = {}, { secrets = {}, state: reuse } = {}) {
  const state = reuse ?? mkdtempSync(join(process.env.EMBEDGATE_STATE_BASE || tmpdir(), 'embedgate-worker-'));
  const config = privateConfig(state, { CLIENT_SECRET, JWT_HS256_SECRET: HS_SECRET, ADMIN_KEY, ...secrets });
  if (!reuse) {
    await promisify(execFile)(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--config', config, '--persist-to', join(state, 'state')], {
      cwd: ROOT,
      env: WRANGLER_ENV,
    });
  }
  const all = {
    PBI_API_BASE: emu.api,
    ENTRA_AUTHORITY: emu.api,
    JWKS_URL: `${emu.api}/__emulator/idp/jwks.json`,
    ALLOWED_ORIGINS: 'https://portal.example,http://127.0.0.1:8787',
    ...vars,
  };
  // A port found free can be taken by another process before workerd binds it (wrangler then exits with
  // "Address already in use"): only that failure is retried, on new ports.
  let proc;
  let base;
  let logs;
  for (let attempt = 1; ; attempt++) {
    const [port, inspector] = await freePorts(2);
    base = `http://127.0.0.1:${port}`;
    const args = ['dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
      '--persist-to', join(state, 'state'),
      '--show-interactive-dev-session=false', '--log-level', process.env.WRANGLER_LOG_LEVEL || 'log'];
    for (const [k, v] of Object.entries(all)) args.push('--var', `${k}:${v}`);
    // WORKER_INSPECTOR=0 (benchmarks): the same worker through scripts/dev-worker.mjs, without the DevTools inspector.
    proc = process.env.WORKER_INSPECTOR === '0'
      ? spawn(process.execPath, [join(ROOT, 'scripts', 'dev-worker.mjs'), ...args.filter((a) => !['dev', '--show-interactive-dev-session=false'].includes(a))],
        { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      : spawn(WRANGLER, args, { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = [];
    logs = out;
    proc.stdout.on('data', (d) => out.push(String(d)));
    proc.stderr.on('data', (d) => out.push(String(d)));
    try {
      await waitFor(`${base}/api/health`, 60000, proc, 'wrangler dev');
      break;
    } catch (e) {
      await stopper(proc)();
      const text = out.join('');
      if (attempt < 3 && /address already in use|EADDRINUSE/i.test(text)) continue;
      // The reason first: a CI excerpt may keep only the start of the message.
      const reason = text.split('\n').filter((l) => /ERROR|Error:|Fatal/.test(l)).slice(-3).join('\n');
      throw new Error(`${e.message} on attempt ${attempt}\n${reason}\n--- wrangler output ---\n${text}`);
    }
  }
  const stop = stopper(proc);
  return {
    base,
    proc,
    logs,
    state,
    /** Runs SQL on the worker's local D1 (a test's way to set up a state no API call makes); the rows. */
    async d1(sql) {
      const { stdout } = await promisify(execFile)(WRANGLER, ['d1', 'execute', 'DB', '--local', '--config', config,
        '--persist-to', join(state, 'state'), '--json', '--command', sql], { cwd: ROOT, env: WRANGLER_ENV });
      return JSON.parse(stdout)[0].results;
    },
    /** Everything wrangler printed so far. */
    logText: () => logs.join(''),
    async stop({ keepState = false } = {}) {
      await stop();
      if (!keepState) rmSync(state, { recursive: true, force: true });
    },
  };
}

/** fetch with JSON helpers; never throws on HTTP status. */
export async function call(base, path, { method = 'GET', token, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload = raw;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const started = Date.now();
  const r = await fetch(`${base}${path}`, { method, headers: h, body: payload });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json, ms: Date.now() - started };
}

export const admin = (base, path, opts = {}) => call(base, `/api/admin${path}`, { token: ADMIN_KEY, ...opts });

/** Polls an admin audit query until `done(json)` holds (the queue consumer writes batches about once a second). */
export async function auditUntil(worker, path, done, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await admin(worker.base, path);
    if (r.status === 200 && done(r.json)) return r;
    if (Date.now() > until) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function seed(worker) {
  for (const c of CUSTOMERS) {
    const r = await admin(worker.base, `/customers/${c.id}`, { method: 'PUT', body: c });
    if (r.status !== 201 && r.status !== 200) throw new Error(`seed ${c.id}: ${r.status} ${r.text}`);
  }
}

export const mint = (worker, token, body) => call(worker.base, '/api/token', { method: 'POST', token, body });

const b64u = (b) => Buffer.from(b).toString('base64url');

/** A JWT signed by the test itself: HS256 with `secret`, or with `sign(input) -> Buffer`. */
export function signJwt(header, claims, secretOrSigner) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = typeof secretOrSigner === 'function'
    ? secretOrSigner(input)
    : createHmac('sha256', secretOrSigner).update(input).digest();
  return `${input}.${b64u(sig)}`;
}

export function portalClaims(over = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'https://idp.embedgate.test/', aud: 'embedgate-portal', sub: 'alice', customer: 'contoso', iat: now, exp: now + 600, ...over };
}

/** An attacker's own RSA key, and a signer for RS256. */
export function attackerRsa() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return (input) => createSign('RSA-SHA256').update(input).sign(privateKey);
}

/** The PEM of a JWKS RSA key (what an algorithm-confusion attacker uses as HMAC secret). */
export function jwkToPem(jwk) {
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
}

/** Asserts nothing secret appears in `text`. */
export function secretsIn(text, extra = []) {
  return [CLIENT_SECRET, HS_SECRET, ADMIN_KEY, ...extra].filter((s) => s && text.includes(s));
}

/** Chromium flags for the embed iframe: emu.powerbi.com is 127.0.0.1, its certificate is self-signed. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors',
  '--host-resolver-rules=MAP emu.powerbi.com 127.0.0.1'];

/** Worker variables that point the demo portal's sign-in at the emulator's IdP. */
export const portalVars = (emu) => ({
  PORTAL_AUTHORIZE_URL: `${emu.api}/__emulator/idp/authorize`,
  PORTAL_TOKEN_URL: `${emu.api}/__emulator/idp/oauth2/token`,
});

/** Opens the demo portal and signs in at the emulator's IdP as `sub` (PKCE); resolves once signed in. */
/** Opens the portal and follows "Sign in" to the IdP's user list (the bench times from here). */
export async function portalToIdp(page, base) {
  await page.goto(`${base}/portal.html`);
  await page.click('#sign-in');
  await page.waitForURL(/\/__emulator\/idp\/authorize/);
}

export async function portalSignIn(page, base, sub) {
  await portalToIdp(page, base);
  await page.click(`button[value="${sub}"]`);
  await page.waitForURL(`${base}/portal`); // the asset server drops .html
  await page.waitForSelector('#signed-in:not([hidden])');
}
