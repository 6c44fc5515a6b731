// Migration benchmark (issue 13): `embedgate migrate apply` for CUSTOMERS (1000) legacy customers against the
// release emulator, at concurrency 1, 4 and 16, then at 16 with a 429 storm (the first 200 profile creations
// and the first 200 imports answer 429 Retry-After: 1), then at each concurrency with the emulator throttling Power
// BI at a fixed THROTTLE (200) calls per second (429 Retry-After: 1 past it). Reports wall time, Power BI calls per customer and the
// plan's minimum. Run through scripts/bench-migrate.sh, which builds what it needs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, ROOT } from '../tests/e2e/worker-harness.mjs';

const N = Number(process.env.CUSTOMERS || 1000);
const LEVELS = (process.env.BENCH_CONCURRENCY || '1,4,16').split(',').map(Number);
const BIN = join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'release', 'embedgate');
const SP = '33333333-3333-4333-8333-333333333333';
const WS = '5a5a5a5a-0000-4000-8000-00000000a000';
const DS = '5a5a5a5a-0000-4000-8000-00000000d000';
const REPORT = '5a5a5a5a-0000-4000-8000-00000000b000';
const key = (i) => `Customer${String(i).padStart(4, '0')}`;
const dataset = { kind: 'Import', roles: [{ name: 'Customer', filter: '[Customer] = USERNAME()' }], columns: ['Customer', 'Amount'], rows: [{ Customer: key(0), Amount: 1 }] };

async function run(concurrency, storm, throttle = 0) {
  const emu = await startEmulator();
  try {
    const st = await (await fetch(`${emu.api}/__emulator/state`)).json();
    st.profiles = [];
    st.workspaces = [{ id: WS, name: 'Shared', type: 'Workspace', members: [{ principalType: 'App', identifier: SP, groupUserAccessRight: 'Admin' }] }];
    st.datasets = [{ ...dataset, id: DS, workspaceId: WS, name: 'Shared Sales' }];
    st.reports = [{ id: REPORT, workspaceId: WS, name: 'Sales', datasetId: DS, reportType: 'PowerBIReport' }];
    st.dashboards = [];
    await emu.post('/__emulator/state', st);
    if (throttle) await emu.post('/__emulator/settings', { powerBiCallsPerSecond: throttle });
    if (storm) {
      await emu.post('/__emulator/faults', [
        { route: 'powerbi.createProfile', count: 200, fault: { status: 429, retryAfter: 1 } },
        { route: 'powerbi.postImport', count: 200, fault: { status: 429, retryAfter: 1 } },
      ]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'embedgate-bench-migrate-'));
    writeFileSync(join(dir, 'sales.pbix'), JSON.stringify({ format: 'embedgate-pbix/1', dataset, report: { pages: [] } }));
    writeFileSync(join(dir, 'inventory.json'), JSON.stringify({
      servicePrincipalObjectId: SP,
      templates: { sales: { file: 'sales.pbix', name: 'Sales' } },
      customers: Array.from({ length: N }, (_, i) => ({ id: `c${i}`, name: `Customer ${i}`,
        legacy: { workspaceId: WS, reports: [REPORT], rls: { kind: 'dynamic', username: key(i), roles: ['Customer'] } },
        target: { kind: 'newWorkspace', name: `${key(i)} Analytics`, templates: ['sales'] } })),
    }));
    const env = { ...process.env, EMBEDGATE_TENANT_ID: '11111111-1111-4111-8111-111111111111', EMBEDGATE_CLIENT_ID: '22222222-2222-4222-8222-222222222222',
      EMBEDGATE_CLIENT_SECRET: 'emulator-demo-secret', EMBEDGATE_PBI_API: emu.api, EMBEDGATE_AUTHORITY: emu.api };
    const started = process.hrtime.bigint();
    // A customer whose calls stay throttled past the retry budget fails; a re-run picks it up (as a user would).
    let runs = 0;
    for (;;) {
      runs += 1;
      try {
        await promisify(execFile)(BIN, ['migrate', 'apply', '--concurrency', String(concurrency), '--inventory', join(dir, 'inventory.json')], { env, maxBuffer: 1 << 28 });
        break;
      } catch (e) {
        if (runs >= 5) throw e;
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const calls = await emu.calls();
    const pbi = Object.entries(calls).filter(([k]) => k.startsWith('powerbi.')).reduce((a, [, v]) => a + v, 0);
    const after = await (await fetch(`${emu.api}/__emulator/state`)).json();
    rmSync(dir, { recursive: true, force: true });
    return { concurrency, storm, throttle, runs, seconds, pbi, profiles: after.profiles.length, workspaces: after.workspaces.length - 1 };
  } finally {
    await emu.stop();
  }
}

const THROTTLE = Number(process.env.THROTTLE || 200);
const rows = [];
for (const c of LEVELS) rows.push(await run(c, false));
rows.push(await run(Math.max(...LEVELS), true));
for (const c of LEVELS) rows.push(await run(c, false, THROTTLE));
const minimum = 1 + 4 * N;
const base = rows[0].seconds;
const label = (r) => (r.storm ? '400 × 429 storm' : r.throttle ? `fixed ${r.throttle} calls/s` : 'none');
console.log(`| concurrency | throttling | customers | apply runs | wall s | vs c=${rows[0].concurrency} unthrottled | Power BI calls | 429 answers | calls / customer | plan minimum / customer | profiles | workspaces |`);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.concurrency} | ${label(r)} | ${N} | ${r.runs} | ${r.seconds.toFixed(1)} | ${(r.seconds / base).toFixed(2)} | ${r.pbi} | ${r.pbi - rows[0].pbi} | ${(r.pbi / N).toFixed(2)} | ${(minimum / N).toFixed(2)} | ${r.profiles} | ${r.workspaces} |`);
}
