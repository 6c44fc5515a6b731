// The portal side, end to end: the demo portal (www/static/portal.html, served by the worker in workerd) signs a
// user in at the emulator's IdP (authorization code + PKCE), lists their reports, and embeds one with
// @embedgate/embed and the real powerbi-client in headless Chromium, the emulator's embed iframe upstream.
// Refresh before expiry, on wake, on TokenExpired, Retry-After on a worker 429, typed errors, tear-down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  startEmulator, startWorker, seed, call, admin, sleep, portalSignIn, portalVars, IDS, ROOT, CUSTOMERS, CHROMIUM_ARGS,
} from './worker-harness.mjs';

// A second Contoso report on the same semantic model, to embed two reports with one token.
const CONTOSO_DETAILS = 'c0c0c0c0-0000-4000-8000-00000000b011';
let fixtureDir;

let emu;
let worker;
let browser;

before(async () => {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'crates/emulator/fixtures/demo.json'), 'utf8'));
  const base = fixture.reports.find((r) => r.id === IDS.contosoReport);
  fixture.reports.push({ ...base, id: CONTOSO_DETAILS, name: 'Contoso Details' });
  fixtureDir = mkdtempSync(join(tmpdir(), 'embedgate-portal-'));
  writeFileSync(join(fixtureDir, 'fixture.json'), JSON.stringify(fixture));
  emu = await startEmulator({ fixturePath: join(fixtureDir, 'fixture.json') });
  worker = await startWorker(emu, portalVars(emu));
  await seed(worker);
  const contoso = CUSTOMERS.find((c) => c.id === 'contoso');
  const put = await admin(worker.base, '/customers/contoso', { method: 'PUT', body: {
    ...contoso, reports: [...contoso.reports, { id: CONTOSO_DETAILS, workspaceId: IDS.contosoWorkspace }] } });
  assert.equal(put.status, 200, put.text);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await emu?.stop();
  if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
});

/** A fresh context and page that records the console, the URLs it visited and every /api/token request. */
async function open({ clock = false } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 900 } });
  if (clock) await context.clock.install();
  const page = await context.newPage();
  const seen = { console: [], urls: [], tokenRequests: [], tokens: [], minted: [] };
  page.on('console', (m) => seen.console.push(m.text()));
  page.on('pageerror', (e) => seen.console.push(`pageerror: ${e.message}`));
  page.on('framenavigated', (f) => seen.urls.push(f.url()));
  page.on('request', (r) => {
    seen.urls.push(r.url());
    if (r.url().endsWith('/api/token')) seen.tokenRequests.push(Date.now());
  });
  page.on('response', async (r) => {
    if (r.url().endsWith('/api/token') && r.status() === 200) {
      try {
        const j = await r.json();
        seen.tokens.push(j.token);
        seen.minted.push({ tokenId: j.tokenId, asked: JSON.parse(r.request().postData()).reports });
      } catch {}
    }
  });
  return { context, page, seen };
}

const signIn = (page, sub) => portalSignIn(page, worker.base, sub);

const logLines = (page) => page.$$eval('#refresh-log li', (lis) => lis.map((li) => li.textContent));
const waitLog = (page, re, count = 1, timeout = 20000) =>
  page.waitForFunction(([src, n]) => [...document.querySelectorAll('#refresh-log li')].filter((li) => new RegExp(src).test(li.textContent)).length >= n,
    [re.source, count], { timeout });

function embedFrame(page) {
  return page.frames().find((f) => f.url().includes('/reportEmbed'));
}

