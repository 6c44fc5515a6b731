// Edge worker at scale (issue 15): a warm token makes no D1 query (customer documents from memory, then KV),
// rate limits are counted exactly in one Durable Object per customer, and audit events travel through a queue
// whose consumer batch-inserts them, none lost and none duplicated, also when the consumer fails once.
// Operation counts come from the `x-embedgate-ops` header (EXPOSE_OP_COUNTS=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startEmulator, startWorker, seed, mint, admin, auditUntil, sleep, IDS, CUSTOMERS, ROOT } from './worker-harness.mjs';

const MEMORY_TTL = 2;
let emu;
let worker;

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu, {
    EXPOSE_OP_COUNTS: '1',
    ALLOW_TEST_FAULTS: '1',
    CUSTOMER_MEMORY_TTL_SECONDS: String(MEMORY_TTL),
    RATE_LIMIT_CUSTOMER_PER_MINUTE: '100000',
    RATE_LIMIT_USER_PER_MINUTE: '100000',
  });
  await seed(worker);
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

/** `x-embedgate-ops: d1=0, kv-get=1, ...` as an object. */
function ops(r) {
  const h = r.headers.get('x-embedgate-ops');
  assert.ok(h, 'x-embedgate-ops header present');
  return Object.fromEntries(h.split(',').map((p) => p.trim().split('=')).map(([k, v]) => [k, Number(v)]));
}

test('a warm token makes 0 D1 queries, 0 KV reads, one Durable Object call, one queue send, one upstream call', async () => {
  const user = await emu.userToken({ sub: 'warm-user', customer: 'contoso' });
  const first = await mint(worker, user, { reports: [IDS.contosoReport] });
  assert.equal(first.status, 200, first.text);
  await emu.clearCalls();
  const N = 20;
  for (let i = 0; i < N; i++) {
    const r = await mint(worker, user, { reports: [IDS.contosoReport] });
    assert.equal(r.status, 200, r.text);
    const o = ops(r);
    assert.equal(o.d1, 0, `D1 queries on warm token ${i}: ${r.headers.get('x-embedgate-ops')}`);
    assert.equal(o['kv-put'], 0);
    assert.equal(o.do, 1, 'one rate-limit count');
    assert.equal(o.queue, 1, 'one audit message');
    // Customer and metadata from isolate memory (the TTL may expire once during the loop: then one KV read).
    assert.ok(o['kv-get'] <= 1, `kv reads ${o['kv-get']}`);
  }
  assert.deepEqual(await emu.calls(), { 'powerbi.generateToken': N }, 'upstream: GenerateToken only');
});

test('an admin change is seen at once by this isolate, and by others within the memory TTL through KV', async () => {
  const fab = CUSTOMERS.find((c) => c.id === 'fabrikam');
  const user = await emu.userToken({ sub: 'bob', customer: 'fabrikam', claims: { roles: ['Customer'], region: 'East' } });
  assert.equal((await mint(worker, user, { reports: [IDS.fabrikamReport] })).status, 200);
  // Through the admin API: D1, then KV rewritten, then this isolate's copy dropped.
  assert.equal((await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: { ...fab, enabled: false } })).status, 200);
  const off = await mint(worker, user, { reports: [IDS.fabrikamReport] });
  assert.equal(off.status, 403, off.text);
  assert.equal(off.json.error, 'customer_disabled');
  assert.equal((await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: fab })).status, 200);
  const on = await mint(worker, user, { reports: [IDS.fabrikamReport] });
  assert.equal(on.status, 200, on.text);
  // Another isolate's change reaches this one only through KV: write KV behind this isolate's back (as an admin
  // call served elsewhere would) and time how long the old copy is still served.
  const doc = { cacheGen: 99, config: { ...fab, enabled: false } };
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['kv', 'key', 'put', '--binding', 'CACHE', '--local',
    '--config', join(worker.state, 'wrangler.toml'), '--persist-to', join(worker.state, 'state'), 'customer:v1:fabrikam', JSON.stringify(doc)],
  { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' } });
  const written = Date.now();
  let seenAfter = null;
  while (Date.now() - written < (MEMORY_TTL + 5) * 1000) {
    const r = await mint(worker, user, { reports: [IDS.fabrikamReport] });
    if (r.status === 403 && r.json.error === 'customer_disabled') {
      seenAfter = Date.now() - written;
      break;
    }
    assert.equal(r.status, 200, r.text);
    await sleep(100);
  }
  assert.ok(seenAfter !== null, 'the KV change was never seen');
  assert.ok(seenAfter <= MEMORY_TTL * 1000 + 1000, `seen after ${seenAfter} ms (TTL ${MEMORY_TTL} s)`);
  assert.equal((await admin(worker.base, '/customers/fabrikam', { method: 'PUT', body: fab })).status, 200);
  assert.equal((await mint(worker, user, { reports: [IDS.fabrikamReport] })).status, 200);
});

