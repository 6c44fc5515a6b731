// Edge worker, attack suite: every attempt is refused, with the documented status, and never reaches
// GenerateToken. Runs against real workerd and the real emulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEmulator, startWorker, seed, mint, call, admin, signJwt, portalClaims, attackerRsa, jwkToPem, secretsIn,
  IDS, HS_SECRET, ADMIN_KEY, CUSTOMERS,
} from './worker-harness.mjs';

let emu;
let worker;
let good; // a valid Contoso user token

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu);
  await seed(worker);
  good = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  assert.equal((await mint(worker, good, { reports: [IDS.contosoReport] })).status, 200, 'the control request works');
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

/** Runs `attempt` and asserts it was refused with `status` (and `code`) and that no token was minted. */
async function refused(attempt, status, code) {
  await emu.clearCalls();
  const r = await attempt();
  assert.equal(r.status, status, `${r.status} ${r.text}`);
  if (code) assert.equal(r.json?.error, code, r.text);
  assert.equal(r.json?.token, undefined);
  const calls = await emu.calls();
  assert.equal(calls['powerbi.generateToken'], undefined, 'no GenerateToken call');
  assert.deepEqual(secretsIn(r.text), []);
  return r;
}

const contoso = { reports: [IDS.contosoReport] };

test("a user of one customer asks for another customer's report", async () => {
  const r = await refused(() => mint(worker, good, { reports: [IDS.fabrikamReport] }), 403, 'forbidden_item');
  assert.equal(r.json.path, '/reports/0');
  assert.ok(!r.text.includes('Fabrikam'), 'nothing about the other customer leaks');
  // Mixed with an allowed one, by object form, upper-case, as an extra dataset, as a target workspace.
  await refused(() => mint(worker, good, { reports: [IDS.contosoReport, { id: IDS.fabrikamReport.toUpperCase() }] }), 403, 'forbidden_item');
  await refused(() => mint(worker, good, { reports: [IDS.contosoReport], datasets: [IDS.fabrikamDataset] }), 403, 'forbidden_item');
  await refused(() => mint(worker, good, { datasets: [IDS.fabrikamDataset] }), 403, 'forbidden_item');
  await refused(() => mint(worker, good, { reports: [IDS.legacyReport] }), 403, 'forbidden_item');
  // And a report that exists nowhere answers the same way.
  await refused(() => mint(worker, good, { reports: ['99999999-0000-4000-8000-000000000000'] }), 403, 'forbidden_item');
});

test('claims name only verified customers: unknown, missing or malformed customer claims', async () => {
  const unknown = await emu.userToken({ sub: 'mallory', customer: 'globex' });
  await refused(() => mint(worker, unknown, contoso), 403, 'unknown_customer');
  const none = await emu.userToken({ sub: 'mallory', customer: undefined, claims: { customer: null } });
  await refused(() => mint(worker, none, contoso), 403, 'missing_claim');
  const weird = await emu.userToken({ sub: 'mallory', customer: "contoso' OR '1'='1" });
  await refused(() => mint(worker, weird, contoso), 403, 'unknown_customer');
});

test('tampered signature and tampered payload', async () => {
  const [h, p, s] = good.split('.');
  const flipped = s.slice(0, 20) + (s[20] === 'A' ? 'B' : 'A') + s.slice(21);
  await refused(() => mint(worker, `${h}.${p}.${flipped}`, contoso), 401, 'invalid_signature');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  claims.customer = 'fabrikam';
  const forged = Buffer.from(JSON.stringify(claims)).toString('base64url');
  await refused(() => mint(worker, `${h}.${forged}.${s}`, { reports: [IDS.fabrikamReport] }), 401, 'invalid_signature');
  await refused(() => mint(worker, `${h}.${p}`, contoso), 401, 'invalid_token');
  await refused(() => mint(worker, 'not-a-jwt', contoso), 401, 'invalid_token');
});

