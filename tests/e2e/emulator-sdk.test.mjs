// End-to-end: the real powerbi-client SDK, in headless Chromium, embeds a report served by pbi-emulator.
// Starts the emulator binary (EMULATOR_BIN, else target/debug/pbi-emulator) on free ports and stops it at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.env.EMULATOR_BIN || path.join(root, 'target', 'debug', 'pbi-emulator');
const fixture = path.join(root, 'crates', 'emulator', 'fixtures', 'demo.json');
const sdk = readFileSync(path.join(root, 'node_modules', 'powerbi-client', 'dist', 'powerbi.js'));

const TENANT = '11111111-1111-4111-8111-111111111111';
const APP = '22222222-2222-4222-8222-222222222222';
const SECRET = 'emulator-demo-secret';
const P_CONTOSO = 'c0c0c0c0-0000-4000-8000-000000000001';
const R_CONTOSO = 'c0c0c0c0-0000-4000-8000-00000000b001';
const D_CONTOSO = 'c0c0c0c0-0000-4000-8000-00000000d001';
const W_LEGACY = '1e9ac100-0000-4000-8000-00000000a003';
const R_LEGACY = '1e9ac100-0000-4000-8000-00000000b003';
const D_LEGACY = '1e9ac100-0000-4000-8000-00000000d003';

let emu, api, hostServer, hostUrl, browser, page;

const HOST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>host</title>
<script src="/powerbi.js"></script></head>
<body><div id="container" style="width:900px;height:420px"></div>
<script>
  window.events = [];
  window.embedReport = function (cfg) {
    var el = document.getElementById('container');
    powerbi.reset(el);
    window.events = [];
    cfg.tokenType = window['powerbi-client'].models.TokenType.Embed;
    cfg.type = 'report';
    var report = powerbi.embed(el, cfg);
    ['loaded', 'rendered', 'error'].forEach(function (n) {
      report.on(n, function (ev) { window.events.push({ name: n, detail: ev.detail === undefined ? null : ev.detail }); });
    });
    window.report = report;
  };
</script></body></html>`;

async function startEmulator() {
  assert.ok(existsSync(bin), `emulator binary not found at ${bin} (build it or set EMULATOR_BIN)`);
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--embed-listen', '127.0.0.1:0', '--embed-host', 'emu.powerbi.com', '--state', fixture],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
  });
  return { child, addr: JSON.parse(line) };
}

async function json(url, init) {
  const r = await fetch(url, init);
  const body = await r.json();
  if (!r.ok) throw new Error(`${init?.method || 'GET'} ${url}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

async function spToken() {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: APP, client_secret: SECRET,
    scope: 'https://analysis.windows.net/powerbi/api/.default' });
  return (await json(`${api}/${TENANT}/oauth2/v2.0/token`, { method: 'POST', body: form })).access_token;
}

async function embedToken(entraToken, body, profile) {
  const headers = { authorization: `Bearer ${entraToken}`, 'content-type': 'application/json' };
  if (profile) headers['X-PowerBI-Profile-Id'] = profile;
  return json(`${api}/v1.0/myorg/GenerateToken`, { method: 'POST', headers, body: JSON.stringify(body) });
}

const legacyBody = (username) => ({ reports: [{ id: R_LEGACY }], identities: [{ username, roles: ['Customer'], datasets: [D_LEGACY] }] });

async function reportInfo(entraToken, group, report, profile) {
  const headers = { authorization: `Bearer ${entraToken}` };
  if (profile) headers['X-PowerBI-Profile-Id'] = profile;
  return json(`${api}/v1.0/myorg/groups/${group}/reports/${report}`, { headers });
}

async function waitForEvent(name, count = 1, timeout = 15000) {
  await page.waitForFunction(([n, c]) => window.events.filter((e) => e.name === n).length >= c, [name, count], { timeout });
  return page.evaluate((n) => window.events.filter((e) => e.name === n), name);
}

function embedFrame() {
  const f = page.frames().find((fr) => fr.url().includes('/reportEmbed'));
  assert.ok(f, 'embed iframe present');
  return f;
}

