// The migration to profiles end to end through the real worker: a legacy app (20 customers, one shared RLS workspace, the service
// principal and a master user Admin) is migrated with `embedgate migrate` (plan → apply → verify → rollout →
// cleanup); afterwards every customer embeds through the worker in the profile flow and sees the same rows as
// before, and cleanup removes exactly the planted redundant permissions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, startWorker, mint, admin, ADMIN_KEY, ROOT } from './worker-harness.mjs';

const N = 20;
const SP = '33333333-3333-4333-8333-333333333333';
const WS = '5a5a5a5a-0000-4000-8000-00000000a000';
const DS = '5a5a5a5a-0000-4000-8000-00000000d000';
const REPORT = '5a5a5a5a-0000-4000-8000-00000000b000';
const MASTER = 'analyst@embedgate-demo.onmicrosoft.com';
const key = (i) => `Customer${String(i).padStart(3, '0')}`;
const id = (i) => `c${String(i).padStart(3, '0')}`;
const BIN = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug', 'embedgate');

let emu;
let worker;
let dir;

const dataset = () => ({
  kind: 'Import',
  roles: [{ name: 'Customer', filter: '[Customer] = USERNAME()' }],
  columns: ['Customer', 'Product', 'Amount'],
  rows: Array.from({ length: N }, (_, i) => [0, 1, 2].map((k) => ({ Customer: key(i), Product: `P${k}`, Amount: 100 * i + k }))).flat(),
});

