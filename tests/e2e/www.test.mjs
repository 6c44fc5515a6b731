// End-to-end tests of the www pages in real headless Chromium (Debian's, via playwright-core).
// Serves www/dist (build it first: scripts/build-www.sh) on 127.0.0.1, port 0. Screenshots of each
// page go to artifacts/.
//   node --test tests/e2e/www.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/www-server.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'www/dist');
const artifacts = join(root, 'artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server;
let base;
let context;
let profileDir;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(join(dist, 'form.js')), 'www/dist is not built: run scripts/build-www.sh');
  mkdirSync(artifacts, { recursive: true });
  ({ server, url: base } = await serve(dist, 0));
  profileDir = mkdtempSync(join(tmpdir(), 'embedgate-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
  });
  // Only 127.0.0.1 may be reached.
  await context.route(/^(?!http:\/\/127\.0\.0\.1[:/]).*/, (route) => route.abort());
});

after(async () => {
  await context?.close();
  server?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  assert.deepEqual(pageErrors, [], 'uncaught errors in the pages');
});

async function open(path) {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
  await page.goto(base + path);
  await page.waitForSelector('body.ready', { timeout: 15000 });
  return page;
}

/** Presses Tab until the element matching `selector` has the focus. */
async function tabTo(page, selector, max = 10) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
  }
  assert.fail(`Tab never reached ${selector}`);
}

/** A full-page screenshot from the top (the sticky side panel follows the scroll position). */
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, name), fullPage: true });
}

