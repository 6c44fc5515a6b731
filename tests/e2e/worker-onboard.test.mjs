// The "management code change" of Microsoft's migration to profiles: a new customer is onboarded through the worker's
// POST /api/admin/customers/{id}/onboard, which creates its profile, the workspace as that profile, imports the
// templates (from R2) and writes its document in the profile flow. Slow imports answer 202 and resume; a lost
// answer after each kind of create resumes without duplicates; bad input gets a 4xx with its JSON path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, seed, admin, mint, sleep, secretsIn, CLIENT_SECRET } from './worker-harness.mjs';

let emu;
let worker;

const pbix = JSON.stringify({
  format: 'embedgate-pbix/1',
  report: { pages: [] },
  dataset: {
    kind: 'Import',
    roles: [{ name: 'Customer', filter: '[Customer] = USERNAME()' }],
    columns: ['Customer', 'Amount'],
    rows: ['northwind', 'tailspin', 'wingtip'].flatMap((c, i) => [{ Customer: c, Amount: 10 * i + 1 }, { Customer: c, Amount: 10 * i + 2 }]),
  },
});
const body = (name, over = {}) => ({ name, templates: ['sales'], rls: { kind: 'dynamic', roles: ['Customer'] }, ...over });

async function state() {
  return (await fetch(`${emu.api}/__emulator/state`)).json();
}

/** What the emulator holds for a customer: its profiles, its workspaces, the reports and imports in them. */
async function counts(id, workspace) {
  const st = await state();
  const ws = st.workspaces.filter((w) => w.name === workspace);
  const ids = new Set(ws.map((w) => w.id));
  return {
    profiles: st.profiles.filter((p) => p.displayName.toLowerCase() === id).length,
    workspaces: ws.length,
    reports: st.reports.filter((r) => ids.has(r.workspaceId)).length,
    imports: st.imports.filter((i) => ids.has(i.workspaceId)).length,
  };
}

async function rows(customer) {
  const user = await emu.userToken({ sub: `someone@${customer}.example`, customer });
  const list = await fetch(`${worker.base}/api/reports`, { headers: { authorization: `Bearer ${user}` } }).then((r) => r.json());
  assert.equal(list.customer.flow, 'profile');
  const t = await mint(worker, user, { reports: [list.reports[0].id] });
  assert.equal(t.status, 200, t.text);
  const view = await emu.render(t.json.token, list.reports[0].id);
  assert.equal(view.ok, true, JSON.stringify(view));
  return view.rows.map((r) => r.join('|')).sort();
}

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu, { ONBOARD_WAIT_MS: '1000' });
  await seed(worker); // the demo's Contoso and Fabrikam: existing customers
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

