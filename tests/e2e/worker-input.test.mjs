// Edge worker, bad input: 413 over the size limit, 400 with the JSON path for non-JSON and wrong types,
// clear 4xx for admin documents, 405/404 for routes, rate limits (429 + Retry-After), and never a 500
// whatever the body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, seed, call, admin, sleep, IDS, CUSTOMERS } from './worker-harness.mjs';

const LIMIT = 4096;
let emu;
let worker;
let user;

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu, {
    MAX_BODY_BYTES: String(LIMIT),
    RATE_LIMIT_CUSTOMER_PER_MINUTE: '100000',
    RATE_LIMIT_USER_PER_MINUTE: '100000',
  });
  await seed(worker);
  user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

const post = (raw, headers = {}) => call(worker.base, '/api/token', { method: 'POST', token: user, raw, headers: { 'content-type': 'application/json', ...headers } });

test('413: declared and streamed bodies over the limit', async () => {
  const big = JSON.stringify({ reports: [IDS.contosoReport], pad: 'x'.repeat(LIMIT) });
  const r = await post(big);
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.error, 'body_too_large');
  // Chunked, no Content-Length: counted while reading.
  const chunks = [new TextEncoder().encode('{"reports": ["'), new TextEncoder().encode('x'.repeat(LIMIT)), new TextEncoder().encode('"]}')];
  const stream = new ReadableStream({
    pull(c) {
      const next = chunks.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
  const s = await fetch(`${worker.base}/api/token`, {
    method: 'POST', body: stream, duplex: 'half', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
  });
  assert.equal(s.status, 413, await s.text());
  // The same limit guards /api/validate and the admin API.
  assert.equal((await call(worker.base, '/api/validate', { method: 'POST', raw: big })).status, 413);
  assert.equal((await admin(worker.base, '/customers', { method: 'POST', raw: big })).status, 413);
});

test('400 for non-JSON, with line and column', async () => {
  for (const raw of ['{"reports": [', 'reports=abc', '{"reports": ["a",]}', '\u0000', "{'reports': []}"]) {
    const r = await post(raw);
    assert.equal(r.status, 400, `${raw}: ${r.text}`);
    assert.equal(r.json.error, 'invalid_json');
    assert.equal(r.json.path, '');
    assert.equal(typeof r.json.line, 'number');
  }
  const empty = await post('');
  assert.equal(empty.json.error, 'empty_body');
  const invalidUtf8 = await fetch(`${worker.base}/api/token`, { method: 'POST', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), headers: { authorization: `Bearer ${user}` } });
  assert.equal(invalidUtf8.status, 400);
});

test('400 for wrong types and values, with the JSON path', async () => {
  const R = IDS.contosoReport;
  const cases = [
    ['[1, 2]', 'wrong_type', ''],
    ['"reports"', 'wrong_type', ''],
    ['{"reports": "x"}', 'wrong_type', '/reports'],
    ['{"reports": [42]}', 'wrong_type', '/reports/0'],
    [`{"reports": ["${R}", "not-a-guid"]}`, 'invalid_id', '/reports/1'],
    [`{"reports": [{"id": "${R}", "allowEdit": "yes"}]}`, 'wrong_type', '/reports/0/allowEdit'],
    ['{"reports": [{"allowEdit": false}]}', 'missing_field', '/reports/0/id'],
    [`{"reports": [{"id": "${R}", "pageName": "x"}]}`, 'unknown_field', '/reports/0/pageName'],
    [`{"reports": ["${R}"], "lifetimeInMinutes": "10"}`, 'wrong_type', '/lifetimeInMinutes'],
    [`{"reports": ["${R}"], "lifetimeInMinutes": -5}`, 'invalid_value', '/lifetimeInMinutes'],
    [`{"reports": ["${R}"], "accessLevel": "Edit"}`, 'unknown_field', '/accessLevel'],
    [`{"datasets": [{"id": "${IDS.contosoDataset}", "xmlaPermissions": "ReadWrite"}]}`, 'invalid_value', '/datasets/0/xmlaPermissions'],
    ['{"targetWorkspaces": {"id": 1}}', 'wrong_type', '/targetWorkspaces'],
    ['{}', 'empty_request', '/reports'],
    [JSON.stringify({ reports: Array(51).fill(R) }), 'too_many_items', '/reports'],
  ];
  for (const [raw, code, path] of cases) {
    const r = await post(raw);
    assert.equal(r.status, 400, `${raw}: ${r.text}`);
    assert.equal(r.json.error, code, raw);
    assert.equal(r.json.path, path, raw);
  }
});

test('admin documents: 400 with the path, 409 on duplicates, id mismatch', async () => {
  const c = structuredClone(CUSTOMERS[0]);
  const cases = [
    [{ ...c, id: 'new one' }, '/id'],
    [{ ...c, id: 'n1', secret: 'x' }, '/secret'],
    [{ ...c, id: 'n2', workspaces: ['nope'] }, '/workspaces/0'],
    [{ ...c, id: 'n3', profileId: undefined }, '/profileId'],
    [{ ...c, id: 'n4', reports: [{ id: IDS.contosoReport, workspaceId: IDS.fabrikamWorkspace }] }, '/reports/0/workspaceId'],
    [{ ...c, id: 'n5', rls: { username: 'boss' } }, '/rls/username'],
    [{ ...c, id: 'n6', flow: 'sideways' }, '/flow'],
    [{ ...c, id: 'n7', maxLifetimeMinutes: '60' }, '/maxLifetimeMinutes'],
  ];
  for (const [body, path] of cases) {
    const r = await admin(worker.base, '/customers', { method: 'POST', body });
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(r.json.path, path, r.text);
  }
  assert.equal((await admin(worker.base, '/customers', { method: 'POST', raw: '{oops', headers: { 'content-type': 'application/json' } })).json.error, 'invalid_json');
  const dup = await admin(worker.base, '/customers', { method: 'POST', body: c });
  assert.equal(dup.status, 409);
  const mismatch = await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: c });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.json.path, '/id');
  assert.equal((await admin(worker.base, '/customers/nobody')).status, 404);
  assert.equal((await admin(worker.base, '/customers/nobody', { method: 'DELETE' })).status, 404);
  assert.equal((await admin(worker.base, '/audit?limit=0')).json.path, '/limit');
  assert.equal((await admin(worker.base, '/audit?limit=abc')).status, 400);
  assert.equal((await admin(worker.base, '/audit?sql=1')).json.error, 'unknown_field');
  const inv = await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { customerId: 5 } });
  assert.equal(inv.json.path, '/customerId');
  assert.equal((await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { customerId: 'nobody' } })).status, 404);
  // Create, read back, delete: the CRUD round trip.
  // A copy of Contoso would be served as Contoso's profile from Contoso's workspace: refused.
  const copy = await admin(worker.base, '/customers', { method: 'POST', body: { ...c, id: 'initech', name: 'Initech' } });
  assert.equal(copy.status, 409, copy.text);
  assert.equal(copy.json.error, 'profile_in_use');
  assert.equal(copy.json.path, '/profileId');
  const n = { ...c, id: 'initech', name: 'Initech', flow: 'legacy', profileId: undefined,
    workspaces: [IDS.legacyWorkspace], reports: [{ id: IDS.legacyReport, workspaceId: IDS.legacyWorkspace }] };
  assert.equal((await admin(worker.base, '/customers', { method: 'POST', body: n })).status, 201);
  const got = await admin(worker.base, '/customers/initech');
  assert.equal(got.json.name, 'Initech');
  assert.equal(got.json.cacheGeneration, 1);
  const upd = await admin(worker.base, '/customers/initech', { method: 'PUT', body: { ...got.json, name: 'Initech 2' } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.json.cacheGeneration, 2, 'a replacement invalidates cached metadata');
  assert.equal((await admin(worker.base, '/customers/initech', { method: 'DELETE' })).status, 200);
  assert.equal((await admin(worker.base, '/customers/initech')).status, 404);
});