test('expired, not yet valid, wrong audience, wrong issuer', async () => {
  const now = Math.floor(Date.now() / 1000);
  const expired = await emu.userToken({ sub: 'alice', customer: 'contoso', iat: now - 7200, expiresIn: 3600 });
  await refused(() => mint(worker, expired, contoso), 401, 'token_expired');
  const future = await emu.userToken({ sub: 'alice', customer: 'contoso', nbf: now + 3600 });
  await refused(() => mint(worker, future, contoso), 401, 'token_not_yet_valid');
  const aud = await emu.userToken({ sub: 'alice', customer: 'contoso', aud: 'some-other-app' });
  await refused(() => mint(worker, aud, contoso), 401, 'invalid_audience');
  const iss = await emu.userToken({ sub: 'alice', customer: 'contoso', iss: 'https://evil.example/' });
  await refused(() => mint(worker, iss, contoso), 401, 'invalid_issuer');
  // HS256 tokens get the same claim checks.
  await refused(() => mint(worker, signJwt({ alg: 'HS256' }, portalClaims({ exp: now - 3600 }), HS_SECRET), contoso), 401, 'token_expired');
  await refused(() => mint(worker, signJwt({ alg: 'HS256' }, portalClaims({ aud: 'x' }), HS_SECRET), contoso), 401, 'invalid_audience');
});

test('alg none in every spelling', async () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const t = signJwt({ alg, typ: 'JWT' }, portalClaims(), () => Buffer.alloc(0));
    await refused(() => mint(worker, t, contoso), 401, 'alg_not_allowed');
  }
  const unsupported = signJwt({ alg: 'HS512' }, portalClaims(), () => Buffer.alloc(64, 1));
  await refused(() => mint(worker, unsupported, contoso), 401, 'alg_not_allowed');
});

test('HS/RS algorithm confusion: the public key as HMAC secret', async () => {
  const { keys } = await emu.jwks();
  const rsa = keys.find((k) => k.kty === 'RSA');
  assert.ok(rsa, 'the IdP publishes an RSA key');
  for (const secret of [jwkToPem(rsa), JSON.stringify(rsa), Buffer.from(rsa.n, 'base64url')]) {
    const t = signJwt({ alg: 'HS256', kid: rsa.kid }, portalClaims(), secret);
    await refused(() => mint(worker, t, contoso), 401);
  }
  // ES256 header on the RSA key's kid, RS256 header on the EC key's kid.
  const ec = keys.find((k) => k.kty === 'EC');
  const forge = attackerRsa();
  await refused(() => mint(worker, signJwt({ alg: 'ES256', kid: rsa.kid }, portalClaims(), () => Buffer.alloc(64, 7)), contoso), 401, 'alg_key_mismatch');
  await refused(() => mint(worker, signJwt({ alg: 'RS256', kid: ec.kid }, portalClaims(), forge), contoso), 401, 'alg_key_mismatch');
});

test("an attacker's own RSA key under a real kid, or a kid the IdP never published, or a key in the header", async () => {
  const { keys } = await emu.jwks();
  const rsa = keys.find((k) => k.kty === 'RSA');
  const forge = attackerRsa();
  await refused(() => mint(worker, signJwt({ alg: 'RS256', kid: rsa.kid }, portalClaims(), forge), contoso), 401, 'invalid_signature');
  await refused(() => mint(worker, signJwt({ alg: 'RS256', kid: 'attacker-kid' }, portalClaims(), forge), contoso), 401, 'unknown_key');
  await refused(() => mint(worker, signJwt({ alg: 'RS256', kid: rsa.kid, jku: 'http://127.0.0.1:1/jwks' }, portalClaims(), forge), contoso), 401, 'invalid_token');
  // HS256 signed with a guessed secret.
  await refused(() => mint(worker, signJwt({ alg: 'HS256' }, portalClaims(), 'password'), contoso), 401, 'invalid_signature');
});

test('identity fields in the body are refused with their path', async () => {
  const cases = [
    [{ ...contoso, identities: [{ username: 'Fabrikam', roles: ['Customer'], datasets: [IDS.contosoDataset] }] }, '/identities'],
    [{ ...contoso, username: 'Fabrikam' }, '/username'],
    [{ ...contoso, roles: ['FabrikamOnly'] }, '/roles'],
    [{ ...contoso, customData: 'Fabrikam' }, '/customData'],
    [{ reports: [{ id: IDS.contosoReport, roles: ['Admin'] }] }, '/reports/0/roles'],
    [{ ...contoso, datasourceIdentities: [{ identityBlob: 'x', datasources: [] }] }, '/datasourceIdentities'],
    [{ ...contoso, effective_identity: {} }, '/effective_identity'],
  ];
  for (const [body, path] of cases) {
    const r = await refused(() => mint(worker, good, body), 400, 'identity_not_allowed');
    assert.equal(r.json.path, path);
  }
});

