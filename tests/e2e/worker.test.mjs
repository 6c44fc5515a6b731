// Edge worker, happy paths: both code flows, RLS built on the server, caching proven by the emulator's call
// counts, single-flight Entra refresh, JWKS rotation, reports listing, validation, audit log, CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEmulator, startWorker, seed, mint, call, admin, auditUntil, signJwt, portalClaims, secretsIn, sleep,
  IDS, HS_SECRET, CUSTOMERS,
} from './worker-harness.mjs';

let emu;
let worker;

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu, { JWKS_MIN_REFRESH_SECONDS: '1' });
  await seed(worker);
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

const col = (render, name) => render.rows.map((r) => r[render.columns.indexOf(name)]);

test('profile flow: Contoso gets a token for its report, minted as its profile with server-built RLS', async () => {
  await emu.clearCalls();
  const user = await emu.userToken({ sub: 'alice@contoso', customer: 'contoso' });
  const r = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['expiration', 'expiresInSeconds', 'reports', 'token', 'tokenId']);
  assert.ok(Math.abs(r.json.expiresInSeconds - (Date.parse(r.json.expiration) - Date.now()) / 1000) < 5, 'expiresInSeconds matches expiration');
  assert.match(r.json.tokenId, /^[0-9a-f-]{36}$/);
  assert.ok(Date.parse(r.json.expiration) > Date.now() + 50 * 60_000, 'default lifetime is the customer maximum, 60 min');
  assert.deepEqual(r.json.reports.map((x) => [x.id, x.name]), [[IDS.contosoReport, 'Contoso Sales Report']]);
  assert.match(r.json.reports[0].embedUrl, /^https:\/\/emu\.powerbi\.com:\d+\/reportEmbed\?reportId=c0c0c0c0/);
  assert.equal(r.headers.get('cache-control'), 'no-store');

  const t = await emu.inspect(r.json.token);
  assert.equal(t.valid, true);
  assert.equal(t.payload.caller.profileId, IDS.contosoProfile, 'called as the Contoso profile');
  assert.deepEqual(t.payload.identities.map((i) => [i.username, i.roles, i.datasets]),
    [['Contoso', ['Customer'], [IDS.contosoDataset]]]);

  const view = await emu.render(r.json.token, IDS.contosoReport, IDS.contosoWorkspace);
  assert.equal(view.ok, true, JSON.stringify(view));
  assert.ok(view.rows.length > 0);
  assert.deepEqual([...new Set(col(view, 'Customer'))], ['Contoso']);

  const log = await emu.callLog();
  const gen = log.filter((c) => c.route === 'powerbi.generateToken');
  assert.equal(gen.length, 1, 'exactly one GenerateToken call');
  assert.equal(gen[0].profileId, IDS.contosoProfile);
  assert.ok(log.filter((c) => c.route.startsWith('powerbi.')).every((c) => c.profileId === IDS.contosoProfile),
    'every Power BI call is made as the profile');
});

test('role claim allow-list and customData from claims (Fabrikam)', async () => {
  const east = await emu.userToken({ sub: 'bob', customer: 'fabrikam', claims: { roles: ['Region', 'Admin'], region: 'East' } });
  const r = await mint(worker, east, { reports: [IDS.fabrikamReport] });
  assert.equal(r.status, 200, r.text);
  const t = await emu.inspect(r.json.token);
  assert.deepEqual(t.payload.identities[0].roles, ['Region'], 'Admin is not on the allow-list and is dropped');
  assert.equal(t.payload.identities[0].customData, 'East');
  const view = await emu.render(r.json.token, IDS.fabrikamReport, IDS.fabrikamWorkspace);
  assert.deepEqual([...new Set(col(view, 'Region'))], ['East']);
  assert.ok(Date.parse(r.json.expiration) < Date.now() + 31 * 60_000, 'Fabrikam tokens live at most 30 minutes');

  const noRole = await emu.userToken({ sub: 'carol', customer: 'fabrikam', claims: { roles: ['Admin'], region: 'East' } });
  const refused = await mint(worker, noRole, { reports: [IDS.fabrikamReport] });
  assert.equal(refused.status, 403);
  assert.equal(refused.json.error, 'no_rls_role');
});

