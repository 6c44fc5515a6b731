// Edge worker, fault matrix through the emulator's fault injection: 429 with Retry-After, 500, 503, hang,
// garbage, 401, Entra down. Each is answered with its documented status within the deadline, and the service
// recovers afterwards.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, seed, mint, admin, secretsIn, IDS } from './worker-harness.mjs';

// Generous for a loaded 2-core machine: the counts below need the worker's own work plus two upstream calls to
// fit before the third attempt's turn. The tests that wait use Retry-After and attempt timeouts, not the deadline.
const DEADLINE = 8000;
const SLACK = 4000; // wrangler's local proxy and the test's own fetch on a busy machine
let emu;
let worker;
let user;
const body = { reports: [IDS.contosoReport] };

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu, {
    UPSTREAM_DEADLINE_MS: String(DEADLINE),
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '1200',
    UPSTREAM_MAX_ATTEMPTS: '3',
    RETRY_BASE_MS: '50',
    RETRY_CAP_MS: '400',
  });
  await seed(worker);
  user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  assert.equal((await mint(worker, user, body)).status, 200, 'warm: metadata and Entra token cached');
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

afterEach(async () => {
  // Recovery: with the faults gone the very next request works.
  await emu.clearFaults();
  const r = await mint(worker, user, body);
  assert.equal(r.status, 200, `recovered: ${r.text}`);
});

async function attempt() {
  await emu.clearCalls();
  const r = await mint(worker, user, body);
  assert.ok(r.ms <= DEADLINE + SLACK, `answered within the deadline (${r.ms} ms)`);
  assert.deepEqual(secretsIn(r.text), []);
  if (r.status !== 200) assert.equal(r.json?.token, undefined);
  return { r, calls: await emu.calls() };
}

test('429 with Retry-After once: waits, retries, succeeds', async () => {
  await emu.fault('powerbi.generateToken', { status: 429, retryAfter: 1 }, 1);
  const { r, calls } = await attempt();
  assert.equal(r.status, 200, r.text);
  assert.ok(r.ms >= 1000, `honoured Retry-After (${r.ms} ms)`);
  assert.equal(calls['powerbi.generateToken'], 2);
});