test('routes: 405 with Allow, 404 as JSON, validate input', async () => {
  const r = await call(worker.base, '/api/token', { method: 'GET' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');
  assert.equal((await call(worker.base, '/api/reports', { method: 'DELETE' })).headers.get('allow'), 'GET');
  const nf = await call(worker.base, '/api/nothing');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error, 'not_found');
  assert.equal((await call(worker.base, '/api/validate', { method: 'POST', raw: 'nope' })).json.error, 'invalid_json');
  assert.equal((await call(worker.base, '/api/validate', { method: 'POST', raw: '[]' })).json.error, 'wrong_type');
  const v = await call(worker.base, '/api/validate', { method: 'POST', body: { caller: 7 } });
  assert.equal(v.status, 200, 'a malformed scenario is a report, not a crash');
  assert.equal(v.json.verdict, 'invalid');
});

test('rate limits per user and per customer: 429 with Retry-After', async () => {
  // Stay inside one one-minute window.
  const s = new Date().getUTCSeconds();
  if (s > 45) await sleep((61 - s) * 1000);
  const fab = CUSTOMERS.find((c) => c.id === 'fabrikam');
  const put = await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: { ...fab, rateLimit: { perMinute: 5, perUserPerMinute: 3 } } });
  assert.equal(put.status, 200, put.text);
  const bob = await emu.userToken({ sub: 'bob', customer: 'fabrikam', claims: { roles: ['Customer'], region: 'East' } });
  const eve = await emu.userToken({ sub: 'eve', customer: 'fabrikam', claims: { roles: ['Customer'], region: 'East' } });
  const ask = (t) => call(worker.base, '/api/token', { method: 'POST', token: t, body: { reports: [IDS.fabrikamReport] } });
  for (let i = 0; i < 3; i++) assert.equal((await ask(bob)).status, 200);
  const limited = await ask(bob);
  assert.equal(limited.status, 429, limited.text);
  assert.equal(limited.json.error, 'rate_limited');
  const ra = Number(limited.headers.get('retry-after'));
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
  assert.match(limited.json.message, /user/);
  // Another user of the same customer: the customer's budget (5) runs out after one more.
  assert.equal((await ask(eve)).status, 200);
  const cust = await ask(eve);
  assert.equal(cust.status, 429);
  assert.match(cust.json.message, /organisation/);
  // Other customers are not affected.
  assert.equal((await call(worker.base, '/api/token', { method: 'POST', token: user, body: { reports: [IDS.contosoReport] } })).status, 200);
  await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: fab });
});

