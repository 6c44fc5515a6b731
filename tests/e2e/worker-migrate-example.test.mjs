// The README's migration walk-through, as written, against the demo `make dev` runs (the demo fixture and
// customers): both demo customers are put on the legacy flow from examples/migration/, then `embedgate migrate`
// plan → apply → verify --compare-rows → rollout → cleanup. Afterwards each customer's portal user sees the
// same rows as on the legacy flow, minted as its own profile, and cleanup removed the old shared workspace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, startWorker, seed, mint, admin, ADMIN_KEY, ROOT, IDS } from './worker-harness.mjs';

const BIN = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug', 'embedgate');
const EXAMPLE = join(ROOT, 'examples', 'migration');
let emu;
let worker;
let state;

// The environment the README sets for the emulator.
const env = () => ({
  ...process.env,
  EMBEDGATE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  EMBEDGATE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
  EMBEDGATE_CLIENT_SECRET: 'emulator-demo-secret',
  EMBEDGATE_PBI_API: emu.api,
  EMBEDGATE_AUTHORITY: emu.api,
  EMBEDGATE_WORKER_URL: worker.base,
  EMBEDGATE_ADMIN_KEY: ADMIN_KEY,
});

async function migrate(...args) {
  try {
    const r = await promisify(execFile)(BIN, ['migrate', ...args, '--inventory', join(EXAMPLE, 'inventory.json'), '--state', state], { env: env() });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

before(async () => {
  emu = await startEmulator();
  worker = await startWorker(emu);
  await seed(worker);
  state = join(mkdtempSync(join(tmpdir(), 'embedgate-example-')), 'inventory.state.json');
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
});

/** What a portal user of `customer` sees through the worker. */
async function portal(customer) {
  const user = await emu.userToken({ sub: `someone@${customer}.example`, customer });
  const list = await fetch(`${worker.base}/api/reports`, { headers: { authorization: `Bearer ${user}` } }).then((r) => r.json());
  const reportId = list.reports[0].id;
  const t = await mint(worker, user, { reports: [reportId] });
  assert.equal(t.status, 200, `${customer}: ${t.text}`);
  const view = await emu.render(t.json.token, reportId);
  assert.equal(view.ok, true, JSON.stringify(view));
  return { flow: list.customer.flow, rows: view.rows.map((r) => r.join('|')).sort() };
}

test('the README migration of the two demo customers reaches a verified profile flow with the portal still working', async () => {
  // Step 0 of the walk-through: the demo customers on the legacy flow.
  for (const c of ['contoso', 'fabrikam']) {
    const doc = JSON.parse(readFileSync(join(EXAMPLE, `legacy-${c}.json`), 'utf8'));
    const r = await admin(worker.base, `/customers/${c}`, { method: 'PUT', body: doc });
    assert.equal(r.status, 200, r.text);
  }
  const before = { contoso: await portal('contoso'), fabrikam: await portal('fabrikam') };
  assert.equal(before.contoso.flow, 'legacy');
  assert.ok(before.contoso.rows.every((r) => r.startsWith('Contoso|')) && before.contoso.rows.length === 4, before.contoso.rows);
  assert.ok(before.fabrikam.rows.every((r) => r.startsWith('Fabrikam|')) && before.fabrikam.rows.length === 3, before.fabrikam.rows);

  for (const step of [['plan'], ['apply'], ['verify', '--compare-rows'], ['rollout', '--percent', '100'], ['cleanup', '--dry-run'], ['cleanup', '--apply']]) {
    const r = await migrate(...step);
    assert.equal(r.code, 0, `${step.join(' ')}: ${r.out}`);
    if (step[0] === 'verify') assert.match(r.out, /ok {6}contoso\nok {6}fabrikam/, r.out);
    if (step[1] === '--dry-run') assert.match(r.out, new RegExp(`would delete workspace ${IDS.legacyWorkspace}`), r.out);
  }
  for (const c of ['contoso', 'fabrikam']) {
    const now = await portal(c);
    assert.equal(now.flow, 'profile');
    assert.deepEqual(now.rows, before[c].rows, `${c} sees the same rows`);
  }
  const gen = (await emu.callLog()).filter((c) => c.route === 'powerbi.generateToken').slice(-2);
  assert.ok(gen.every((c) => typeof c.profileId === 'string'), 'minted as the profiles');
  const st = await (await fetch(`${emu.api}/__emulator/state`)).json();
  assert.ok(!st.workspaces.some((w) => w.id === IDS.legacyWorkspace), 'the old shared workspace is gone');
  // A second apply changes nothing.
  const again = await migrate('apply');
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /0 failed/);
});