const inline = (page, section, code) => page.locator(`#${section} > .field-diags .inline-diag[data-code="${code}"]`);
const verdict = (page) => page.locator('#summary .verdict-text').textContent();
/** The page's own state from its URL hash (`key` = s or t), decoded. */
const hashText = (page, key) =>
  page.evaluate((k) => {
    const v = new URLSearchParams(location.hash.slice(1)).get(k);
    if (v === null) return null;
    const bin = atob(v.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }, key);
const b64url = (text) => Buffer.from(text).toString('base64url');
const focused = (page) => page.evaluate(() => document.activeElement?.dataset.key || document.activeElement?.id || document.activeElement?.tagName);
/** The decoded hash state once it contains `needle` (the checker writes it after a short debounce). */
async function hashWith(page, key, needle) {
  for (let i = 0; i < 200; i++) {
    const t = await hashText(page, key);
    if (t?.includes(needle)) return t;
    await sleep(50);
  }
  assert.fail(`the URL hash never held ${needle}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SSO_TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.sso-secret-access-token';

describe('token-request form', () => {
  test('service principal + RLS dataset + no identity shows EG0301 at the identities field', async () => {
    const page = await open('index.html');
    // Build the scenario with the controls: master user first, then switch to a service principal.
    await page.getByLabel('Master user').check();
    await page.getByLabel('User principal name').fill('embed@contoso.com');
    assert.equal(await inline(page, 'identities', 'EG0301').count(), 0, 'a master user may omit the identity');
    await page.getByLabel('Service principal', { exact: true }).check();
    await page.getByTestId('dataset-0-roles').fill('Customer');
    const diag = inline(page, 'identities', 'EG0301');
    await diag.waitFor();
    assert.match(await diag.textContent(), /requires an effective identity/);
    assert.match(await verdict(page), /^Invalid/);
    // The summary lists it, naming the field, and the live region announces the verdict.
    const cardWhere = await page.locator('#summary .diag[data-code="EG0301"] .where').textContent();
    assert.match(cardWhere, /Effective identities/);
    await page.waitForFunction(() => /Invalid/.test(document.getElementById('status').textContent));
    assert.equal(await page.locator('#status').getAttribute('aria-live'), 'polite');
    await shot(page, 'www-form-error.png');
    await page.close();
  });

  test('adding an identity with a role (keyboard only) clears it', async () => {
    const page = await open('index.html');
    await inline(page, 'identities', 'EG0301').waitFor();
    await page.getByTestId('add-identity').focus();
    await page.keyboard.press('Enter');
    // The new identity's username field has the focus.
    await page.keyboard.type('alice@contoso.com');
    assert.equal(await page.getByTestId('identity-0-username').inputValue(), 'alice@contoso.com');
    // Tab on to the roles field (past the inline fix button the username's finding brings).
    await tabTo(page, '[data-testid="identity-0-roles"]');
    await page.keyboard.type('Customer');
    await page.waitForFunction(() => !document.querySelector('[data-code="EG0301"]'));
    assert.match(await verdict(page), /^Valid/);
    const body = JSON.parse(await page.locator('#preview-body').textContent());
    assert.deepEqual(body.identities, [
      { username: 'alice@contoso.com', roles: ['Customer'], datasets: ['d1d1d1d1-0000-4000-8000-000000000001'] },
    ]);
    await shot(page, 'www-form.png');
    await page.close();
  });

  test('a fix button applies the core fix', async () => {
    const page = await open('index.html');
    await page.locator('#identities button[data-fix="EG0301"]').click();
    await page.waitForFunction(() => !document.querySelector('[data-code="EG0301"]'));
    const body = JSON.parse(await page.locator('#preview-body').textContent());
    assert.equal(body.identities.length, 1);
    assert.deepEqual(body.identities[0].datasets, ['d1d1d1d1-0000-4000-8000-000000000001']);
    assert.deepEqual(body.identities[0].roles, ['Customer']);
    // The form shows the new identity, with the fix's values in its controls.
    assert.equal(await page.getByTestId('identity-0-roles').inputValue(), 'Customer');
    await page.close();
  });

  test('a shared link restores the same scenario, with the profile header in curl', async () => {
    const page = await open('index.html');
    await page.getByLabel('Service principal profile').check();
    await page.getByLabel('Profile ID').fill('0c0c0c0c-1111-4111-8111-00000000abcd');
    await page.getByTestId('add-identity').click();
    await page.getByTestId('identity-0-username').fill('bob@fabrikam.com');
    await page.getByTestId('identity-0-roles').fill('Customer, Manager');
    await page.locator('#lifetime').fill('30');
    const curl = await page.locator('#preview-curl').textContent();
    assert.match(curl, /-H 'X-PowerBI-Profile-Id: 0c0c0c0c-1111-4111-8111-00000000abcd'/);
    assert.match(curl, /-H "Authorization: Bearer \$TOKEN"/);
    const body = await page.locator('#preview-body').textContent();
    const link = page.url();
    assert.match(link, /#s=/);
    // The copy buttons put exactly the previewed text (and the link) on the clipboard.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
    await page.locator('#copy-curl').click();
    assert.equal(await clipboard(), curl);
    await page.locator('#copy-json').click();
    assert.equal(await clipboard(), body);
    await page.locator('#share').click();
    assert.equal(await clipboard(), link);
    // The backend samples: the profile in each language, the exact body in C#'s verbatim string.
    const cs = await page.locator('#preview-csharp').textContent();
    assert.match(cs, /new PowerBIClient\(credentials, profileObjectId: new Guid\("0c0c0c0c-1111-4111-8111-00000000abcd"\)\)/);
    assert.ok(cs.includes(`@"${body.replaceAll('"', '""')}"`), cs);
    assert.match(await page.locator('#preview-node').textContent(), /'X-PowerBI-Profile-Id': "0c0c0c0c-1111-4111-8111-00000000abcd"/);
    assert.match(await page.locator('#preview-python').textContent(), /"X-PowerBI-Profile-Id": "0c0c0c0c-1111-4111-8111-00000000abcd"/);
    await page.locator('#sample-python summary').click();
    await page.locator('#copy-python').click();
    assert.equal(await clipboard(), await page.locator('#preview-python').textContent());

    const again = await open(link.slice(base.length));
    assert.equal(await again.locator('#preview-body').textContent(), body);
    assert.equal(await again.locator('#preview-curl').textContent(), curl);
    assert.equal(await again.getByLabel('Profile ID').inputValue(), '0c0c0c0c-1111-4111-8111-00000000abcd');
    assert.equal(await again.getByTestId('identity-0-roles').inputValue(), 'Customer, Manager');
    assert.ok(await again.getByLabel('Service principal profile').isChecked());
    await page.close();
    await again.close();
  });

  test('an SSO token typed into an identity blob never reaches the URL', async () => {
    const page = await open('index.html');
    await page.getByTestId('add-identity').click();
    await page.getByLabel('Identity blob (SSO access token)').fill(SSO_TOKEN);
    assert.match(await page.locator('#preview-body').textContent(), /sso-secret-access-token/, 'the preview shows the real body');
    const state = await hashText(page, 's');
    assert.ok(!state.includes('sso-secret'), state);
    assert.equal(JSON.parse(state).request.identities[0].identityBlob.value, '<SSO access token: not kept in links>');
    // Nor the link to the checker.
    await page.locator('#open-checker').click();
    await page.waitForURL(/rls\.html#t=/);
    await page.waitForSelector('body.ready');
    assert.ok(!(await hashText(page, 't')).includes('sso-secret'));
    assert.ok(!(await page.locator('#editor').inputValue()).includes('sso-secret'));
    // Text typed into the checker is kept out of its link too, and not-JSON text naming a blob is not written at all.
    const text = JSON.stringify({ ...JSON.parse(await page.locator('#editor').inputValue()), note: 'x' }, null, 2).replace(
      '<SSO access token: not kept in links>',
      SSO_TOKEN,
    );
    await page.locator('#editor').fill(text);
    const t = await hashWith(page, 't', '"note": "x"');
    assert.ok(t.includes('"note": "x"') && !t.includes('sso-secret'), t);
    await page.locator('#editor').fill(`${text.slice(0, -2)} oops`);
    await sleep(600);
    assert.equal(await hashText(page, 't'), t, 'not-JSON text naming a blob leaves the last safe link');
    await page.close();
  });

  test('a parse finding cites the swagger words of its own field, or nothing', async () => {
    const page = await open('rls.html');
    const base = JSON.parse(await page.locator('#editor').inputValue());
    const show = async (s) => page.locator('#editor').fill(JSON.stringify(s, null, 2));
    const source = (code) => page.locator(`.diag[data-code="${code}"]`).first();
    const s = structuredClone(base);
    s.caller.profile = { id: '' };
    await show(s);
    await source('EG0103').locator('.source', { hasText: 'The service principal profile ID' }).waitFor();
    assert.doesNotMatch(await source('EG0103').locator('.source').textContent(), /report ID/);
    delete s.caller.profile;
    s.request.lifetimeInMinutes = 'abc';
    await show(s);
    await source('EG0002').locator('.source', { hasText: 'lifetimeInMinutes' }).waitFor();
    assert.doesNotMatch(await source('EG0002').locator('.source').textContent(), /required/);
    delete s.request.lifetimeInMinutes;
    delete s.caller;
    await show(s);
    await page.locator('.diag[data-code="EG0002"] .msg', { hasText: 'missing field' }).waitFor();
    assert.equal(await source('EG0002').locator('.source').count(), 0, 'the scenario schema is no Microsoft document');
    await page.close();
  });

  test('an SSO token under a misspelt or misshaped identity blob stays out of the URL too', async () => {
    const page = await open('rls.html');
    const base = JSON.parse(await page.locator('#editor').inputValue());
    const blobs = [{ IdentityBlob: { value: SSO_TOKEN } }, { identityblob: { Value: SSO_TOKEN } }, { identityBlob: SSO_TOKEN }];
    for (const [i, blob] of blobs.entries()) {
      const s = structuredClone(base);
      s.request.identities = [{ username: `user${i}`, roles: ['Customer'], datasets: [s.datasets[0].id], ...blob }];
      await page.locator('#editor').fill(JSON.stringify(s, null, 2));
      const t = await hashWith(page, 't', `"username": "user${i}"`);
      assert.ok(!t.includes('sso-secret'), t);
      assert.ok(t.includes('<SSO access token: not kept in links>'), t);
    }
    // Nor does the way to the form, nor the form's notice link back to the checker.
    await page.locator('#open-form').click();
    await page.waitForURL(/index\.html#s=/);
    await page.waitForSelector('body.ready');
    assert.ok(!(await hashText(page, 's')).includes('sso-secret'));
    const back = await page.locator('#form-notice a').getAttribute('href');
    const linked = Buffer.from(new URLSearchParams(back.split('#')[1]).get('t'), 'base64url').toString();
    assert.ok(linked.includes('"identityBlob"') && !linked.includes('sso-secret'), linked);
    await page.close();
  });

  test('a linked scenario the form cannot show opens the default, with a notice and a way to the checker', async () => {
    for (const [scenario, where] of [
      [{ caller: { principalType: 'App', objectId: 'x' }, endpoint: { kind: 'GenerateTokenV2' }, datasets: [{ id: 'd', roles: 'Customer' }] }, '/datasets/0/roles'],
      [{ caller: { principalType: 'App' }, endpoint: { kind: 'toString' } }, '/endpoint/kind'],
      [{ caller: { principalType: 'App' }, endpoint: { kind: 'GenerateTokenV2' }, reports: [null] }, '/reports/0'],
    ]) {
      const page = await open(`index.html#s=${b64url(JSON.stringify(scenario))}`);
      const notice = page.locator('#form-notice');
      await notice.waitFor();
      assert.ok((await notice.textContent()).includes(where), await notice.textContent());
      // The form works on the default scenario.
      await inline(page, 'identities', 'EG0301').waitFor();
      const href = await notice.locator('a').getAttribute('href');
      await notice.locator('a').click();
      await page.waitForURL(/rls\.html/);
      await page.waitForSelector('body.ready');
      assert.deepEqual(JSON.parse(await page.locator('#editor').inputValue()), scenario, href);
      await page.close();
    }
  });

  test('V2 settings survive a trip to a V1 endpoint; ids match the request case-insensitively', async () => {
    const page = await open('index.html');
    await page.getByLabel('Allow edit').check();
    await page.getByLabel('XMLA permissions').selectOption('ReadOnly');
    await page.getByTestId('add-identity').click();
    await page.locator('#endpoint-kind').selectOption('Report');
    await page.getByTestId('identity-0-username').fill('carol@contoso.com');
    await page.locator('#endpoint-kind').selectOption('GenerateTokenV2');
    const body = JSON.parse(await page.locator('#preview-body').textContent());
    assert.deepEqual(body.reports, [{ id: 'e1e1e1e1-0000-4000-8000-000000000001', allowEdit: true }]);
    assert.deepEqual(body.datasets, [{ id: 'd1d1d1d1-0000-4000-8000-000000000001', xmlaPermissions: 'ReadOnly' }]);
    assert.equal(body.identities[0].username, 'carol@contoso.com', 'the identity edited on the V1 body is kept');
    await page.close();
    // The request and the identity name the dataset in capitals: renaming the dataset follows them.
    const s = {
      caller: { principalType: 'App', objectId: '6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01' },
      endpoint: { kind: 'GenerateTokenV2' },
      datasets: [{ id: 'd1d1d1d1-0000-4000-8000-000000000001', roles: ['Customer'] }],
      request: {
        datasets: [{ id: 'D1D1D1D1-0000-4000-8000-000000000001' }],
        identities: [{ username: 'u', roles: ['Customer'], datasets: ['D1D1D1D1-0000-4000-8000-000000000001'] }],
      },
    };
    const linked = await open(`index.html#s=${b64url(JSON.stringify(s))}`);
    assert.ok(await linked.locator('[data-key="dataset-0-in-request"]').isChecked());
    await linked.getByTestId('dataset-0-id').fill('d2d2d2d2-0000-4000-8000-000000000002');
    const renamed = JSON.parse(await linked.locator('#preview-body').textContent());
    assert.deepEqual(renamed.datasets, [{ id: 'd2d2d2d2-0000-4000-8000-000000000002' }]);
    assert.deepEqual(renamed.identities[0].datasets, ['d2d2d2d2-0000-4000-8000-000000000002']);
    assert.ok(await linked.locator('[data-key="dataset-0-in-request"]').isChecked());
    await linked.close();
  });

  test('the focus stays on a control that rebuilds the form', async () => {
    const page = await open('index.html');
    await page.locator('#caller-sp').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(page), 'caller-profile');
    assert.ok(await page.getByLabel('Profile ID').isVisible());
    await page.locator('#endpoint-kind').focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(page), 'endpoint-kind');
    assert.equal(await page.locator('#endpoint-kind').inputValue(), 'Report');
    await page.locator('#endpoint-kind').selectOption('GenerateTokenV2');
    await page.locator('[data-key="dataset-0-in-request"]').focus();
    await page.keyboard.press('Space');
    assert.equal(await focused(page), 'dataset-0-in-request');
    assert.equal(await page.locator('[data-key="dataset-0-in-request"]').isChecked(), false);
    // A second click on a copy button within its delay still restores its label.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    await page.locator('#share').click();
    await page.locator('#share').click();
    await page.waitForFunction(() => document.getElementById('share').textContent === 'Copy share link', null, { timeout: 10000 });
    await page.close();
  });

  test('a renamed item is renamed everywhere; a new item never takes an id in use', async () => {
    const page = await open('index.html');
    await page.getByTestId('add-identity').click();
    await page.getByTestId('identity-0-username').fill('alice@contoso.com');
    await page.getByTestId('identity-0-roles').fill('Customer');
    // Cleared first, then typed: the rename starts from the empty id.
    const id = page.getByTestId('dataset-0-id');
    await id.fill('');
    await id.pressSequentially('d2d2d2d2-0000-4000-8000-000000000002');
    const body = JSON.parse(await page.locator('#preview-body').textContent());
    assert.deepEqual(body.datasets, [{ id: 'd2d2d2d2-0000-4000-8000-000000000002' }]);
    assert.deepEqual(body.identities[0].datasets, ['d2d2d2d2-0000-4000-8000-000000000002']);
    // The fields that show the dataset's id show the new one; editing one of them keeps it.
    assert.equal(await page.getByTestId('identity-0-datasets').inputValue(), 'd2d2d2d2-0000-4000-8000-000000000002');
    assert.equal(await page.getByTestId('report-0-dataset').inputValue(), 'd2d2d2d2-0000-4000-8000-000000000002');
    await page.getByTestId('identity-0-datasets').press('End');
    await page.getByTestId('identity-0-datasets').press('Space');
    assert.deepEqual(JSON.parse(await page.locator('#preview-body').textContent()).identities[0].datasets, ['d2d2d2d2-0000-4000-8000-000000000002']);
    assert.equal(await verdict(page), 'Valid: 0 errors, 0 warnings, 0 notes');
    // A workspace's new id follows into the items and the endpoint path.
    await page.locator('#endpoint-kind').selectOption('Report');
    await page.getByTestId('workspace-0-id').fill('a2a2a2a2-0000-4000-8000-000000000002');
    assert.equal(await page.getByTestId('dataset-0-workspace').inputValue(), 'a2a2a2a2-0000-4000-8000-000000000002');
    assert.match(await page.locator('#preview-url').textContent(), /groups\/a2a2a2a2-0000-4000-8000-000000000002\/reports\//);
    await page.locator('#endpoint-kind').selectOption('GenerateTokenV2');
    // Add, remove the first, add again: two different ids.
    await page.getByTestId('add-dataset').click();
    await page.getByRole('button', { name: 'Remove dataset 1' }).click();
    await page.getByTestId('add-dataset').click();
    const ids = [await page.getByTestId('dataset-0-id').inputValue(), await page.getByTestId('dataset-1-id').inputValue()];
    assert.notEqual(ids[0].toLowerCase(), ids[1].toLowerCase(), ids.join(' '));
    await page.locator('[data-key="dataset-1-in-request"]').uncheck();
    assert.ok(await page.locator('[data-key="dataset-0-in-request"]').isChecked(), 'unticking one row leaves the other');
    await page.close();
  });

  test('a fix moves to the field it wrote, not to a Remove button; a missing request member shows at its field', async () => {
    const page = await open('index.html');
    await inline(page, 'identities', 'EG0301').locator('button.fix').click();
    await page.getByTestId('identity-0-username').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'identity-0-username');
    await page.close();
    const linked = await open(`index.html#s=${b64url(readFileSync(join(root, 'examples/permissions-create-without-dataset.json'), 'utf8'))}`);
    const at = linked.locator('.field:has([data-testid="request-datasetId"]) .inline-diag[data-code="EG0503"]');
    await at.waitFor();
    assert.equal(await linked.locator('#identities .inline-diag').count(), 0, 'nothing lands under the identities');
    await at.locator('button.fix').click();
    assert.equal(await linked.evaluate(() => document.activeElement?.dataset.testid), 'request-datasetId');
    assert.equal(await linked.getByTestId('request-datasetId').inputValue(), 'd1d1d1d1-0000-4000-8000-000000000001');
    await linked.close();
  });

  test('switching between V1 endpoints keeps only what the new one accepts', async () => {
    const page = await open('index.html');
    const body = async () => JSON.parse(await page.locator('#preview-body').textContent());
    await page.locator('#endpoint-kind').selectOption('Report');
    await page.getByLabel('Allow Save As').check();
    await page.locator('#endpoint-kind').selectOption('CreateReport');
    assert.deepEqual(await body(), { accessLevel: 'Create', datasetId: 'd1d1d1d1-0000-4000-8000-000000000001', allowSaveAs: true });
    await page.locator('#endpoint-kind').selectOption('Report');
    assert.deepEqual(await body(), { accessLevel: 'View', allowSaveAs: true });
    await page.locator('#endpoint-kind').selectOption('Dashboard');
    assert.deepEqual(await body(), { accessLevel: 'View' });
    await page.close();
  });

  test('blank choices leave the member out; the lifetime goes in as typed; a cleared UPN stays cleared', async () => {
    const page = await open('index.html');
    const state = async () => JSON.parse(await hashText(page, 's'));
    await page.getByLabel('Caller’s access').selectOption('');
    await page.getByLabel('Model (dataset type)').selectOption('');
    await inline(page, 'identities', 'EG0301').waitFor();
    assert.equal(await page.locator('.inline-diag[data-code="EG0002"]').count(), 0);
    await page.waitForFunction(() => !atob(new URLSearchParams(location.hash.slice(1)).get('s').replace(/-/g, '+').replace(/_/g, '/')).includes('callerAccess'));
    const s = await state();
    assert.equal(s.workspaces[0].callerAccess, undefined);
    assert.equal(s.datasets[0].model, undefined);
    // What the number field used to drop or round reaches the body as typed, and the core says why it is wrong.
    for (const typed of ['1e', '9007199254740993']) {
      await page.locator('#lifetime').fill(typed);
      assert.equal(JSON.parse(await page.locator('#preview-body').textContent()).lifetimeInMinutes, typed);
      await page.locator('.field:has(#lifetime) .inline-diag[data-code="EG0002"]').waitFor();
    }
    await page.locator('#lifetime').fill('30');
    assert.equal(JSON.parse(await page.locator('#preview-body').textContent()).lifetimeInMinutes, 30);
    await page.locator('#caller-user').check();
    await page.locator('#caller-upn').fill('');
    await page.locator('#caller-sp').check();
    await page.locator('#caller-user').check();
    assert.equal(await page.locator('#caller-upn').inputValue(), '');
    await page.close();
  });

  test('a V1 endpoint whose workspace is not the item’s is an error, with the fix', async () => {
    const page = await open('index.html');
    await page.getByTestId('add-workspace').click();
    await page.locator('#endpoint-kind').selectOption('Report');
    await page.locator('#endpoint-groupId').fill('a1a1a1a1-0000-4000-8000-000000000002');
    const d = page.locator('.field:has(#endpoint-groupId) .inline-diag[data-code="EG0408"]');
    await d.waitFor();
    await d.locator('button.fix').click();
    assert.equal(await page.locator('#endpoint-groupId').inputValue(), 'a1a1a1a1-0000-4000-8000-000000000001');
    assert.equal(await page.locator('.inline-diag[data-code="EG0408"]').count(), 0);
    await page.close();
  });

  test('a V1 endpoint previews its REST path', async () => {
    const page = await open('index.html');
    await page.locator('#endpoint-kind').selectOption('Report');
    const url = await page.locator('#preview-url').textContent();
    assert.equal(
      url,
      'https://api.powerbi.com/v1.0/myorg/groups/a1a1a1a1-0000-4000-8000-000000000001/reports/e1e1e1e1-0000-4000-8000-000000000001/GenerateToken',
    );
    assert.equal(JSON.parse(await page.locator('#preview-body').textContent()).accessLevel, 'View');
    await page.close();
  });
});