test('legacy flow side by side: a customer moves between flows, others are unaffected', async () => {
  const contoso = CUSTOMERS.find((c) => c.id === 'contoso');
  const legacy = {
    ...contoso,
    flow: 'legacy',
    workspaces: [IDS.legacyWorkspace],
    reports: [{ id: IDS.legacyReport, workspaceId: IDS.legacyWorkspace }],
    rls: { username: { value: 'Contoso' }, roles: ['Customer'] },
  };
  const put = await admin(worker.base, '/customers/contoso', { method: 'PUT', body: legacy });
  assert.equal(put.status, 200, put.text);
  await emu.clearCalls();
  const user = await emu.userToken({ sub: 'alice@contoso', customer: 'contoso' });
  const r = await mint(worker, user, { reports: [IDS.legacyReport] });
  assert.equal(r.status, 200, r.text);
  const t = await emu.inspect(r.json.token);
  assert.equal(t.payload.caller.profileId, undefined, 'the service principal itself, no profile');
  const view = await emu.render(r.json.token, IDS.legacyReport, IDS.legacyWorkspace);
  assert.deepEqual([...new Set(col(view, 'Customer'))], ['Contoso'], 'the shared dataset shows only Contoso rows');
  const gen = (await emu.callLog()).filter((c) => c.route === 'powerbi.generateToken');
  assert.deepEqual(gen.map((c) => c.profileId), [null]);

  // The old report is no longer Contoso's; Fabrikam still runs on its profile.
  assert.equal((await mint(worker, user, { reports: [IDS.contosoReport] })).status, 403);
  const fab = await emu.userToken({ sub: 'bob', customer: 'fabrikam', claims: { roles: ['Customer'], region: 'North' } });
  const f = await mint(worker, fab, { reports: [IDS.fabrikamReport] });
  assert.equal(f.status, 200);
  assert.equal((await emu.inspect(f.json.token)).payload.caller.profileId, IDS.fabrikamProfile);

  // Back to the profile flow.
  assert.equal((await admin(worker.base, '/customers/contoso', { method: 'PUT', body: contoso })).status, 200);
  const back = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(back.status, 200, back.text);
  assert.equal((await emu.inspect(back.json.token)).payload.caller.profileId, IDS.contosoProfile);
});

test('caching: N tokens cost one Entra call, N GenerateToken calls and no metadata calls once warm', async () => {
  const user = await emu.userToken({ sub: 'alice@contoso', customer: 'contoso' });
  assert.equal((await mint(worker, user, { reports: [IDS.contosoReport] })).status, 200); // warm
  await emu.clearCalls();
  const inv = await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { entra: true } });
  assert.equal(inv.status, 200, inv.text);
  const N = 12;
  for (let i = 0; i < N; i++) {
    const r = await mint(worker, user, { reports: [IDS.contosoReport] });
    assert.equal(r.status, 200, r.text);
  }
  const calls = await emu.calls();
  assert.equal(calls['entra.token'], 1, JSON.stringify(calls));
  assert.equal(calls['powerbi.generateToken'], N);
  // Metadata was invalidated too (all customers): fetched once, then cached.
  assert.equal(calls['powerbi.getReport'], 1, JSON.stringify(calls));
  assert.equal(calls['powerbi.getDataset'], 1);

  await emu.clearCalls();
  for (let i = 0; i < 3; i++) assert.equal((await mint(worker, user, { reports: [IDS.contosoReport] })).status, 200);
  const warm = await emu.calls();
  assert.deepEqual(Object.keys(warm), ['powerbi.generateToken'], 'warm: only GenerateToken');
});