test('429 that persists: bounded retries, then 503 upstream_throttled with Retry-After', async () => {
  await emu.fault('powerbi.generateToken', { status: 429, retryAfter: 1 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error, 'upstream_throttled');
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(calls['powerbi.generateToken'], 3, 'UPSTREAM_MAX_ATTEMPTS');
});

test('429 with a Retry-After beyond the deadline: no waiting, the wait is passed on', async () => {
  await emu.fault('powerbi.generateToken', { status: 429, retryAfter: 120 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.headers.get('retry-after'), '120');
  assert.ok(r.ms < DEADLINE, `gave up at once, no 120 s wait (${r.ms} ms)`);
  assert.equal(calls['powerbi.generateToken'], 1);
});

test('503 once: retried with jittered backoff', async () => {
  await emu.fault('powerbi.generateToken', { status: 503 }, 1);
  const { r, calls } = await attempt();
  assert.equal(r.status, 200, r.text);
  assert.equal(calls['powerbi.generateToken'], 2);
});

test('503 that persists: 503 upstream_unavailable with Retry-After', async () => {
  await emu.fault('powerbi.generateToken', { status: 503, retryAfter: 1 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error, 'upstream_unavailable');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.equal(calls['powerbi.generateToken'], 3);
});

test('500: not retried, 502 upstream_error with the upstream code', async () => {
  await emu.fault('powerbi.generateToken', { status: 500 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'upstream_error');
  assert.equal(r.json.upstreamStatus, 500);
  assert.equal(r.json.upstreamCode, 'InternalServerError');
  assert.equal(calls['powerbi.generateToken'], 1);
});

test('hang once: the attempt times out and the retry succeeds', async () => {
  await emu.fault('powerbi.generateToken', { hangMs: 8000 }, 1);
  const { r, calls } = await attempt();
  assert.equal(r.status, 200, r.text);
  assert.ok(r.ms >= 1200, `${r.ms} ms`);
  assert.equal(calls['powerbi.generateToken'], 2);
});

test('hang that persists: 504 upstream_timeout inside the deadline', async () => {
  await emu.fault('powerbi.generateToken', { hangMs: 8000 }, 50);
  const { r } = await attempt();
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.error, 'upstream_timeout');
});

test('garbage body: 502 upstream_bad_response', async () => {
  await emu.fault('powerbi.generateToken', { garbage: true }, 1);
  const { r } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'upstream_bad_response');
});

test('401 from Power BI: the Entra token is refreshed once and the call repeated', async () => {
  await emu.fault('powerbi.generateToken', { status: 401 }, 1);
  const { r, calls } = await attempt();
  assert.equal(r.status, 200, r.text);
  assert.equal(calls['entra.token'], 1, 'one refresh');
  assert.equal(calls['powerbi.generateToken'], 2);
});

test('401 that persists: one refresh only, then 502 upstream_unauthorized', async () => {
  await emu.fault('powerbi.generateToken', { status: 401 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'upstream_unauthorized');
  assert.equal(calls['entra.token'], 1);
  assert.equal(calls['powerbi.generateToken'], 2);
});

async function coldEntra() {
  const r = await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { entra: true } });
  assert.equal(r.status, 200);
}

test('Entra down (503): 503 entra_unavailable', async () => {
  await coldEntra();
  await emu.fault('entra.token', { status: 503, retryAfter: 1 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error, 'entra_unavailable');
  assert.ok(r.headers.get('retry-after'));
  assert.equal(calls['entra.token'], 3);
  assert.equal(calls['powerbi.generateToken'], undefined);
});

test('Entra down under concurrency: the waiting requests share the one failure', async () => {
  await coldEntra();
  // Retry-After 2: the leader's failure takes about 4 s, so a request that arrives late still finds it waiting.
  await emu.fault('entra.token', { status: 503, retryAfter: 2 }, 50);
  await emu.clearCalls();
  const started = Date.now();
  const all = await Promise.all(Array.from({ length: 6 }, () => mint(worker, user, body)));
  assert.ok(Date.now() - started <= DEADLINE + SLACK, `${Date.now() - started} ms`);
  assert.deepEqual(all.map((r) => r.json.error), Array(6).fill('entra_unavailable'));
  assert.equal((await emu.calls())['entra.token'], 3, 'one request retried; the others did not pile on');
});

test('Entra failing (500): 503 entra_unavailable without retries', async () => {
  await coldEntra();
  await emu.fault('entra.token', { status: 500 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error, 'entra_unavailable');
  assert.equal(calls['entra.token'], 1);
});

test('Entra hanging: 504 entra_timeout', async () => {
  await coldEntra();
  await emu.fault('entra.token', { hangMs: 8000 }, 50);
  const { r } = await attempt();
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.error, 'entra_timeout');
});

test('Entra answering garbage: 502 entra_bad_response', async () => {
  await coldEntra();
  await emu.fault('entra.token', { garbage: true }, 1);
  const { r } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'entra_bad_response');
});

async function coldMetadata() {
  const r = await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { customerId: 'contoso' } });
  assert.equal(r.status, 200, r.text);
}

test('metadata call failing (500 on GET report): 502, no GenerateToken call', async () => {
  await coldMetadata();
  await emu.fault('powerbi.getReport', { status: 500 }, 50);
  const { r, calls } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(calls['powerbi.generateToken'], undefined);
});

test('metadata garbage (GET dataset): 502 upstream_bad_response', async () => {
  await coldMetadata();
  await emu.fault('powerbi.getDataset', { garbage: true }, 1);
  const { r } = await attempt();
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'upstream_bad_response');
});

test('metadata throttled once (429 on GET group): retried transparently', async () => {
  await coldMetadata();
  await emu.fault('powerbi.getGroup', { status: 429, retryAfter: 1 }, 1);
  const { r } = await attempt();
  assert.equal(r.status, 200, r.text);
});
