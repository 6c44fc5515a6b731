// Load test of the anchor a user would otherwise pick: Microsoft's App Owns Data sample for Node.js
// (../shared/anchors/ms-node-appownsdata, see its PROVENANCE.md), run against the emulator. The sample is copied
// into a temp dir (never into the project tree), changed as little as possible (hosts + the MSAL settings an
// offline https authority needs), installed with npm, started, then wrk at concurrency 1, 16 and 64 on
// GET /getEmbedToken. Upstream calls per token come from the emulator's call counts.
//
//   node scripts/bench-anchor.mjs            (BENCH_SECONDS=15, BENCH_CONCURRENCY=1,16,64, ANCHOR_DIR=…)
//
// `runAnchor({ emulator, levels, seconds })` returns the rows so scripts/bench-worker.mjs can run it beside the
// worker against the same emulator; it returns null (after saying why) when the sample is not on this machine.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEmulator, ROOT } from '../tests/e2e/worker-harness.mjs';

export const ANCHOR = {
  tenant: '11111111-1111-4111-8111-111111111111',
  clientId: '22222222-2222-4222-8222-222222222222',
  secret: 'emulator-demo-secret',
  // The sample sends no effective identity, and every demo dataset has RLS roles (Power BI then refuses a token
  // without identity), so the bench adds one dataset without roles and its report to the emulator's live state,
  // in the legacy workspace where the service principal is Admin without a profile (the sample sends none).
  workspace: '1e9ac100-0000-4000-8000-00000000a003',
  dataset: '1e9ac100-0000-4000-8000-00000000d004',
  report: '1e9ac100-0000-4000-8000-00000000b004',
};

const ms = (us) => (us / 1000).toFixed(1);
const log = (m) => console.error(`bench-anchor: ${m}`);

/** The sample's directory, or null. */
export function findSample() {
  const candidates = [
    process.env.ANCHOR_DIR,
    join(ROOT, '..', 'shared', 'anchors', 'ms-node-appownsdata'),
    '/work/shared/anchors/ms-node-appownsdata',
  ].filter(Boolean).map((p) => resolve(p));
  return candidates.find((p) => existsSync(join(p, 'src', 'authentication.js')) && existsSync(join(p, 'package.json'))) ?? null;
}

/** Replaces `from` by `to` in `file`, `expect` times exactly (or at least once when `expect` is 'all'); throws otherwise. */
function replaceIn(dir, file, from, to, expect, changes, summary) {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const n = text.split(from).length - 1;
  if (n === 0 || (expect !== 'all' && n !== expect)) {
    throw new Error(`bench-anchor: expected ${expect === 'all' ? 'at least one' : expect} occurrence(s) of ${JSON.stringify(from)} in ${file}, found ${n}: the sample changed, update this script`);
  }
  writeFileSync(path, text.split(from).join(to));
  changes.push({ file, from, to, n, summary });
}

function writable(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) writable(p);
  }
  chmodSync(dir, statSync(dir).mode | 0o200);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function getJsonTls(url, ca) {
  return new Promise((res, rej) => {
    const req = httpsRequest(url, { ca }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(body)) : rej(new Error(`${url}: ${r.statusCode} ${body}`))));
    });
    req.on('error', rej);
    req.end();
  });
}

/** Adds the no-RLS dataset and report to the emulator's live state (idempotent). */
async function addNoRlsReport(api) {
  const state = await (await fetch(`${api}/__emulator/state`)).json();
  if (state.reports.some((r) => r.id === ANCHOR.report)) return;
  const base = state.datasets.find((d) => d.workspaceId === ANCHOR.workspace);
  if (!base) throw new Error(`bench-anchor: no dataset in workspace ${ANCHOR.workspace} of the emulator's state`);
  state.datasets.push({ ...base, id: ANCHOR.dataset, name: 'Public Overview (no RLS)', roles: [] });
  const baseReport = state.reports.find((r) => r.datasetId === base.id);
  state.reports.push({ ...baseReport, id: ANCHOR.report, name: 'Public Overview (no RLS)', datasetId: ANCHOR.dataset });
  const r = await fetch(`${api}/__emulator/state`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(state) });
  if (!r.ok) throw new Error(`bench-anchor: loading the no-RLS report into the emulator: ${r.status} ${await r.text()}`);
}