describe('RLS checker', () => {
  test('diagnostics are listed and marked at their lines; a fix rewrites the text', async () => {
    const page = await open('rls.html');
    const text = await page.locator('#editor').inputValue();
    const requestLine = text.split('\n').findIndex((l) => l.includes('"request"')) + 1;
    const card = page.locator('#results .diag[data-code="EG0301"]');
    await card.waitFor();
    assert.equal(await card.locator('.where').textContent(), `line ${requestLine}`);
    assert.equal(await page.locator(`#gutter .ln[data-line="${requestLine}"]`).getAttribute('class'), 'ln mark-error');
    // Going to the finding selects its text in the editor.
    await card.locator('.where').click();
    const selected = await page.evaluate(() => {
      const ed = document.getElementById('editor');
      return ed.value.slice(ed.selectionStart, ed.selectionStart + 10);
    });
    assert.equal(selected, '"request":');
    await shot(page, 'www-rls.png');
    await card.locator('button.fix').click();
    await page.waitForFunction(() => !document.querySelector('#results [data-code="EG0301"]'));
    assert.match(await page.locator('#editor').inputValue(), /"identities"/);
    await page.close();
  });

  test('another link in the same tab loads its text; an example loads only on its button; a fix moves the focus to the change', async () => {
    const page = await open('rls.html');
    const other = JSON.stringify({ caller: { principalType: 'User', upn: 'a@contoso.com' }, endpoint: { kind: 'GenerateTokenV2' } }, null, 2);
    await page.evaluate((h) => (location.hash = h), `t=${b64url(other)}`);
    await page.waitForFunction((t) => document.getElementById('editor').value === t, other);
    // Arrow keys on the example list change nothing until Load.
    await page.locator('#example').focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.locator('#editor').inputValue(), other);
    await page.locator('#load-example').click();
    assert.match(await page.locator('#editor').inputValue(), /"principalType": "App"/);
    const before = await page.locator('#editor').inputValue();
    await page.locator('#results .diag[data-code="EG0301"] button.fix').click();
    await page.waitForFunction(() => !document.querySelector('#results [data-code="EG0301"]'));
    assert.equal(await focused(page), 'editor');
    const after = await page.locator('#editor').inputValue();
    let change = 0;
    while (before[change] === after[change]) change++;
    assert.equal(await page.evaluate(() => document.getElementById('editor').selectionStart), change);
    await page.close();
  });

  test('Tab indents the selected lines and undo takes it back; the gutter follows lines removed and added', async () => {
    const page = await open('rls.html');
    const editor = page.locator('#editor');
    const before = await editor.inputValue();
    const lines = before.split('\n');
    // Select lines 2 to 4 and press Tab.
    const from = lines[0].length + 1;
    const to = from + lines.slice(1, 4).join('\n').length;
    await editor.evaluate((ed, [a, b]) => {
      ed.focus();
      ed.setSelectionRange(a, b);
    }, [from, to]);
    await page.keyboard.press('Tab');
    const indented = await editor.inputValue();
    assert.deepEqual(indented.split('\n').slice(1, 4), lines.slice(1, 4).map((l) => `  ${l}`));
    assert.deepEqual(indented.split('\n').slice(4), lines.slice(4), 'the other lines are untouched');
    await page.keyboard.press('Control+z');
    assert.equal(await editor.inputValue(), before);
    // Remove the first half of the lines, then put them back: the mark stays on the request's line.
    const requestLine = lines.findIndex((l) => l.includes('"request"')) + 1;
    await editor.fill(`{\n${lines.slice(requestLine - 1).join('\n')}`);
    await page.waitForFunction((n) => document.querySelectorAll('#gutter .ln').length === n, lines.length - requestLine + 2);
    await editor.fill(before);
    await page.waitForFunction((n) => document.querySelectorAll('#gutter .ln').length === n, lines.length);
    assert.equal(await page.locator(`#gutter .ln[data-line="${requestLine}"]`).getAttribute('class'), 'ln mark-error');
    assert.equal(await page.locator('#gutter .ln.mark-error').count(), 1);
    await page.close();
  });

  test('a syntax error is marked at its line', async () => {
    const page = await open('rls.html');
    await page.locator('#editor').fill('{\n  "caller": {\n    "principalType": "App",\n  }\n}');
    await page.locator('#results .verdict-invalid').waitFor();
    assert.match(await page.locator('#results .where').textContent(), /line 4/);
    assert.equal(await page.locator('#gutter .ln[data-line="4"]').getAttribute('class'), 'ln mark-error');
    await page.close();
  });

  test('Power BI GET dataset JSON becomes a scenario', async () => {
    const page = await open('rls.html');
    await page.locator('#editor').fill(
      JSON.stringify({ id: 'd2d2d2d2-0000-4000-8000-000000000002', name: 'Finance', isEffectiveIdentityRequired: true, configuredBy: 'x@contoso.com' }),
    );
    await page.locator('#wrap-metadata').click();
    const card = page.locator('#results .diag[data-code="EG0301"]');
    await card.waitFor();
    assert.match(await card.textContent(), /d2d2d2d2-0000-4000-8000-000000000002/);
    // A GET report response: its workspace comes from the embed URL, so no "workspace not known" note.
    const ws = 'a3a3a3a3-0000-4000-8000-000000000003';
    await page.locator('#editor').fill(
      JSON.stringify({
        id: 'e3e3e3e3-0000-4000-8000-000000000003',
        reportType: 'PowerBIReport',
        name: 'Sales',
        embedUrl: `https://app.powerbi.com/reportEmbed?reportId=e3e3e3e3-0000-4000-8000-000000000003&groupId=${ws}`,
        datasetId: 'd3d3d3d3-0000-4000-8000-000000000003',
        datasetWorkspaceId: ws,
      }),
    );
    await page.locator('#wrap-metadata').click();
    await page.locator('#results .diag[data-code="EG0702"]').waitFor();
    assert.equal(await page.locator('#results .diag[data-code="EG0407"]').count(), 0, await page.locator('#results').textContent());
    assert.deepEqual(JSON.parse(await page.locator('#editor').inputValue()).workspaces, [{ id: ws, type: 'Workspace' }]);
    await page.close();
  });
});