async function visibleRows() {
  return embedFrame().$$eval('#emu-rows tr.emu-row', (trs) => trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
}

before(async () => {
  const started = await startEmulator();
  emu = started.child;
  api = started.addr.api;
  assert.match(started.addr.embed, /^https:\/\/emu\.powerbi\.com:\d+$/);
  hostServer = createServer((req, res) => {
    if (req.url === '/powerbi.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(sdk); return; }
    res.writeHead(200, { 'content-type': 'text/html' }); res.end(HOST_PAGE);
  });
  await new Promise((r) => hostServer.listen(0, '127.0.0.1', r));
  hostUrl = `http://127.0.0.1:${hostServer.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--ignore-certificate-errors',
      '--host-resolver-rules=MAP emu.powerbi.com 127.0.0.1'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 960, height: 480 } });
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(hostUrl);
});

after(async () => {
  await browser?.close();
  hostServer?.close();
  if (emu && emu.exitCode === null) {
    const exited = new Promise((r) => emu.once('exit', r));
    emu.kill('SIGTERM');
    await exited;
  }
});

test('SDK embeds an RLS report: loaded and rendered fire, rows follow the identity', async () => {
  const sp = await spToken();
  const info = await reportInfo(sp, W_LEGACY, R_LEGACY);
  assert.match(info.embedUrl, /^https:\/\/emu\.powerbi\.com:\d+\/reportEmbed\?reportId=/);
  const contoso = await embedToken(sp, legacyBody('Contoso'));
  await page.evaluate(([t, url, id]) => window.embedReport({ accessToken: t, embedUrl: url, id }), [contoso.token, info.embedUrl, R_LEGACY]);
  await waitForEvent('loaded');
  await waitForEvent('rendered');
  const errors = await page.evaluate(() => window.events.filter((e) => e.name === 'error'));
  assert.deepEqual(errors, []);
  const rows = await visibleRows();
  assert.equal(rows.length, 4);
  assert.ok(rows.every((r) => r[0] === 'Contoso'), JSON.stringify(rows));
  assert.equal(await embedFrame().textContent('#emu-username'), 'Contoso');
  const pages = await page.evaluate(async () => (await window.report.getPages()).map((p) => [p.name, p.displayName, p.isActive]));
  assert.deepEqual(pages, [['ReportSection', 'Sales overview', true], ['ReportSection2', 'Details', false]]);
  mkdirSync(path.join(root, 'artifacts'), { recursive: true });
  await page.screenshot({ path: path.join(root, 'artifacts', 'emulator-sdk.png') });

  // the same report for Fabrikam shows only Fabrikam's rows
  const fabrikam = await embedToken(sp, legacyBody('Fabrikam'));
  await page.evaluate(([t, url, id]) => window.embedReport({ accessToken: t, embedUrl: url, id }), [fabrikam.token, info.embedUrl, R_LEGACY]);
  await waitForEvent('rendered');
  const fab = await visibleRows();
  assert.equal(fab.length, 3);
  assert.ok(fab.every((r) => r[0] === 'Fabrikam'), JSON.stringify(fab));
});

test('profile flow: Contoso profile embeds its own report with a CustomData role', async () => {
  const sp = await spToken();
  const info = await reportInfo(sp, 'c0c0c0c0-0000-4000-8000-00000000a001', R_CONTOSO, P_CONTOSO);
  const t = await embedToken(sp, { reports: [{ id: R_CONTOSO }],
    identities: [{ username: 'Contoso', roles: ['Region'], customData: 'North', datasets: [D_CONTOSO] }] }, P_CONTOSO);
  await page.evaluate(([tok, url, id]) => window.embedReport({ accessToken: tok, embedUrl: url, id }), [t.token, info.embedUrl, R_CONTOSO]);
  await waitForEvent('rendered');
  const rows = await visibleRows();
  assert.deepEqual(rows.map((r) => [r[0], r[1]]), [['Contoso', 'North'], ['Contoso', 'North']]);
});

test('an expiring token raises TokenExpired through the SDK and setAccessToken recovers', async () => {
  const sp = await spToken();
  const info = await reportInfo(sp, W_LEGACY, R_LEGACY);
  // an Entra token with 8 s left caps the embed token's life at 8 s (long enough for the report to load
  // on a loaded machine; expiry counts whole seconds)
  const shortEntra = (await json(`${api}/__emulator/entra/token`, { method: 'POST', body: JSON.stringify({ appId: APP, expiresIn: 8 }) })).access_token;
  const brief = await embedToken(shortEntra, legacyBody('Contoso'));
  assert.ok(Date.parse(brief.expiration) - Date.now() <= 8500);
  await page.evaluate(([t, url, id]) => window.embedReport({ accessToken: t, embedUrl: url, id }), [brief.token, info.embedUrl, R_LEGACY]);
  await waitForEvent('loaded');
  assert.equal((await visibleRows()).length, 4);
  const [expired] = await waitForEvent('error', 1, 20000);
  assert.equal(expired.detail.message, 'TokenExpired');
  assert.equal(expired.detail.errorCode, '403');
  assert.equal(expired.detail.detailedMessage, 'Access token has expired, resubmit with a new access token');
  assert.equal((await visibleRows()).length, 0, 'no data is shown once the token expired');

  // an expired token is refused by setAccessToken; a fresh one brings the report back
  const refused = await page.evaluate(async (t) => { try { await window.report.setAccessToken(t); return null; } catch (e) { return e; } }, brief.token);
  assert.equal(refused?.message, 'TokenExpired');
  const fresh = await embedToken(sp, legacyBody('Contoso'));
  const renderedBefore = (await page.evaluate(() => window.events.filter((e) => e.name === 'rendered').length));
  await page.evaluate(async (t) => { await window.report.setAccessToken(t); }, fresh.token);
  await waitForEvent('rendered', renderedBefore + 1);
  const rows = await visibleRows();
  assert.equal(rows.length, 4);
  assert.ok(rows.every((r) => r[0] === 'Contoso'));
  assert.equal(await embedFrame().textContent('#emu-tokenid'), fresh.tokenId);

  // loading with an already expired token fails straight away, without `loaded`
  await page.evaluate(([t, url, id]) => window.embedReport({ accessToken: t, embedUrl: url, id }), [brief.token, info.embedUrl, R_LEGACY]);
  const [err] = await waitForEvent('error');
  assert.equal(err.detail.message, 'TokenExpired');
  assert.equal(await page.evaluate(() => window.events.filter((e) => e.name === 'loaded').length), 0);
});

test('a token for another report is refused by the iframe', async () => {
  const sp = await spToken();
  const info = await reportInfo(sp, W_LEGACY, R_LEGACY);
  const other = await embedToken(sp, { reports: [{ id: R_CONTOSO }], identities: [{ username: 'Contoso', roles: ['Customer'], datasets: [D_CONTOSO] }] }, P_CONTOSO);
  await page.evaluate(([t, url, id]) => window.embedReport({ accessToken: t, embedUrl: url, id }), [other.token, info.embedUrl, R_LEGACY]);
  const [err] = await waitForEvent('error');
  assert.equal(err.detail.message, 'LoadReportFailed');
  assert.match(err.detail.detailedMessage, /doesn't grant access to report/);
  const calls = await json(`${api}/__emulator/calls`);
  assert.ok(calls['embed.reportEmbed'] >= 6, JSON.stringify(calls));
});