async function migrate(...args) {
  const env = {
    ...process.env,
    EMBEDGATE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
    EMBEDGATE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
    EMBEDGATE_CLIENT_SECRET: 'emulator-demo-secret',
    EMBEDGATE_PBI_API: emu.api,
    EMBEDGATE_AUTHORITY: emu.api,
    EMBEDGATE_WORKER_URL: worker.base,
    EMBEDGATE_ADMIN_KEY: ADMIN_KEY,
  };
  try {
    const r = await promisify(execFile)(BIN, ['migrate', ...args, '--inventory', join(dir, 'inventory.json')], { env, maxBuffer: 1 << 24 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

before(async () => {
  emu = await startEmulator();
  // The legacy layout replaces the demo's items (tenant, service principal, users and IdP stay).
  const st = await (await fetch(`${emu.api}/__emulator/state`)).json();
  st.profiles = [];
  st.workspaces = [{ id: WS, name: 'Shared', type: 'Workspace', members: [
    { principalType: 'App', identifier: SP, groupUserAccessRight: 'Admin' },
    { principalType: 'User', identifier: MASTER, groupUserAccessRight: 'Admin' }] }];
  st.datasets = [{ ...dataset(), id: DS, workspaceId: WS, name: 'Shared Sales' }];
  st.reports = [{ id: REPORT, workspaceId: WS, name: 'Sales', datasetId: DS, reportType: 'PowerBIReport' }];
  st.dashboards = [];
  await emu.post('/__emulator/state', st);
  worker = await startWorker(emu, { RATE_LIMIT_CUSTOMER_PER_MINUTE: '100000', RATE_LIMIT_USER_PER_MINUTE: '100000' });
  // Today's worker documents: every customer on the legacy flow, RLS by its key.
  for (let i = 0; i < N; i++) {
    const doc = { id: id(i), name: `Customer ${i}`, flow: 'legacy', workspaces: [WS], reports: [{ id: REPORT, workspaceId: WS }],
      permissions: ['View'], rls: { username: { value: key(i) }, roles: ['Customer'] } };
    const r = await admin(worker.base, `/customers/${id(i)}`, { method: 'PUT', body: doc });
    assert.equal(r.status, 201, r.text);
  }
  dir = mkdtempSync(join(tmpdir(), 'embedgate-migrate-'));
  writeFileSync(join(dir, 'sales.pbix'), JSON.stringify({ format: 'embedgate-pbix/1', dataset: dataset(), report: { pages: [] } }));
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify({
    servicePrincipalObjectId: SP,
    masterUser: MASTER,
    templates: { sales: { file: 'sales.pbix', name: 'Sales' } },
    customers: Array.from({ length: N }, (_, i) => ({
      id: id(i), name: `Customer ${i}`,
      legacy: { workspaceId: WS, reports: [REPORT], rls: { kind: 'dynamic', username: key(i), roles: ['Customer'] } },
      target: { kind: 'newWorkspace', name: `${key(i)} Analytics`, templates: ['sales'] },
    })),
  }));
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

/** The rows customer i's user sees through the worker, whatever flow serves it. */
async function rowsThroughWorker(i) {
  const user = await emu.userToken({ sub: `user-${i}`, customer: id(i) });
  const list = await fetch(`${worker.base}/api/reports`, { headers: { authorization: `Bearer ${user}` } }).then((r) => r.json());
  const reportId = list.reports[0].id;
  const t = await mint(worker, user, { reports: [reportId] });
  assert.equal(t.status, 200, `${id(i)}: ${t.text}`);
  const view = await emu.render(t.json.token, reportId);
  assert.equal(view.ok, true, JSON.stringify(view));
  return { flow: list.customer.flow, rows: view.rows.map((r) => r.join('|')).sort() };
}

test('plan → apply → verify → rollout → cleanup: every customer embeds as its profile and sees the same rows', async () => {
  const before = [];
  for (let i = 0; i < N; i++) before.push(await rowsThroughWorker(i));
  assert.ok(before.every((b) => b.flow === 'legacy' && b.rows.length === 3));
  assert.notDeepEqual(before[0].rows, before[1].rows, 'RLS separates customers today');

  const plan = await migrate('plan');
  assert.equal(plan.code, 0, plan.out);
  const applied = await migrate('apply', '--concurrency', '4');
  assert.equal(applied.code, 0, applied.out);
  assert.ok(!applied.out.includes('emulator-demo-secret') && !applied.out.includes(ADMIN_KEY), 'no secret in the output');
  // The documents now carry the profile, flow still legacy (the customer → profile mapping).
  const doc = (await admin(worker.base, `/customers/${id(7)}`)).json;
  assert.equal(doc.flow, 'legacy');
  assert.match(doc.profileId, /^[0-9a-f-]{36}$/);

  // Rollout refuses customers that have not passed verify.
  const early = await migrate('rollout', '--customers', id(0));
  assert.notEqual(early.code, 0, early.out);
  assert.match(early.out, /has not passed `migrate verify`/);

  const verified = await migrate('verify', '--compare-rows');
  assert.equal(verified.code, 0, verified.out);
  const half = await migrate('rollout', '--percent', '50');
  assert.equal(half.code, 0, half.out);
  assert.equal((await admin(worker.base, `/customers/${id(0)}`)).json.flow, 'profile');
  assert.equal((await admin(worker.base, `/customers/${id(N - 1)}`)).json.flow, 'legacy', 'one batch at a time');
  const rest = await migrate('rollout', '--percent', '100');
  assert.equal(rest.code, 0, rest.out);

  for (let i = 0; i < N; i++) {
    const now = await rowsThroughWorker(i);
    assert.equal(now.flow, 'profile');
    assert.deepEqual(now.rows, before[i].rows, `${id(i)} sees the same rows`);
  }
  // The profile flow minted as the profile (X-PowerBI-Profile-Id on GenerateToken).
  const gen = (await emu.callLog()).filter((c) => c.route === 'powerbi.generateToken').slice(-N);
  assert.ok(gen.every((c) => typeof c.profileId === 'string'), 'every token minted as a profile');

  // Planted redundant permissions on customer 5's workspace: the master user and the service principal itself.
  const state = JSON.parse(readFileSync(join(dir, 'inventory.state.json'), 'utf8'));
  const ws5 = state.customers[id(5)].workspaceId;
  const st = await (await fetch(`${emu.api}/__emulator/state`)).json();
  const w = st.workspaces.find((x) => x.id === ws5);
  w.members.push({ principalType: 'User', identifier: MASTER, groupUserAccessRight: 'Member' },
    { principalType: 'App', identifier: SP, groupUserAccessRight: 'Admin' });
  await emu.post('/__emulator/state', st);

  const dry = await migrate('cleanup', '--dry-run');
  assert.equal(dry.code, 0, dry.out);
  const planned = dry.out.split('\n').filter((l) => l.startsWith('would '));
  assert.deepEqual(planned.map((l) => l.replace(/:.*/, '').replace(/ \(.*/, '')).sort(), [
    `would delete workspace ${WS}`,
    `would remove App ${SP}`,
    `would remove User ${MASTER}`,
  ].sort(), dry.out);
  const done = await migrate('cleanup', '--apply');
  assert.equal(done.code, 0, done.out);
  const after = await (await fetch(`${emu.api}/__emulator/state`)).json();
  const w5 = after.workspaces.find((x) => x.id === ws5);
  assert.equal(w5.members.length, 1, JSON.stringify(w5.members));
  assert.ok(w5.members[0].profile, 'only the profile stays');
  assert.ok(!after.workspaces.some((x) => x.id === WS), 'the old shared workspace is gone');
  assert.equal(after.workspaces.length, N, 'every customer workspace stays');
  // Still embedding after cleanup.
  assert.deepEqual((await rowsThroughWorker(5)).rows, before[5].rows);
});