describe('from Power BI metadata to a checked token', () => {
  test('GET dataset JSON: no contradicting error, the workspace from @odata.context, the guesses shown and settable, roles lead to a fix', async () => {
    const page = await open('rls.html');
    const ws = 'a4a4a4a4-0000-4000-8000-000000000004';
    const ds = 'd4d4d4d4-0000-4000-8000-000000000004';
    await page.locator('#editor').fill(
      JSON.stringify({
        '@odata.context': `https://api.powerbi.com/v1.0/myorg/groups/${ws}/$metadata#datasets/$entity`,
        id: ds,
        name: 'Finance',
        configuredBy: 'owner@contoso.com',
        isEffectiveIdentityRequired: true,
        isEffectiveIdentityRolesRequired: true,
        targetStorageMode: 'Abf',
      }),
    );
    await page.locator('#metadata-notice:not([hidden])').waitFor();
    // Before wrapping: the banner alone, no "missing field caller" beside it.
    assert.equal(await page.locator('#results .diag').count(), 0, await page.locator('#results').textContent());
    await page.locator('#wrap-metadata').click();
    await page.locator('#results .diag[data-code="EG0301"]').waitFor();
    const s = JSON.parse(await page.locator('#editor').inputValue());
    assert.deepEqual(s.workspaces, [{ id: ws, type: 'Workspace' }]);
    assert.equal(s.datasets[0].workspaceId, ws);
    assert.equal(await page.locator('#results .diag[data-code="EG0407"]').count(), 0, 'the workspace is known');
    // The placeholder caller is said, and set in one step.
    const me = '7c7c7c7c-0000-4000-8000-000000000007';
    await page.locator('#wrap-notes [data-note="caller"]').waitFor();
    await page.locator('#wrap-object-id').fill(me);
    await page.locator('#wrap-object-id-use').click();
    await page.waitForFunction(() => !document.querySelector('#wrap-notes [data-note="caller"]'));
    assert.equal(JSON.parse(await page.locator('#editor').inputValue()).caller.objectId, me);
    // EG0301's fix adds an identity; EG0206 then says the JSON has no role names.
    await page.locator('#results [data-fix="EG0301"]').click();
    const roles = page.locator('#results .diag[data-code="EG0206"]');
    await roles.waitFor();
    assert.match(await roles.locator('.help').textContent(), /never lists the model's role names/);
    assert.equal(await roles.locator('[data-fix]').count(), 0);
    await page.locator('#wrap-roles-0').fill('Region');
    await page.locator('#wrap-roles-0-use').click();
    await page.locator('#results [data-fix="EG0206"]', { hasText: 'Region' }).click();
    await page.waitForFunction(() => !document.querySelector('#results .diag[data-code="EG0206"]'));
    const done = JSON.parse(await page.locator('#editor').inputValue());
    assert.deepEqual(done.request.identities[0].roles, ['Region']);
    assert.equal(await page.locator('#wrap-notes').isHidden(), true, 'nothing left to guess');
    await page.close();
  });
});

describe('phones and keyboards', () => {
  test('at 390 px the verdict stays in view while editing, and leads to the findings', async () => {
    const page = await open('index.html');
    await page.setViewportSize({ width: 390, height: 844 });
    const bar = page.locator('#verdict-bar');
    // Editing the first field: the findings are far below, the verdict is on screen.
    await page.locator('#form input').first().focus();
    const findings = await page.locator('#findings').boundingBox();
    assert.ok(findings.y > 844, `findings at ${findings.y}`);
    const box = await bar.boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 844, JSON.stringify(box));
    assert.equal(await bar.locator('.verdict-text').textContent(), await page.locator('#summary .verdict-text').textContent());
    await bar.click();
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.fix), 'EG0301');
    await page.setViewportSize({ width: 1400, height: 1000 });
    assert.equal(await bar.isVisible(), false, 'beside the form on a wide screen, no bar');
    await page.close();
  });

  test('the first Fix is two Tab presses away', async () => {
    const page = await open('index.html');
    await tabTo(page, '#skip-findings', 2);
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.fix), 'EG0301');
    await page.close();
  });

  test('each item card is a group named by its heading', async () => {
    const page = await open('index.html');
    const rows = await page.locator('#form [data-row]').evaluateAll((els) =>
      els.map((e) => ({ role: e.getAttribute('role'), name: document.getElementById(e.getAttribute('aria-labelledby'))?.textContent })),
    );
    assert.ok(rows.length >= 3, JSON.stringify(rows));
    for (const r of rows) assert.ok(r.role === 'group' && r.name, JSON.stringify(rows));
    // The same label in two cards is told apart by its group.
    assert.equal(await page.getByRole('group', { name: 'Workspace 1' }).getByLabel('ID', { exact: true }).count(), 1);
    assert.equal(await page.getByRole('group', { name: 'Sales', exact: true }).getByLabel('ID', { exact: true }).count(), 1);
    await page.close();
  });

  test('Remove can be undone, and the undo is withdrawn by the next edit', async () => {
    const page = await open('index.html');
    const datasets = () => page.evaluate(() => document.querySelectorAll('#form [data-row^="/datasets/"]').length);
    const n = await datasets();
    await page.getByRole('button', { name: 'Remove dataset 1' }).click();
    assert.equal(await datasets(), n - 1);
    await page.locator('#undo', { hasText: 'Dataset Sales removed' }).waitFor();
    await page.locator('#undo-remove').click();
    assert.equal(await datasets(), n);
    assert.ok((await hashText(page, 's')).includes('d1d1d1d1-0000-4000-8000-000000000001'));
    await page.locator('#results, #summary .diag[data-code="EG0301"]').first().waitFor();
    // After another edit, Undo would throw that edit away: it is gone.
    await page.getByRole('button', { name: 'Remove dataset 1' }).click();
    await page.locator('#undo:not([hidden])').waitFor();
    await page.locator('#lifetime').fill('30');
    assert.equal(await page.locator('#undo').isHidden(), true);
    await page.close();
  });

  test('a wide capability table says it scrolls, and a keyboard scrolls it to its last column', async () => {
    const page = await open('capabilities.html');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.dispatchEvent(new Event('resize')));
    const wrap = page.locator('.table-wrap').first();
    const hint = page.locator('.scroll-hint').first();
    await hint.waitFor();
    assert.equal(await wrap.getAttribute('tabindex'), '0');
    assert.match(await wrap.getAttribute('aria-label'), /Row-level security/);
    await wrap.focus();
    // Arrow keys scroll the focused region (smoothly: one press at a time).
    for (let i = 0; i < 40 && (await hint.isVisible()); i++) {
      await page.keyboard.press('ArrowRight');
      await sleep(120);
    }
    assert.equal(await hint.isVisible(), false, 'the hint goes once the last column is in view');
    const [w, last] = await Promise.all([wrap.boundingBox(), wrap.locator('thead th').last().boundingBox()]);
    assert.ok(last.x + last.width <= w.x + w.width + 1, `last column ${JSON.stringify(last)} in ${JSON.stringify(w)}`);
    await page.close();
  });
});