test('single flight: concurrent cold requests make one Entra call and one fetch of each metadata item', async () => {
  const user = await emu.userToken({ sub: 'alice@contoso', customer: 'contoso' });
  await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { entra: true, jwks: true } });
  await emu.clearCalls();
  // Slow Entra down so every request arrives while the refresh is in flight.
  await emu.fault('entra.token', { hangMs: 400 }, 1);
  const results = await Promise.all(Array.from({ length: 10 }, () => mint(worker, user, { reports: [IDS.contosoReport] })));
  assert.deepEqual(results.map((r) => r.status), Array(10).fill(200), results.map((r) => r.text).join('\n'));
  const calls = await emu.calls();
  assert.equal(calls['entra.token'], 1, JSON.stringify(calls));
  assert.equal(calls['powerbi.generateToken'], 10);
  for (const route of ['powerbi.getReport', 'powerbi.getDataset', 'powerbi.getDatasources', 'powerbi.getGroup', 'powerbi.getGroupUsers']) {
    assert.equal(calls[route], 1, `${route}: ${JSON.stringify(calls)}`);
  }
  await emu.clearFaults();
});

test('other token forms: ES256 from the JWKS and HS256 with the shared secret', async () => {
  const es = await emu.userToken({ sub: 'alice', customer: 'contoso', alg: 'ES256' });
  assert.equal((await mint(worker, es, { reports: [IDS.contosoReport] })).status, 200);
  const hs = signJwt({ alg: 'HS256', typ: 'JWT' }, portalClaims({ sub: 'dave' }), HS_SECRET);
  const r = await mint(worker, hs, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 200, r.text);
});

test('JWKS rotation: a token signed with a new key is accepted after one refetch', async () => {
  const rot = await emu.post('/__emulator/idp/rotate', { alg: 'RS256' });
  await sleep(1100); // JWKS_MIN_REFRESH_SECONDS=1 in this worker
  await emu.clearCalls();
  const user = await emu.userToken({ sub: 'alice', customer: 'contoso', signWithKid: rot.kid });
  const r = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 200, r.text);
  // A key the IdP no longer publishes stops working once the JWKS is refetched.
  const gone = await emu.userToken({ sub: 'alice', customer: 'contoso', signWithKid: rot.kid });
  assert.equal((await mint(worker, gone, { reports: [IDS.contosoReport] })).status, 200, 'verified once (and cached)');
  await fetch(`${emu.api}/__emulator/idp/keys/${rot.kid}`, { method: 'DELETE' });
  await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { jwks: true } });
  const after = await mint(worker, gone, { reports: [IDS.contosoReport] });
  assert.equal(after.status, 401);
  assert.equal(after.json.error, 'unknown_key');
});

test('GET /api/reports lists what the caller may embed', async () => {
  const user = await emu.userToken({ sub: 'bob', customer: 'fabrikam', claims: { roles: ['Customer'] } });
  const r = await call(worker.base, '/api/reports', { token: user });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.customer.id, 'fabrikam');
  assert.deepEqual(r.json.reports.map((x) => [x.id, x.name]), [[IDS.fabrikamReport, 'Fabrikam Sales Report']]);
  assert.deepEqual(r.json.permissions, ['View', 'Edit']);
  assert.equal(r.json.metadata, 'ok');
  assert.equal((await call(worker.base, '/api/reports')).status, 401);
});

test('POST /api/validate runs the core over HTTP', async () => {
  const bad = {
    caller: { principalType: 'App', objectId: '6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01' },
    endpoint: { kind: 'GenerateTokenV2' },
    workspaces: [{ id: 'a1a1a1a1-0000-4000-8000-000000000001', type: 'Workspace', callerAccess: 'Admin' }],
    datasets: [{ id: 'd1d1d1d1-0000-4000-8000-000000000001', roles: ['Customer'] }],
    request: { datasets: [{ id: 'd1d1d1d1-0000-4000-8000-000000000001' }] },
  };
  const r = await call(worker.base, '/api/validate', { method: 'POST', body: bad });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.verdict, 'invalid');
  assert.ok(r.json.diagnostics.some((d) => d.code === 'EG0301'));
  const fixed = structuredClone(bad);
  fixed.request.identities = [{ username: 'u', roles: ['Customer'], datasets: ['d1d1d1d1-0000-4000-8000-000000000001'] }];
  const ok = await call(worker.base, '/api/validate', { method: 'POST', body: fixed });
  assert.notEqual(ok.json.verdict, 'invalid', ok.text);
});