function randomValue(depth = 0) {
  const r = Math.random();
  if (depth > 3 || r < 0.3) {
    const leaves = [null, true, false, 0, -1, 1e308, 1.5, '', 'x', IDS.contosoReport, IDS.fabrikamReport, '\u0000', '💥', 'a'.repeat(300), [], {}];
    return leaves[Math.floor(Math.random() * leaves.length)];
  }
  if (r < 0.6) return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1));
  const keys = ['reports', 'datasets', 'targetWorkspaces', 'lifetimeInMinutes', 'id', 'allowEdit', 'xmlaPermissions', 'identities', 'roles', '__proto__', 'constructor', 'x'];
  const o = {};
  for (let i = 0; i < 1 + Math.floor(Math.random() * 4); i++) o[keys[Math.floor(Math.random() * keys.length)]] = randomValue(depth + 1);
  return o;
}

test('never a 500: random bodies, deep nesting, odd methods and paths', async () => {
  const bodies = [];
  for (let i = 0; i < 150; i++) bodies.push(JSON.stringify(randomValue()));
  for (let i = 0; i < 30; i++) bodies.push(Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 64) }, () => Math.floor(Math.random() * 256))).toString('latin1'));
  bodies.push('['.repeat(3000) + ']'.repeat(3000), '{"a":'.repeat(500) + '1' + '}'.repeat(500), '1e99999', '-0', 'null', 'true');
  const seen = new Map();
  for (const raw of bodies) {
    for (const path of ['/api/token', '/api/validate']) {
      const r = await call(worker.base, path, { method: 'POST', token: user, raw });
      assert.ok(r.status < 500, `${path} ${r.status} for ${raw.slice(0, 80)}: ${r.text}`);
      assert.ok(r.json, 'always a JSON answer');
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
    }
  }
  for (const [method, path] of [['PATCH', '/api/token'], ['PUT', '/api/reports'], ['GET', '/api/admin/customers/%00'], ['POST', '/api/token/extra'], ['GET', '/api/%ZZ']]) {
    const r = await call(worker.base, path, { method, token: user });
    assert.ok(r.status < 500, `${method} ${path}: ${r.status}`);
  }
  assert.ok(seen.size >= 2, `a mix of answers: ${[...seen.entries()]}`);
});