test('rate limits are exact under concurrent requests: the customer limit admits exactly its count', async () => {
  const s = new Date().getUTCSeconds();
  if (s > 40) await sleep((61 - s) * 1000);
  // A customer of its own: its Durable Object has counted nothing in this window (earlier tests used Fabrikam's).
  // On the legacy flow, on the shared workspace: a profile and its workspace serve one customer only.
  const LIMIT = 15;
  const limited = { id: 'limited', name: 'Limited', flow: 'legacy', workspaces: [IDS.legacyWorkspace],
    reports: [{ id: IDS.legacyReport, workspaceId: IDS.legacyWorkspace }], rls: { username: { value: 'Fabrikam' }, roles: ['Customer'] },
    rateLimit: { perMinute: LIMIT, perUserPerMinute: 1000 } };
  const put = await admin(worker.base, '/customers/limited', { method: 'PUT', body: limited });
  assert.equal(put.status, 201, put.text);
  const users = await Promise.all(Array.from({ length: 8 }, (_, i) => emu.userToken({ sub: `u${i}`, customer: 'limited' })));
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => mint(worker, users[i % users.length], { reports: [IDS.legacyReport] })));
  const by = (st) => results.filter((r) => r.status === st).length;
  assert.equal(by(200), LIMIT, `admitted ${by(200)} of 40 (statuses ${results.map((r) => r.status).join(',')})`);
  assert.equal(by(429), 40 - LIMIT);
  // Contoso's object is another object: its budget is untouched.
  const c = await mint(worker, await emu.userToken({ sub: 'alice', customer: 'contoso' }), { reports: [IDS.contosoReport] });
  assert.equal(c.status, 200, c.text);
  assert.equal((await admin(worker.base, '/customers/limited', { method: 'DELETE' })).status, 200);
});

async function mintMany(n, sub) {
  const user = await emu.userToken({ sub, customer: 'contoso' });
  const rs = await Promise.all(Array.from({ length: n }, () => mint(worker, user, { reports: [IDS.contosoReport] })));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  return rs.map((r) => r.json.tokenId);
}

async function auditedExactlyOnce(ids) {
  const want = new Set(ids);
  const r = await auditUntil(worker, '/audit?customerId=contoso&limit=500',
    (j) => ids.every((id) => j.entries.some((e) => e.tokenId === id)), 20000);
  const seen = r.json.entries.filter((e) => want.has(e.tokenId)).map((e) => e.tokenId);
  assert.equal(new Set(seen).size, ids.length, `${new Set(seen).size} of ${ids.length} audited`);
  assert.equal(seen.length, ids.length, 'no duplicates');
}

test('the audit events of N tokens all arrive in D1, none lost, none duplicated', async () => {
  await auditedExactlyOnce(await mintMany(60, 'audit-n'));
});

test('the consumer fails once after writing: the batch is redelivered and still nothing is duplicated', async () => {
  assert.equal((await admin(worker.base, '/test-faults', { method: 'POST', body: { auditConsumerFailures: 1 } })).status, 200);
  await auditedExactlyOnce(await mintMany(25, 'audit-retry'));
  // The fault was consumed (the counter went back to zero), so the retry really happened.
  const more = await mintMany(5, 'audit-after');
  await auditedExactlyOnce(more);
  assert.match(worker.logText(), /injected audit consumer failure/, 'the consumer did fail once');
});

test('test faults are off unless ALLOW_TEST_FAULTS is set', async () => {
  const other = await startWorker(emu, {});
  try {
    const r = await admin(other.base, '/test-faults', { method: 'POST', body: { auditConsumerFailures: 1 } });
    assert.equal(r.status, 404, r.text);
    const m = await mint(other, await emu.userToken({ sub: 'x', customer: 'contoso' }), { reports: [IDS.contosoReport] });
    assert.equal(m.headers.get('x-embedgate-ops'), null, 'no op counts by default');
  } finally {
    await other.stop();
  }
});