test('permissions the customer does not have', async () => {
  await refused(() => mint(worker, good, { reports: [{ id: IDS.contosoReport, allowEdit: true }] }), 403, 'forbidden_permission');
  await refused(() => mint(worker, good, { ...contoso, targetWorkspaces: [IDS.contosoWorkspace] }), 403, 'forbidden_permission');
  await refused(() => mint(worker, good, { ...contoso, lifetimeInMinutes: 600 }), 400, 'lifetime_too_long');
  await refused(() => mint(worker, good, { datasets: [{ id: IDS.contosoDataset, xmlaPermissions: 'ReadOnly' }] }), 403, 'forbidden_permission');
});

test('a disabled customer gets nothing', async () => {
  const c = CUSTOMERS.find((x) => x.id === 'contoso');
  assert.equal((await admin(worker.base, '/customers/contoso', { method: 'PUT', body: { ...c, enabled: false } })).status, 200);
  await refused(() => mint(worker, good, contoso), 403, 'customer_disabled');
  assert.equal((await admin(worker.base, '/customers/contoso', { method: 'PUT', body: c })).status, 200);
  assert.equal((await mint(worker, good, contoso)).status, 200);
});

test('admin routes without the key, with a wrong key, or with a user token', async () => {
  const routes = [
    ['GET', '/api/admin/customers'],
    ['POST', '/api/admin/customers'],
    ['GET', '/api/admin/customers/contoso'],
    ['PUT', '/api/admin/customers/contoso'],
    ['DELETE', '/api/admin/customers/contoso'],
    ['POST', '/api/admin/cache/invalidate'],
    ['GET', '/api/admin/audit'],
    ['GET', '/api/admin/nothing'],
  ];
  for (const [method, path] of routes) {
    for (const token of [undefined, 'wrong-key-wrong-key', good, ADMIN_KEY.slice(0, -1), `${ADMIN_KEY}x`]) {
      const r = await call(worker.base, path, { method, token, body: method === 'GET' || method === 'DELETE' ? undefined : CUSTOMERS[0] });
      assert.equal(r.status, 401, `${method} ${path} ${r.status} ${r.text}`);
      assert.equal(r.json.error, 'admin_unauthorized');
      assert.match(r.headers.get('www-authenticate'), /Bearer/);
    }
  }
  // Nothing changed.
  const list = await admin(worker.base, '/customers');
  assert.deepEqual(list.json.customers.map((c) => c.id).sort(), ['contoso', 'fabrikam']);
  // The admin API is not reachable cross-origin.
  const pre = await fetch(`${worker.base}/api/admin/customers`, {
    method: 'OPTIONS', headers: { origin: 'https://portal.example', 'access-control-request-method': 'GET' },
  });
  assert.equal(pre.status, 403);
});

test('missing or malformed Authorization headers', async () => {
  await refused(() => mint(worker, undefined, contoso), 401, 'missing_token');
  await refused(() => call(worker.base, '/api/token', { method: 'POST', body: contoso, headers: { authorization: `Basic ${good}` } }), 401, 'missing_token');
  await refused(() => call(worker.base, '/api/token', { method: 'POST', body: contoso, headers: { authorization: 'Bearer ' } }), 401, 'missing_token');
  const r = await refused(() => mint(worker, 'x'.repeat(9000), contoso), 401, 'invalid_token');
  assert.match(r.headers.get('www-authenticate'), /invalid_token/);
});

test('the logs never carried a secret or a token', async () => {
  const logs = worker.logText();
  assert.deepEqual(secretsIn(logs), []);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\./.test(logs), 'no JWT in the logs');
  assert.ok(!logs.includes('EGE1.'));
});