test('templates: uploaded to R2 by key with an item name, listed, and bad uploads refused with a reason', async () => {
  const put = await admin(worker.base, '/templates/sales?name=Sales', { method: 'PUT', raw: pbix, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201, put.text);
  assert.deepEqual(put.json, { key: 'sales', name: 'Sales', bytes: Buffer.byteLength(pbix) });
  const again = await admin(worker.base, '/templates/sales?name=Sales', { method: 'PUT', raw: pbix });
  assert.equal(again.status, 200, again.text);
  const list = await admin(worker.base, '/templates');
  assert.deepEqual(list.json.templates, [{ key: 'sales', name: 'Sales', bytes: Buffer.byteLength(pbix) }]);
  const noName = await admin(worker.base, '/templates/other', { method: 'PUT', raw: pbix });
  assert.equal(noName.status, 400);
  assert.equal(noName.json.path, '/name');
  const badKey = await admin(worker.base, '/templates/a%20b?name=X', { method: 'PUT', raw: pbix });
  assert.equal(badKey.status, 400, badKey.text);
  const empty = await admin(worker.base, '/templates/empty?name=X', { method: 'PUT', raw: '' });
  assert.equal(empty.status, 400);
  assert.equal((await admin(worker.base, '/templates', { method: 'DELETE' })).status, 405);
  assert.equal((await fetch(`${worker.base}/api/admin/templates`)).status, 401, 'the admin key is required');
});

test('bad onboarding requests get a 4xx with the JSON path, and create nothing', async () => {
  const before = await state();
  const cases = [
    [{ templates: ['sales'] }, 400, ''],
    [{ name: 7, templates: ['sales'] }, 400, '/name'],
    [body('N', { templates: [] }), 400, '/templates'],
    [body('N', { templates: ['nope'] }), 400, '/templates/0'],
    [body('N', { rls: { kind: 'static' } }), 400, '/rls/roles'],
    [body('N', { rls: { kind: 'dynamic' }, profileName: 'has space' }), 400, '/profileName'],
    [body('N', { extra: true }), 400, '/extra'],
  ];
  for (const [b, status, path] of cases) {
    const r = await admin(worker.base, '/customers/newco/onboard', { method: 'POST', body: b });
    assert.equal(r.status, status, `${JSON.stringify(b)}: ${r.text}`);
    assert.equal(r.json.path ?? '', path, `${JSON.stringify(b)}: ${r.text}`);
  }
  const notJson = await admin(worker.base, '/customers/newco/onboard', { method: 'POST', raw: '{', headers: { 'content-type': 'application/json' } });
  assert.equal(notJson.status, 400);
  assert.equal((await admin(worker.base, '/customers/bad%20id/onboard', { method: 'POST', body: body('N') })).status, 400);
  assert.equal((await admin(worker.base, '/customers/newco/onboard')).status, 405);
  // An existing customer is migrated, not onboarded.
  const exists = await admin(worker.base, '/customers/contoso/onboard', { method: 'POST', body: body('Contoso') });
  assert.equal(exists.status, 409, exists.text);
  assert.equal(exists.json.error, 'customer_exists');
  const after = await state();
  assert.equal(after.profiles.length, before.profiles.length);
  assert.equal(after.workspaces.length, before.workspaces.length);
});

test('a new customer is onboarded: 202 while its import publishes, 201 when done, 200 no-op after; its user sees only its rows', async () => {
  await emu.post('/__emulator/settings', { importPublishMs: 2500 });
  const first = await admin(worker.base, '/customers/northwind/onboard', { method: 'POST', body: body('Northwind Traders') });
  assert.equal(first.status, 202, first.text);
  assert.equal(first.json.status, 'publishing');
  assert.ok(Number(first.headers.get('retry-after')) >= 1);
  assert.match(first.json.progress.profileId, /^[0-9a-f-]{36}$/);
  assert.ok(first.json.progress.items.sales.importId, first.text);
  assert.equal((await admin(worker.base, '/customers/northwind')).status, 404, 'no document before the import is done');

  await sleep(2600);
  const second = await admin(worker.base, '/customers/northwind/onboard', { method: 'POST', body: body('Northwind Traders') });
  assert.equal(second.status, 201, second.text);
  assert.equal(second.json.status, 'onboarded');
  const doc = second.json.customer;
  assert.equal(doc.flow, 'profile');
  assert.equal(doc.profileId, first.json.progress.profileId);
  assert.equal(doc.rls.username.value, 'northwind', 'dynamic RLS: USERNAME() returns the profile name');
  assert.deepEqual(doc.rls.roles, ['Customer']);
  assert.equal(doc.reports.length, 1);

  const third = await admin(worker.base, '/customers/northwind/onboard', { method: 'POST', body: body('Northwind Traders') });
  assert.equal(third.status, 200, third.text);
  assert.equal(third.json.powerBiCalls, 0);
  const differs = await admin(worker.base, '/customers/northwind/onboard', { method: 'POST', body: body('Someone Else') });
  assert.equal(differs.status, 409);
  assert.equal(differs.json.error, 'onboarding_differs');

  assert.deepEqual(await counts('northwind', 'Northwind Traders'), { profiles: 1, workspaces: 1, reports: 1, imports: 1 });
  // The workspace was created by the profile: the profile is its Admin, the service principal is not a member.
  const ws = (await state()).workspaces.find((w) => w.name === 'Northwind Traders');
  assert.deepEqual(ws.members.map((m) => [m.principalType, m.groupUserAccessRight]), [['App', 'Admin']]);
  assert.equal(ws.members[0].profile?.id ?? ws.members[0].profileId, doc.profileId, JSON.stringify(ws.members));
  assert.deepEqual(await rows('northwind'), ['northwind|1', 'northwind|2']);
  await emu.post('/__emulator/settings', { importPublishMs: 0 });
});

test('a lost answer after each kind of create is found again in the same call; a refused create fails the call and calling again converges', async () => {
  for (const [i, route] of ['powerbi.createProfile', 'powerbi.createGroup', 'powerbi.postImport'].entries()) {
    const id = `crash${i}`;
    await emu.post('/__emulator/faults', { route, count: 1, fault: { status: 500, afterHandler: true } });
    const done = await admin(worker.base, `/customers/${id}/onboard`, { method: 'POST', body: body(`Crash ${i}`) });
    assert.equal(done.status, 201, `${route}: ${done.text}`);
    assert.deepEqual(await counts(id, `Crash ${i}`), { profiles: 1, workspaces: 1, reports: 1, imports: 1 }, route);
  }
  await emu.post('/__emulator/faults', { route: 'powerbi.createGroup', count: 1, fault: { status: 403 } });
  const failed = await admin(worker.base, '/customers/refused/onboard', { method: 'POST', body: body('Refused') });
  assert.equal(failed.status, 502, failed.text);
  assert.equal(failed.json.error, 'onboarding_failed');
  assert.match(failed.json.message, /call again to resume/);
  assert.equal(secretsIn(failed.text, [CLIENT_SECRET]).length, 0);
  const resumed = await admin(worker.base, '/customers/refused/onboard', { method: 'POST', body: body('Refused') });
  assert.equal(resumed.status, 201, resumed.text);
  assert.deepEqual(await counts('refused', 'Refused'), { profiles: 1, workspaces: 1, reports: 1, imports: 1 });
  // Deleted after onboarding: calling again finds everything by name and writes the document anew.
  assert.equal((await admin(worker.base, '/customers/crash0', { method: 'DELETE' })).status, 200);
  const again = await admin(worker.base, '/customers/crash0/onboard', { method: 'POST', body: body('Crash 0') });
  assert.equal(again.status, 201, again.text);
  assert.deepEqual(await counts('crash0', 'Crash 0'), { profiles: 1, workspaces: 1, reports: 1, imports: 1 });
  // Its profile's name matches no row of the shared template: it sees none of another customer's rows.
  assert.deepEqual(await rows('crash2'), []);
});

test('another customer\'s profile is never adopted, in any case, and nothing is created for a refused name', async () => {
  const before = await state();
  // The customer id in another case: the default profile name clashes with Contoso's profile.
  const upper = await admin(worker.base, '/customers/CONTOSO/onboard', { method: 'POST', body: body('Contoso Again') });
  assert.equal(upper.status, 409, upper.text);
  assert.equal(upper.json.error, 'profile_name_taken');
  assert.equal(upper.json.path, '/profileName');
  assert.match(upper.json.message, /customer `contoso`'s profile/);
  // Another customer's profile by name.
  const named = await admin(worker.base, '/customers/newcomer/onboard', { method: 'POST', body: body('Newcomer', { profileName: 'fabrikam' }) });
  assert.equal(named.status, 409, named.text);
  assert.equal(named.json.path, '/profileName');
  const mid = await state();
  assert.equal(mid.profiles.length, before.profiles.length, 'no profile made');
  assert.equal(mid.workspaces.length, before.workspaces.length, 'no workspace made');
  // The same call with a name of its own resumes (the refused request created nothing to keep).
  const own = await admin(worker.base, '/customers/newcomer/onboard', { method: 'POST', body: body('Newcomer', { profileName: 'newcomer' }) });
  assert.equal(own.status, 201, own.text);
  const fab = (await admin(worker.base, '/customers/fabrikam')).json;
  assert.notEqual(own.json.customer.profileId, fab.profileId);
  // The admin API refuses to give one customer another's profile.
  const doc = { ...own.json.customer, profileId: fab.profileId };
  for (const k of ['cacheGeneration', 'createdAt', 'updatedAt']) delete doc[k];
  const stolen = await admin(worker.base, '/customers/newcomer', { method: 'PUT', body: doc });
  assert.equal(stolen.status, 409, stolen.text);
  assert.equal(stolen.json.error, 'profile_in_use');
  assert.equal(stolen.json.path, '/profileId');
  const shared = await admin(worker.base, '/customers/newcomer', { method: 'PUT', body: { ...doc, profileId: own.json.customer.profileId, workspaces: fab.workspaces, reports: [] } });
  assert.equal(shared.status, 409, shared.text);
  assert.equal(shared.json.error, 'workspace_in_use');
});

test('the whole body is checked before the first Power BI call: a refused body creates nothing, and the corrected one runs', async () => {
  const before = await state();
  const roles = Array.from({ length: 51 }, (_, i) => `R${i}`);
  for (const [b, path] of [
    [body('Many Roles', { rls: { kind: 'static', roles } }), '/rls/roles'],
    [body('Many Roles', { rls: { kind: 'static', roles: ['East,West'] } }), '/rls/roles/0'],
    [body('Many Roles', { rls: { kind: 'static', roles: ['Customer'] }, profileName: 'many roles' }), '/profileName'],
  ]) {
    const r = await admin(worker.base, '/customers/manyroles/onboard', { method: 'POST', body: b });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.path, path, r.text);
  }
  const mid = await state();
  assert.equal(mid.profiles.length, before.profiles.length);
  assert.equal(mid.workspaces.length, before.workspaces.length);
  const ok = await admin(worker.base, '/customers/manyroles/onboard', { method: 'POST', body: body('Many Roles', { rls: { kind: 'static', roles: ['Customer'] } }) });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(ok.json.customer.rls.roles, ['Customer'], 'static roles reach the document');
  assert.equal(ok.json.customer.rls.username.value, 'manyroles', 'the profile name is the username');
});

test('two onboarding calls at once for one customer: one runs, the other is told when to call again', async () => {
  // Without the lease both would look the profile up, find none, create it and overwrite each other's progress.
  await emu.fault('powerbi.getProfiles', { hangMs: 1500 });
  await emu.clearCalls();
  const both = await Promise.all([0, 1].map(() => admin(worker.base, '/customers/race/onboard', { method: 'POST', body: body('Race') })));
  await emu.clearFaults();
  assert.deepEqual(both.map((r) => r.status).sort(), [201, 409], both.map((r) => r.text).join('\n'));
  const busy = both.find((r) => r.status === 409);
  assert.equal(busy.json.error, 'onboarding_in_progress', busy.text);
  const retry = Number(busy.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}: at most the holder's wait (ONBOARD_WAIT_MS 1 s) + 1`);
  assert.equal(busy.json.retryAfter, retry);
  const creates = (await emu.callLog()).filter((c) => c.route === 'powerbi.createProfile').map((c) => c.status);
  assert.deepEqual(creates, [200], 'one create, no duplicate refused');
  assert.deepEqual(await counts('race', 'Race'), { profiles: 1, workspaces: 1, reports: 1, imports: 1 });
  // The lease ends with the call: calling again at once is the usual no-op.
  const again = await admin(worker.base, '/customers/race/onboard', { method: 'POST', body: body('Race') });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(await worker.d1("SELECT * FROM onboarding_leases WHERE customer_id = 'race'"), []);
});

test('an onboarding lease left by a call that was cut off blocks until it runs out, then is taken over', async () => {
  const now = Math.floor(Date.now() / 1000);
  await worker.d1(`INSERT INTO onboarding_leases (customer_id, holder, until_unix) VALUES ('cutoff', 'gone', ${now + 600})`);
  const blocked = await admin(worker.base, '/customers/cutoff/onboard', { method: 'POST', body: body('Cut Off') });
  assert.equal(blocked.status, 409, blocked.text);
  assert.equal(blocked.json.error, 'onboarding_in_progress');
  assert.deepEqual(await counts('cutoff', 'Cut Off'), { profiles: 0, workspaces: 0, reports: 0, imports: 0 }, 'nothing was created');
  await worker.d1(`UPDATE onboarding_leases SET until_unix = ${now - 1} WHERE customer_id = 'cutoff'`);
  const done = await admin(worker.base, '/customers/cutoff/onboard', { method: 'POST', body: body('Cut Off') });
  assert.equal(done.status, 201, done.text);
  assert.deepEqual(await counts('cutoff', 'Cut Off'), { profiles: 1, workspaces: 1, reports: 1, imports: 1 });
  assert.deepEqual(await worker.d1("SELECT * FROM onboarding_leases WHERE customer_id = 'cutoff'"), []);
});