describe('capabilities', () => {
  test('the RLS table shows all six RLS types, filterable by caller and type', async () => {
    const page = await open('capabilities.html');
    const rows = page.locator('#rls-table tbody tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((t) => t.dataset.rls)), [
      'CloudRls',
      'Rdl',
      'AsOnPremLive',
      'AsAzureLive',
      'Sso',
      'SsoCloudRls',
    ]);
    assert.equal(await page.locator('#dataset-table tbody tr').count(), 4);
    await shot(page, 'www-capabilities.png');

    await page.locator('#filter-caller').selectOption('sp');
    const heads = await page.locator('#rls-table thead th').allTextContents();
    assert.deepEqual(heads, ['RLS type', 'Service principal', 'Considerations', 'Rules']);
    assert.equal(await page.locator('#rls-table tr[data-rls="Rdl"] td').first().textContent(), 'Yes');
    await page.locator('#filter-type').selectOption('model:AzureAnalysisServicesLive');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((t) => t.dataset.rls)), ['AsAzureLive']);
    assert.equal(await page.locator('#dataset-table tbody tr').count(), 1);
    assert.match(page.url(), /caller=sp/);
    await page.close();
  });
});

describe('explain', () => {
  test('an explained error names its rule', async () => {
    const page = await open('explain.html');
    await page
      .locator('#error-text')
      .fill(
        '{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 requires effective identity to be provided"}}',
      );
    const ex = page.locator('.explanation[data-id="identity-required"]');
    await ex.waitFor();
    assert.equal(await ex.locator('[data-rule="EG0301"] .code').textContent(), 'EG0301');
    assert.match(await ex.locator('.fix-text').textContent(), /identity/i);
    assert.match(await ex.locator('.ids').textContent(), /d1d1d1d1-0000-4000-8000-000000000001/);
    await shot(page, 'www-explain.png');
    await page.close();
  });

  test('an explanation leads on: a title in words, the stated status, Learn links, and the request with its ids', async () => {
    const page = await open('explain.html');
    const ds = 'd2d2d2d2-0000-4000-8000-000000000002';
    await page
      .locator('#error-text')
      .fill(`{"error":{"code":"InvalidRequest","message":"Creating embed token for accessing dataset ${ds} requires effective identity to be provided"}}`);
    const ex = page.locator('.explanation[data-id="identity-required"]');
    await ex.waitFor();
    assert.match(await ex.locator('h2').textContent(), /^The token needs an effective identity for an RLS dataset/);
    assert.equal(await ex.locator('[data-rule="EG0309"]').count(), 0, 'a master-user warning is not a cause');
    assert.match(await ex.locator('[data-rule="EG0301"] a.source-doc').getAttribute('href'), /^https:\/\/learn\.microsoft\.com\//);
    assert.match(await ex.locator('.ids').textContent(), new RegExp(`dataset ${ds}`));
    await ex.locator('a.build-request').click();
    await page.waitForURL(/index\.html#s=/);
    await page.locator('[data-code="EG0301"]').first().waitFor();
    assert.ok((await hashText(page, 's')).includes(ds), 'the form holds the message dataset id');

    await page.goto(`${base}explain.html`);
    await page.waitForSelector("body.ready");
    const text = (t) => page.locator('#error-text').fill(t);
    // A 403 whose text says Unauthorized is a 403.
    await text('403 Unauthorized {"error":{"code":"PowerBINotAuthorizedException"}}');
    await page.locator('.explanation[data-id="not-authorized"] .status-code', { hasText: 'HTTP 403' }).waitFor();
    // Without a stated status, both the service uses.
    await text('{"error":{"code":"PowerBINotAuthorizedException"}}');
    await page.locator('.explanation[data-id="not-authorized"] .status-code', { hasText: 'HTTP 401 or 403' }).waitFor();
    await page.locator('[data-rule="EG0404"]').waitFor();
    // A service principal's error cites no master-user rule (EG0404 is the classic master user's).
    await text('The service principal got {"error":{"code":"PowerBINotAuthorizedException"}}');
    await page.waitForFunction(() => !document.querySelector('[data-rule="EG0404"]'));
    assert.equal(await page.locator('.explanation[data-id="not-authorized"] [data-rule="EG0602"]').count(), 1);
    for (const [msg, id] of [
      ['{"Message":"API is not accessible for application"}', 'api-not-accessible-for-app'],
      ['{"error":{"code":"PowerBIEntityNotFound"}}', 'entity-not-found'],
      ['{"error":{"code":"InsufficientTokenPermissions"}}', 'insufficient-token-permissions'],
    ]) {
      await text(msg);
      await page.locator(`.explanation[data-id="${id}"]`).waitFor();
      assert.equal(await page.locator('.explanation').count(), 1, msg);
    }
    await page.close();
  });

  test('on a phone-sized screen every page link is in view', async () => {
    const page = await open('explain.html');
    await page.setViewportSize({ width: 390, height: 844 });
    for (const link of await page.locator('.top nav a').all()) {
      const box = await link.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${await link.textContent()}: ${JSON.stringify(box)}`);
    }
    await page.close();
  });

  test('explain and capabilities follow another link opened in the same tab', async () => {
    const page = await open('explain.html');
    const text = "Creating embed token for accessing dataset d1d1d1d1-0000-4000-8000-000000000001 shouldn't have effective identity";
    await page.evaluate((h) => (location.hash = h), `q=${b64url(text)}`);
    await page.waitForFunction((t) => document.getElementById('error-text').value === t, text);
    await page.locator('.explanation').first().waitFor();
    // As pasted from chat or mail: a typographic apostrophe.
    await page.locator('#error-text').fill('nothing known');
    await page.waitForFunction(() => !document.querySelector('.explanation'));
    await page.locator('#error-text').fill(text.replace("'", '\u2019'));
    await page.locator('.explanation[data-id="identity-not-allowed"]').waitFor();
    // Entra's unauthorized_client is an unknown app: one explanation, and no empty rules heading.
    await page
      .locator('#error-text')
      .fill('{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier \'abc\' was not found in the directory"}');
    await page.locator('.explanation[data-id="entra-app-not-found"]').waitFor();
    assert.equal(await page.locator('.explanation').count(), 1);
    assert.equal(await page.locator('.explanation h3', { hasText: 'Rules that catch it' }).count(), 0);
    // A long paste stays out of the URL.
    await page.locator('#error-text').fill(`${text} ${'x'.repeat(20000)}`);
    await sleep(600);
    assert.equal(await hashText(page, 'q'), null);
    await page.close();
    const caps = await open('capabilities.html');
    await caps.evaluate(() => (location.hash = 'caller=sp&type=rls%3ARdl'));
    await caps.waitForFunction(() => document.querySelectorAll('#rls-table tbody tr').length === 1);
    assert.equal(await caps.locator('#filter-caller').inputValue(), 'sp');
    await caps.close();
  });
});

describe('loading', () => {
  test('the module is served compressed and preloaded beside the page script, and each page loads only its own bundle', async () => {
    const plain = await fetch(`${base}embedgate_wasm_bg.wasm`, { headers: { 'accept-encoding': 'identity' } });
    const raw = (await plain.arrayBuffer()).byteLength;
    for (const enc of ['br', 'gzip']) {
      const r = await fetch(`${base}embedgate_wasm_bg.wasm`, { headers: { 'accept-encoding': enc } });
      assert.equal(r.headers.get('content-encoding'), enc);
      assert.equal(r.headers.get('content-type'), 'application/wasm');
    }
    for (const path of ['index.html', 'rls.html', 'capabilities.html', 'explain.html']) {
      const page = await context.newPage();
      const warnings = [];
      page.on('console', (m) => /preload/i.test(m.text()) && warnings.push(m.text()));
      let wire = 0;
      const started = {};
      page.on('request', (q) => (started[new URL(q.url()).pathname] ??= Date.now()));
      page.on('requestfinished', async (q) => {
        if (q.url().endsWith('.wasm')) wire = (await q.sizes()).responseBodySize;
      });
      await page.goto(base + path);
      await page.waitForSelector('body.ready', { timeout: 15000 });
      await sleep(300);
      assert.ok(await page.locator('link[rel="preload"][href="embedgate_wasm_bg.wasm"][as="fetch"][crossorigin]').count() === 1, path);
      assert.deepEqual(warnings, [], `${path}: the preloaded module is the one the page uses`);
      const script = `/${{ 'index.html': 'form', 'rls.html': 'rls', 'capabilities.html': 'capabilities', 'explain.html': 'explain' }[path]}.js`;
      assert.ok(started['/embedgate_wasm_bg.wasm'] <= started[script] + 50, `${path}: the module is asked for with ${script}, not after it`);
      const scripts = Object.keys(started).filter((p) => p.endsWith('.js'));
      assert.deepEqual(scripts, [script], `${path}: one script, its own`);
      assert.ok(wire > 0 && wire < raw * 0.6, `${path}: ${wire} B on the wire for ${raw} B`);
      await page.close();
    }
  });

  test('a module that fails to load shows a visible error and a retry on every page, then recovers', async () => {
    for (const path of ['index.html', 'rls.html', 'capabilities.html', 'explain.html']) {
      const page = await context.newPage();
      await page.route('**/*.wasm', (r) => r.abort());
      await page.goto(base + path);
      const notice = page.locator('#load-state[role="alert"]');
      await notice.waitFor({ timeout: 15000 });
      assert.match(await notice.textContent(), /could not start/i);
      assert.ok(await notice.isVisible(), `${path}: the failure is visible`);
      assert.equal(await page.locator('main').evaluate((m) => m.inert), true, `${path}: controls are inert meanwhile`);
      assert.equal(await page.evaluate(() => document.body.classList.contains('ready')), false);
      await page.unroute('**/*.wasm');
      await page.locator('#load-retry').click();
      await page.waitForSelector('body.ready', { timeout: 15000 });
      assert.equal(await notice.count(), 0);
      assert.equal(await page.locator('#load-state').isHidden(), true);
      assert.equal(await page.locator('main').evaluate((m) => m.inert), false);
      await page.close();
    }
  });

  test('a slow module shows a loading state first; Copied is announced', async () => {
    const page = await context.newPage();
    let release;
    const held = new Promise((r) => (release = r));
    await page.route('**/*.wasm', async (r) => {
      await held;
      await r.continue();
    });
    await page.goto(base + 'index.html');
    const loading = page.locator('#load-state[role="status"]');
    await loading.waitFor();
    assert.match(await loading.textContent(), /Loading/);
    release();
    await page.waitForSelector('body.ready', { timeout: 15000 });
    assert.equal(await page.locator('#load-state').isHidden(), true);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    await page.locator('#copy-json').click();
    await page.waitForFunction(() => document.getElementById('announce')?.textContent === 'Copied to the clipboard');
    assert.equal(await page.locator('#announce').getAttribute('role'), 'status');
    await page.close();
  });
});

describe('documents and rules', () => {
  const LEARN = /^https:\/\/learn\.microsoft\.com\/en-us\//;

  test('no page says "Seed"; each finding names its document by title, linked to Microsoft Learn', async () => {
    for (const path of ['index.html', 'rls.html', 'capabilities.html', 'explain.html', 'rules.html']) {
      const page = await open(path);
      if (path === 'explain.html') {
        await page.locator('#samples button').first().click();
        await page.locator('.explanation').first().waitFor();
      }
      const text = await page.locator('body').innerText();
      assert.doesNotMatch(text, /seed\s*0\d\d/i, `${path} names a seed`);
      await page.close();
    }
    // The checker's example has EG0301: its citation is the embed-token article, by title, linked.
    const page = await open('rls.html');
    const card = page.locator('#results .diag[data-code="EG0301"]');
    await card.waitFor();
    const doc = card.locator('.source a.source-doc');
    assert.equal(await doc.textContent(), 'Considerations when generating an embed token');
    assert.match(await doc.getAttribute('href'), LEARN);
    assert.equal(await doc.getAttribute('rel'), 'noopener');
    // The finding's code leads to the rule's own section.
    await card.locator('a.code').click();
    await page.waitForURL(/rules\.html#EG0301$/);
    const rule = page.locator('section.rule#EG0301');
    await rule.waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'EG0301');
    assert.ok(await rule.isVisible());
    assert.match(await rule.locator('h3').innerText(), /^EG0301 /);
    assert.match(await rule.locator('.source a.source-doc').getAttribute('href'), LEARN);
    await page.close();
  });

  test('the rules page lists every rule once, grouped by family', async () => {
    const page = await open('rules.html');
    const ids = await page.locator('section.rule').evaluateAll((s) => s.map((x) => x.id));
    assert.ok(ids.length >= 56, `only ${ids.length} rules`);
    assert.equal(new Set(ids).size, ids.length, 'a rule is listed twice');
    assert.ok(ids.every((id) => /^EG\d{4}$/.test(id)), ids.join(' '));
    assert.ok((await page.locator('#rule-toc a').count()) >= 5, 'no table of families');
    // Rules of Embedgate's own or of the service have no page: no link, only the title.
    assert.equal(await page.locator('.source span.source-doc').first().count(), 1);
    // Each rule's doc, from docs/rules.json (the module carries none).
    const catalog = JSON.parse(readFileSync(join(dist, 'rules.json'), 'utf8'));
    assert.equal(ids.length, catalog.length);
    assert.equal(await page.locator('section.rule .rule-doc').count(), catalog.filter((r) => r.doc).length);
    assert.match(await page.locator('section.rule#EG0207 .rule-doc').innerText(), /At least one role must be defined/);
    await page.close();
  });

  test('the rules page needs no module; a failed catalog shows a retry, then recovers', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`rules.html: ${e.message}`));
    const asked = [];
    page.on('request', (r) => asked.push(new URL(r.url()).pathname));
    await page.route('**/rules.json', (r) => r.abort());
    await page.goto(base + 'rules.html');
    const notice = page.locator('#load-state[role="alert"]');
    await notice.waitFor({ timeout: 15000 });
    assert.ok(await notice.isVisible());
    assert.equal(await page.locator('section.rule').count(), 0);
    await page.unroute('**/rules.json');
    await page.locator('#load-retry').click();
    await page.waitForSelector('body.ready', { timeout: 15000 });
    assert.ok((await page.locator('section.rule').count()) >= 56);
    assert.ok(asked.includes('/rules.json'), asked.join(' '));
    assert.ok(!asked.some((p) => p.endsWith('.wasm')), `the rules page fetched the module: ${asked.join(' ')}`);
    await page.close();
  });

  test('capability tables link their documents; rule chips are links a keyboard reaches', async () => {
    const page = await open('capabilities.html');
    const intros = page.locator('#tables .intro a');
    assert.equal(await intros.count(), 2);
    for (const href of await intros.evaluateAll((as) => as.map((a) => a.getAttribute('href')))) assert.match(href, LEARN);
    const chip = page.locator('#rls-table a.rule-chip').first();
    const code = await chip.textContent();
    assert.equal(await chip.getAttribute('href'), `rules.html#${code}`);
    await page.locator('#filter-type').focus();
    await tabTo(page, '#rls-table a.rule-chip', 10);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), code);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`rules\\.html#${code}$`));
    await page.locator(`section.rule#${code}`).waitFor();
    await page.close();
  });

  test('an explanation links each rule to its section', async () => {
    const page = await open('explain.html');
    await page.locator('#samples button').first().click();
    const link = page.locator('.explanation [data-rule="EG0301"] a.code');
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), 'rules.html#EG0301');
    await page.close();
  });
});