/** npm install once per package.json into a stable cache dir; returns its node_modules. */
function installDeps(sampleDir) {
  const pkg = readFileSync(join(sampleDir, 'package.json'));
  const hash = createHash('sha256').update(pkg).digest('hex').slice(0, 16);
  const cache = join(process.env.TMPDIR || tmpdir(), 'embedgate-anchor-cache');
  const dir = join(cache, `install-${hash}`);
  const done = join(dir, '.installed');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), pkg);
    log(`npm install into ${dir} (once; later runs reuse it)`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--cache', join(cache, 'npm')], {
      cwd: dir, stdio: ['ignore', 'ignore', 'inherit'],
    });
    writeFileSync(done, new Date().toISOString());
  }
  return join(dir, 'node_modules');
}

/** Copies, changes, configures and starts the sample against `emulator`; returns { base, stop, changes, msal }. */
async function startSample(emulator, sampleDir) {
  const api = emulator.api;
  const tlsPort = new URL(emulator.embed).port;
  const authorityHost = `127.0.0.1:${tlsPort}`;
  const authorityUrl = `https://${authorityHost}/`;
  const work = mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'embedgate-anchor-'));
  cpSync(sampleDir, work, { recursive: true });
  writable(work);

  const certPath = join(work, 'emulator-cert.pem');
  const pem = await (await fetch(`${api}/__emulator/embed/cert.pem`)).text();
  writeFileSync(certPath, pem);
  // The authority metadata MSAL would fetch, read once from the emulator over TLS with its certificate.
  const metadata = await getJsonTls(`${authorityUrl}${ANCHOR.tenant}/v2.0/.well-known/openid-configuration`, pem);

  const changes = [];
  // 1. Power BI host: the sample writes https://api.powerbi.com into its code (node-fetch, so http is fine).
  replaceIn(work, 'src/embedConfigService.js', 'https://api.powerbi.com/', `${api}/`, 'all', changes);
  // 2. MSAL: an https authority on 127.0.0.1, known (no instance discovery on login.microsoftonline.com) and with
  //    its metadata injected (no openid-configuration fetch). The per-call new ConfidentialClientApplication stays.
  replaceIn(
    work,
    'src/authentication.js',
    'authority: `${config.authorityUrl}${config.tenantId}`,\n',
    'authority: `${config.authorityUrl}${config.tenantId}`,\n'
      + `            knownAuthorities: [${JSON.stringify(authorityHost)}],\n`
      + `            authorityMetadata: ${JSON.stringify(JSON.stringify(metadata))},\n`,
    1,
    changes,
    `inserted two MSAL settings after \`authority\`: \`knownAuthorities: ["${authorityHost}"]\`, `
      + '`authorityMetadata: "<the emulator\'s openid-configuration, as JSON text>"` (1×)',
  );
  // 3. config/config.json: the emulator's demo tenant and service principal (the file is the sample's settings).
  const config = JSON.parse(readFileSync(join(work, 'config/config.json'), 'utf8'));
  Object.assign(config, {
    authenticationMode: 'ServicePrincipal',
    authorityUrl,
    powerBiApiUrl: `${api}/`,
    clientId: ANCHOR.clientId,
    workspaceId: ANCHOR.workspace,
    reportId: ANCHOR.report,
    clientSecret: ANCHOR.secret,
    tenantId: ANCHOR.tenant,
  });
  writeFileSync(join(work, 'config/config.json'), `${JSON.stringify(config, null, 4)}\n`);

  symlinkSync(installDeps(sampleDir), join(work, 'node_modules'), 'dir');
  const msal = JSON.parse(readFileSync(join(work, 'node_modules/@azure/msal-node/package.json'), 'utf8')).version;

  const port = await freePort();
  const proc = spawn(process.execPath, ['src/server.js'], {
    cwd: work,
    env: { ...process.env, PORT: String(port), NODE_EXTRA_CA_CERTS: certPath },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  await new Promise((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`sample did not start: ${stderr}`)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Listening on port')) { clearTimeout(t); res(); }
    });
    proc.once('exit', (c) => { clearTimeout(t); rej(new Error(`sample exited (${c}): ${stderr}`)); });
  });
  proc.stdout.resume();
  const stop = async () => {
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(work, { recursive: true, force: true });
  };
  return { base: `http://127.0.0.1:${port}`, stop, changes, msal, work };
}