async function rows(page) {
  const f = embedFrame(page);
  assert.ok(f, 'the embed iframe is there');
  await f.waitForSelector('#emu-rows tr.emu-row', { timeout: 15000 });
  return f.$$eval('#emu-rows tr.emu-row', (trs) => trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
}

async function rendered(page) {
  await page.waitForFunction(() => document.getElementById('portal-status').textContent === 'Report shown.', null, { timeout: 20000 });
}

/** No token of any kind in a visited URL, localStorage, sessionStorage or the console. */
async function assertNoTokenLeak(page, seen) {
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  const jwt = /eyJ[\w-]{10,}\.[\w-]{10,}/;
  for (const u of seen.urls) assert.doesNotMatch(u, jwt, `no token in ${u}`);
  assert.doesNotMatch(storage, jwt);
  assert.doesNotMatch(seen.console.join('\n'), jwt);
  for (const t of seen.tokens) {
    assert.ok(!storage.includes(t), 'embed token not in storage');
    assert.ok(!seen.urls.some((u) => u.includes(t)), 'embed token not in a URL');
    assert.ok(!seen.console.some((l) => l.includes(t)), 'embed token not in the console');
  }
}

test('sign in as Contoso with PKCE: the report shows only Contoso rows; no token in the URL, storage or console', async () => {
  const { context, page, seen } = await open();
  await signIn(page, 'alice@contoso.example');
  // The name comes with /api/reports, after the signed-in view shows (the suite's first call is a cold one).
  await page.waitForFunction(() => document.getElementById('customer-name')?.textContent !== '');
  assert.equal(await page.textContent('#customer-name'), 'Contoso');
  await rendered(page);
  const r = await rows(page);
  assert.ok(r.length > 0);
  assert.deepEqual([...new Set(r.map((x) => x[0]))], ['Contoso'], JSON.stringify(r));
  assert.match(await page.textContent('#token-countdown'), /^\d+:\d\d$/);
  assert.match((await logLines(page))[0], /\(initial\), valid 3\d\d\d s/);
  await page.reload(); // memory only: a reload is signed out
  await page.waitForSelector('#signed-out:not([hidden])');
  await assertNoTokenLeak(page, seen);
  assert.equal(seen.tokens.length, 1);
  await context.close();
});

test('Fabrikam (role Region, East) sees only its East rows; asking for Contoso\'s report shows the 403 and no iframe', async () => {
  const { context, page } = await open();
  await signIn(page, 'bob@fabrikam.example');
  await rendered(page);
  const r = await rows(page);
  assert.ok(r.length > 0);
  assert.ok(r.every((x) => x[0] === 'Fabrikam' && x[1] === 'East'), JSON.stringify(r));

  await page.fill('#report-id', IDS.contosoReport);
  await page.click('#embed');
  await page.waitForSelector('#portal-error:not([hidden])');
  assert.equal(await page.getAttribute('#portal-error', 'data-kind'), 'forbidden');
  assert.match(await page.textContent('#portal-error'), /does not have access.*403 forbidden_item/s);
  assert.equal(await page.$$eval('#report-container iframe', (f) => f.length), 0, 'no iframe');
  assert.equal(embedFrame(page), undefined);
  await context.close();
});

test('tokens of 6 s refresh in place at least twice, without a reload and without TokenExpired reaching the user', async () => {
  await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: 6 });
  try {
    const { context, page, seen } = await open();
    let loads = 0;
    page.on('load', () => loads++);
    await signIn(page, 'alice@contoso.example');
    await rendered(page);
    const loadsBefore = loads;
    await waitLog(page, /\(scheduled\)/, 2, 30000);
    const log = await logLines(page);
    assert.ok(!log.some((l) => /error|expired\)/.test(l)), log.join('\n'));
    assert.equal(await page.isHidden('#portal-error'), true);
    assert.equal(loads, loadsBefore, 'no page reload');
    assert.deepEqual([...new Set((await rows(page)).map((x) => x[0]))], ['Contoso'], 'the report still shows data');
    assert.equal(await embedFrame(page).textContent('#emu-status'), 'rendered');
    assert.ok(seen.tokens.length >= 3 && new Set(seen.tokens).size === seen.tokens.length, 'a new token each time');
    await assertNoTokenLeak(page, seen);

    // Sign-out stops the timers: no token request afterwards.
    await page.click('#sign-out');
    assert.equal(await page.evaluate(() => window.embedgatePortal.scheduled), false);
    const n = seen.tokenRequests.length;
    await sleep(7000);
    assert.equal(seen.tokenRequests.length, n, 'no refresh after sign-out');
    assert.equal(await page.$$eval('#report-container iframe', (f) => f.length), 0);
    await context.close();
  } finally {
    await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: null });
  }
});

test('a missed refresh is recovered on TokenExpired without showing an error', async () => {
  await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: 6 });
  try {
    const { context, page } = await open();
    await signIn(page, 'alice@contoso.example');
    await rendered(page);
    // From now on the portal's timers never fire (a throttled tab); the embed iframe's still do.
    await page.evaluate(() => {
      const real = window.setTimeout;
      window.setTimeout = (fn, ms, ...a) => (ms > 100 ? 0 : real(fn, ms, ...a));
    });
    await waitLog(page, /\(expired\)/, 1, 30000);
    await rendered(page);
    assert.equal(await page.isHidden('#portal-error'), true, 'TokenExpired did not reach the user');
    assert.equal(await embedFrame(page).textContent('#emu-status'), 'rendered');
    await context.close();
  } finally {
    await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: null });
  }
});

test('a sleeping tab (clock jump, no timers) refreshes when it becomes visible again', async () => {
  const { context, page, seen } = await open({ clock: true });
  await signIn(page, 'alice@contoso.example');
  await rendered(page);
  const before = seen.tokenRequests.length;
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  // Asleep for 55 minutes: the clock moves, no timer runs (the refresh was due at 50).
  await page.clock.setSystemTime(Date.now() + 55 * 60_000);
  await sleep(500);
  assert.equal(seen.tokenRequests.length, before, 'nothing refreshed while asleep');
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await waitLog(page, /\(visible\)/);
  assert.equal(seen.tokenRequests.length, before + 1);
  await context.close();
});