test('a request the core rejects answers 422 with diagnostics and never reaches GenerateToken', async () => {
  const contoso = CUSTOMERS.find((c) => c.id === 'contoso');
  const broken = { ...contoso, rls: { username: { value: 'Contoso Ltd' }, roles: ['Customer'] } };
  assert.equal((await admin(worker.base, '/customers/contoso', { method: 'PUT', body: broken })).status, 200);
  await emu.clearCalls();
  const user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  const r = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error, 'validation_failed');
  assert.ok(r.json.diagnostics.some((d) => d.code === 'EG0105'), r.text);
  assert.equal((await emu.calls())['powerbi.generateToken'], undefined);
  assert.equal((await admin(worker.base, '/customers/contoso', { method: 'PUT', body: contoso })).status, 200);
});

test('audit log: every issued token, never the token', async () => {
  const user = await emu.userToken({ sub: 'erin', customer: 'contoso' });
  const r = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 200);
  // The audit event travels through the queue; its consumer writes it within about a second.
  const a = await auditUntil(worker, '/audit?customerId=contoso&limit=5', (j) => j.entries.some((x) => x.tokenId === r.json.tokenId));
  assert.equal(a.status, 200, a.text);
  const e = a.json.entries[0];
  assert.equal(e.tokenId, r.json.tokenId);
  assert.equal(e.userId, 'erin');
  assert.equal(e.flow, 'profile');
  assert.equal(e.profileId, IDS.contosoProfile);
  assert.deepEqual(e.items.reports, [{ id: IDS.contosoReport, allowEdit: false }]);
  assert.deepEqual(e.identity[0].roles, ['Customer']);
  assert.ok(!a.text.includes(r.json.token), 'the embed token is not audited');
  assert.ok(!a.text.includes('EGE1.'));
  const all = await auditUntil(worker, '/audit?limit=500', (j) => j.entries.length >= 30);
  const issued = all.json.entries.length;
  assert.ok(issued >= 30, `every token audited (${issued})`);
});

test('CORS: allow-listed origins only, with preflight', async () => {
  const pre = await fetch(`${worker.base}/api/token`, {
    method: 'OPTIONS',
    headers: { origin: 'https://portal.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://portal.example');
  assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
  const evil = await fetch(`${worker.base}/api/token`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  const ok = await call(worker.base, '/api/token', { method: 'POST', token: user, body: { reports: [IDS.contosoReport] }, headers: { origin: 'https://portal.example' } });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://portal.example');
  assert.equal(ok.headers.get('vary'), 'Origin');
  const other = await call(worker.base, '/api/health', { headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  for (const h of ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'strict-transport-security']) {
    assert.ok(ok.headers.get(h), `security header ${h}`);
  }
});

test('a fresh isolate reuses KV: no Entra call and no metadata calls after a restart', async () => {
  const user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  assert.equal((await mint(worker, user, { reports: [IDS.contosoReport] })).status, 200);
  const earlierLogs = worker.logText();
  await worker.stop({ keepState: true });
  worker = await startWorker(emu, { JWKS_MIN_REFRESH_SECONDS: '1' }, { state: worker.state });
  worker.logs.unshift(earlierLogs);
  await emu.clearCalls();
  const r = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(r.status, 200, r.text);
  assert.equal((await emu.inspect(r.json.token)).payload.identities[0].username, 'Contoso');
  const calls = await emu.calls();
  assert.deepEqual(Object.keys(calls).sort(), ['powerbi.generateToken'], JSON.stringify(calls));
  // The customers and the audit log survived too (D1).
  assert.ok((await auditUntil(worker, '/audit?limit=1', (j) => j.entries.length === 1)).json.entries.length === 1);
});

test('nothing secret ever reached the logs', async () => {
  await sleep(200);
  const logs = worker.logText();
  assert.deepEqual(secretsIn(logs), []);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\./.test(logs), 'no JWT (user or Entra token) in the logs');
  assert.ok(!logs.includes('EGE1.'), 'no embed token in the logs');
  assert.match(logs, /token_issued/);
});