/** A short, exact account of what was changed in the sample. */
export function describeChanges(changes) {
  const short = (s) => (s.length > 90 ? `${s.slice(0, 87)}...` : s).replace(/\n/g, '\\n');
  return [
    ...changes.map((c) => `- \`${c.file}\`: ${c.summary ?? `\`${short(c.from)}\` → \`${short(c.to)}\` (${c.n}×)`}`),
    '- `config/config.json`: `authenticationMode` ServicePrincipal, `authorityUrl` the emulator\'s https listener, tenant,'
      + ' client id, secret, workspace and report of the emulator (settings the sample asks its user to fill in)',
    '- run with `NODE_EXTRA_CA_CERTS` = the emulator\'s self-signed certificate; dependencies from `npm install` of the'
      + ' sample\'s own package.json',
  ].join('\n');
}

const lua = `
done = function(s, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50":%d,"p99":%d}\\n',
    s.requests, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.write, s.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/**
 * Runs the anchor against `emulator` (a harness emulator: { api, embed }; one is started if absent).
 * Returns { rows, changes, msal } or null when the sample is absent.
 */
export async function runAnchor({ emulator, levels = [1, 16, 64], seconds = 15 } = {}) {
  const sampleDir = findSample();
  if (!sampleDir) {
    log('skipped: Microsoft\'s sample not found (set ANCHOR_DIR, or put it in ../shared/anchors/ms-node-appownsdata)');
    return null;
  }
  const own = !emulator;
  const emu = emulator ?? (await startEmulator());
  let sample;
  const rows = [];
  try {
    await addNoRlsReport(emu.api);
    sample = await startSample(emu, sampleDir);
    const first = await fetch(`${sample.base}/getEmbedToken`);
    const body = await first.json();
    if (first.status !== 200 || !body.accessToken) throw new Error(`GET /getEmbedToken: ${first.status} ${JSON.stringify(body)}`);
    const dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'embedgate-anchor-wrk-'));
    const luaPath = join(dir, 'done.lua');
    writeFileSync(luaPath, lua);
    for (const c of levels) {
      await fetch(`${emu.api}/__emulator/calls`, { method: 'DELETE' });
      const out = execFileSync('wrk', ['-t', String(Math.min(2, c)), '-c', String(c), '-d', `${seconds}s`, '--timeout', '20s', '-s', luaPath,
        `${sample.base}/getEmbedToken`], { encoding: 'utf8' });
      const r = JSON.parse(out.split('\n').find((l) => l.startsWith('WRKJSON ')).slice(8));
      await new Promise((res) => setTimeout(res, 1500)); // requests still in flight when wrk stopped
      const calls = await (await fetch(`${emu.api}/__emulator/calls`)).json();
      const failed = r.status_errors + r.connect_errors + r.read_errors + r.write_errors + r.timeouts;
      const ok = r.requests - failed;
      const entra = Object.entries(calls).filter(([k]) => k.startsWith('entra.')).reduce((a, [, v]) => a + v, 0);
      const pbi = Object.entries(calls).filter(([k]) => k.startsWith('powerbi.')).reduce((a, [, v]) => a + v, 0);
      rows.push({
        c, tokens: ok, failed, rps: ok / (r.duration_us / 1e6), p50: r.p50, p99: r.p99,
        entra, pbi, entraPerToken: ok ? entra / ok : 0, pbiPerToken: ok ? pbi / ok : 0, calls,
      });
      log(`c=${c}: ${ok} tokens, ${failed} failed, ${rows.at(-1).rps.toFixed(1)} tokens/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, `
        + `Entra ${rows.at(-1).entraPerToken.toFixed(2)}/token, Power BI ${rows.at(-1).pbiPerToken.toFixed(2)}/token`);
    }
    rmSync(dir, { recursive: true, force: true });
    return { rows, changes: sample.changes, msal: sample.msal };
  } finally {
    if (sample) await sample.stop();
    if (own) await emu.stop();
  }
}

export function anchorTable(rows) {
  return [
    '| concurrency | tokens | failed | tokens/s | p50 ms | p99 ms | Entra calls/token | Power BI calls/token |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.c} | ${r.tokens} | ${r.failed} | ${r.rps.toFixed(1)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.entraPerToken.toFixed(2)} | ${r.pbiPerToken.toFixed(2)} |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const seconds = Number(process.env.BENCH_SECONDS || 15);
  const levels = (process.env.BENCH_CONCURRENCY || '1,16,64').split(',').map(Number);
  const result = await runAnchor({ levels, seconds });
  if (result) {
    console.log(`Microsoft's Node sample (App Owns Data), @azure/msal-node ${result.msal}, ${seconds} s per level:\n`);
    console.log(anchorTable(result.rows));
    console.log('\nChanges made to the sample (in a temp copy):\n');
    console.log(describeChanges(result.changes));
  }
}