test('a worker 429 is retried after its Retry-After, then the report shows', async () => {
  const { context, page, seen } = await open();
  await signIn(page, 'alice@contoso.example');
  await rendered(page);
  // Rate limits are fixed one-minute windows: start late in one so Retry-After is short.
  for (;;) {
    const s = new Date().getUTCSeconds();
    if (s >= 44 && s <= 50) break;
    await sleep(500);
  }
  // Spend alice's per-user allowance (60 per minute) with her own sign-in, as another tab of hers would.
  const user = await emu.userToken({ sub: 'alice@contoso.example', customer: 'contoso' });
  let limited;
  for (let i = 0; i < 70; i++) {
    const r = await call(worker.base, '/api/token', { method: 'POST', token: user, body: { reports: [IDS.contosoReport] } });
    if (r.status === 429) {
      limited = r;
      break;
    }
  }
  assert.ok(limited, 'the worker answered 429');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 17, `Retry-After ${retryAfter}`);
  const asked = Date.now();
  const n = seen.tokenRequests.length;
  await page.click('#embed');
  await waitLog(page, /retry 1 after \d+ s \(429\)/);
  await rendered(page);
  await waitLog(page, /\(initial\)/, 2);
  const waited = seen.tokenRequests.at(-1) - seen.tokenRequests[n];
  assert.ok(waited >= (retryAfter - 1) * 1000, `the retry waited ${waited} ms for Retry-After ${retryAfter} s`);
  assert.ok(Date.now() - asked < (retryAfter + 15) * 1000);
  assert.equal(await page.isHidden('#portal-error'), true);
  await context.close();
});

test('two reports on one page share one V2 token and one refresh', async () => {
  await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: 6 });
  try {
    const { context, page, seen } = await open();
    await signIn(page, 'alice@contoso.example');
    await rendered(page);
    const n = seen.tokenRequests.length;
    await page.click('#embed-all');
    const frames = () => page.frames().filter((f) => f.url().includes('/reportEmbed'));
    await page.waitForFunction(() => document.querySelectorAll('#report-container iframe').length === 2);
    await waitLog(page, /\(initial\)/, 2);
    await waitLog(page, /\(scheduled\)/, 1, 20000);
    // Let both iframes take the refreshed token.
    const tokenId = await page.evaluate(() => window.embedgatePortal.tokenId);
    for (const f of frames()) await f.waitForFunction((id) => document.getElementById('emu-tokenid').textContent === id, tokenId, { timeout: 10000 });
    assert.equal(frames().length, 2);
    const ids = await Promise.all(frames().map((f) => f.evaluate(() => new URLSearchParams(location.search).get('reportId'))));
    assert.deepEqual(ids.sort(), [IDS.contosoReport, CONTOSO_DETAILS].sort());
    // The refreshed token both iframes now hold came from one request that asked for both reports.
    const minted = seen.minted.filter((m) => m.tokenId === tokenId);
    assert.equal(minted.length, 1);
    assert.deepEqual(minted[0].asked.sort(), [IDS.contosoReport, CONTOSO_DETAILS].sort());
    assert.ok(seen.tokenRequests.length - n >= 2, 'initial and at least one refresh');
    await context.close();
  } finally {
    await emu.post('/__emulator/settings', { embedTokenLifetimeSeconds: null });
  }
});

test('typed errors on the page: a Power BI 500 shows "unavailable"; a 422 shows the core\'s diagnostics, no iframe', async () => {
  const { context, page } = await open();
  await signIn(page, 'alice@contoso.example');
  await rendered(page);
  await emu.fault('powerbi.generateToken', { status: 500 }, 50);
  try {
    await page.click('#embed');
    await page.waitForSelector('#portal-error:not([hidden])');
    assert.equal(await page.getAttribute('#portal-error', 'data-kind'), 'unavailable');
    assert.match(await page.textContent('#portal-error'), /unavailable right now.*502 upstream_error/s);
  } finally {
    await emu.clearFaults();
  }
  // A customer document the core refuses (a username with a space, EG0105): 422 before Power BI is called.
  const contoso = CUSTOMERS.find((c) => c.id === 'contoso');
  const doc = { ...contoso, reports: [...contoso.reports, { id: CONTOSO_DETAILS, workspaceId: IDS.contosoWorkspace }] };
  const put = (body) => admin(worker.base, '/customers/contoso', { method: 'PUT', body });
  assert.equal((await put({ ...doc, rls: { username: { value: 'Contoso Ltd' }, roles: ['Customer'] } })).status, 200);
  try {
    await page.click('#embed');
    await page.waitForFunction(() => document.getElementById('portal-error').dataset.kind === 'validation');
    const text = await page.textContent('#portal-error');
    assert.match(text, /refused before it reached Power BI.*422 validation_failed/s);
    assert.match(text, /EG0105: /);
    assert.equal(await page.$$eval('#report-container iframe', (f) => f.length), 0, 'no iframe');
  } finally {
    assert.equal((await put(doc)).status, 200);
  }
  await context.close();
});
