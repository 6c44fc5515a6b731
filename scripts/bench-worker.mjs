// Load test of the edge worker (driven by scripts/bench-worker.sh): the real worker in workerd (wrangler dev,
// local D1/KV) against the release emulator, wrk at concurrency 1, 16 and 64 on POST /api/token, upstream
// calls per token from the emulator's call counts. Prints the markdown section and writes it into
// docs/benchmarks.md ("## Edge worker"; other sections are left alone).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSection } from './bench-doc.mjs';
import { startEmulator, startWorker, seed, mint, admin, IDS, ROOT } from '../tests/e2e/worker-harness.mjs';

const DURATION = Number(process.env.BENCH_SECONDS || 15);
const loadAtStart = loadavg()[0];
const LEVELS = (process.env.BENCH_CONCURRENCY || '1,16,64').split(',').map(Number);
const WRITE = process.env.BENCH_WRITE !== '0';

// Each request takes the next token of TOKENS_FILE (one line for the session case: the same JWT every time,
// as a portal sends across page views; thousands of distinct users' JWTs for the fresh case).
const lua = `
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local i = 0
init = function(args)
  i = (id or 0) * math.floor(#tokens / 2)
end
local body = '{"reports":["${IDS.contosoReport}"]}'
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t}, body)
end
done = function(s, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    s.requests, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.write, s.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;
// The worker's own floor, measured in the same run: GET /api/health (routing, config, JSON answer).
const healthLua = `
done = function(s, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    s.requests, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.write, s.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;
const dir = mkdtempSync(join(tmpdir(), 'embedgate-bench-'));
const luaPath = join(dir, 'mint.lua');
writeFileSync(luaPath, lua);
const healthPath = join(dir, 'health.lua');
writeFileSync(healthPath, healthLua);
const LABEL = process.env.BENCH_LABEL || 'this build';

function runWrk(c, script, url, env = {}) {
  const out = execFileSync('wrk', ['-t', String(Math.min(2, c)), '-c', String(c), '-d', `${DURATION}s`, '--timeout', '20s', '-s', script, url],
    { env: { ...process.env, ...env }, encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  return JSON.parse(line.slice(8));
}
const FRESH_TOKENS = Number(process.env.BENCH_FRESH_TOKENS || 4000);
/** Requests wrk saw fail (a non-2xx status, a socket error or a timeout). */
const failures = (r) => r.status_errors + r.connect_errors + r.read_errors + r.write_errors + r.timeouts;
/** Requests answered with a 2xx, per second. */
const okRate = (r) => (r.requests - failures(r)) / (r.duration_us / 1e6);

const ms = (us) => (us / 1000).toFixed(1);

// CPU time per thread of the local processes, from /proc (Linux; elsewhere the CPU table is left out): which
// thread a route is bound by. `comm` is the process name (workerd: wrangler's proxy and the worker's runtime).
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();
function threadTicks(comm) {
  const out = new Map();
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        out.set(`${pid}/${tid}`, Number(f[11]) + Number(f[12])); // utime + stime (stat fields 14 and 15)
      }
    } catch {
      // the process or thread ended meanwhile
    }
  }
  return out;
}
const cpuSnapshot = () => ({ workerd: threadTicks('workerd'), emulator: threadTicks('pbi-emulator'), at: performance.now() });
/** CPU seconds between two snapshots: the busiest workerd thread, every workerd thread, the emulator; wall seconds. */
function cpuSince(a) {
  const b = cpuSnapshot();
  const delta = (x, y) => [...y].map(([k, v]) => (v - (x.get(k) ?? 0)) / CLK_TCK);
  const w = delta(a.workerd, b.workerd);
  return {
    wall: (b.at - a.at) / 1000,
    busiest: w.length ? Math.max(...w) : 0,
    workerd: w.reduce((x, y) => x + y, 0),
    emulator: delta(a.emulator, b.emulator).reduce((x, y) => x + y, 0),
  };
}
const cpuRows = [];
/** runWrk, with the CPU its requests cost recorded under `route`. */
function runWrkCpu(route, c, ...args) {
  const before = cpuSnapshot();
  const r = runWrk(c, ...args);
  const cpu = cpuSince(before);
  if (cpu.workerd > 0) cpuRows.push({ route, c, requests: r.requests - failures(r), rps: okRate(r), ...cpu });
  return r;
}

// wrangler's own per-request log lines cost more CPU than the worker itself on a small machine: off for the
// measurement (the worker logs at its default LOG_LEVEL=info, one line per issued token).
process.env.WRANGLER_LOG_LEVEL ||= 'warn';
// The main pass runs without wrangler's DevTools inspector (scripts/dev-worker.mjs: wrangler's own startWorker,
// the same workerd and bindings): with it on, every worker subrequest sends four Network events to wrangler's
// Node process, which appends each to its debug log file, a dev-tool cost no deployed worker pays. A second
// pass measures `wrangler dev` as it runs by default (inspector on). BENCH_INSPECTOR=1: the main pass with it on.
const INSPECTOR = process.env.BENCH_INSPECTOR === '1';
process.env.WORKER_INSPECTOR = INSPECTOR ? '1' : '0';
const emu = await startEmulator();
const worker = await startWorker(emu, {
  RATE_LIMIT_CUSTOMER_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
  UPSTREAM_DEADLINE_MS: '20000',
  EXPOSE_OP_COUNTS: '1',
});
const rows = [];
const health = {};
/** The second pass, inspector on: { c: { health, session } } in requests/s. */
const withInspector = {};
let cold;
let opsPerToken = null;
let anchor = null;
try {
  await seed(worker);
  const token = await emu.userToken({ sub: 'bench-user', customer: 'contoso' });
  // Cold path: no Entra token, no metadata cached anywhere.
  await admin(worker.base, '/cache/invalidate', { method: 'POST', body: { entra: true } });
  await emu.clearCalls();
  const first = await mint(worker, token, { reports: [IDS.contosoReport] });
  if (first.status !== 200) throw new Error(`cold request failed: ${first.status} ${first.text}`);
  const coldCalls = Object.values(await emu.calls()).reduce((a, b) => a + b, 0);
  cold = { ms: first.ms, calls: coldCalls };
  for (let i = 0; i < 30; i++) await mint(worker, token, { reports: [IDS.contosoReport] });
  // Platform operations of a warm token (x-embedgate-ops; absent on builds before issue 15).
  const sample = [];
  for (let i = 0; i < 20; i++) {
    const h = (await mint(worker, token, { reports: [IDS.contosoReport] })).headers.get('x-embedgate-ops');
    if (h) sample.push(Object.fromEntries(h.split(',').map((p) => p.trim().split('=')).map(([k, v]) => [k, Number(v)])));
  }
  if (sample.length) {
    opsPerToken = {};
    for (const k of Object.keys(sample[0])) opsPerToken[k] = sample.reduce((a, o) => a + o[k], 0) / sample.length;
  }
  for (const c of LEVELS) {
    const r = runWrkCpu('health', c, healthPath, `${worker.base}/api/health`);
    health[c] = { ok: r.requests - failures(r), rps: okRate(r), p50: r.p50, p99: r.p99 };
    console.error(`bench: health c=${c}: ${health[c].rps.toFixed(1)} requests/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms`);
  }
  const session = join(dir, 'session.txt');
  writeFileSync(session, `${token}\n`);
  const fresh = join(dir, 'fresh.txt');
  const many = [];
  for (let i = 0; i < FRESH_TOKENS; i++) many.push(await emu.userToken({ sub: `bench-user-${i}`, customer: 'contoso' }));
  writeFileSync(fresh, `${many.join('\n')}\n`);

  for (const [kind, file] of [['session', session], ['fresh', fresh]]) for (const c of LEVELS) {
    await emu.clearCalls();
    const r = runWrkCpu(`token (${kind})`, c, luaPath, `${worker.base}/api/token`, { TOKENS_FILE: file });
    await new Promise((res) => setTimeout(res, 1500)); // requests still in flight when wrk stopped
    const calls = await emu.calls();
    const upstream = Object.values(calls).reduce((a, b) => a + b, 0);
    const failed = failures(r);
    const ok = r.requests - failed;
    const gen = calls['powerbi.generateToken'] ?? 0;
    rows.push({
      kind,
      c,
      tokens: ok,
      failed,
      rps: okRate(r),
      p50: r.p50,
      p90: r.p90,
      p99: r.p99,
      entra: calls['entra.token'] ?? 0,
      gen,
      perToken: gen ? upstream / gen : 0,
    });
    console.error(`bench: ${kind} c=${c}: ${ok} tokens, ${failed} failed, ${rows.at(-1).rps.toFixed(1)} tokens/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms`);
  }
  // `wrangler dev` as it runs by default (DevTools inspector on): health and the session token per level.
  if (!INSPECTOR && process.env.BENCH_INSPECTOR_PASS !== '0') {
    await worker.stop();
    process.env.WORKER_INSPECTOR = '1';
    const dev = await startWorker(emu, {
      RATE_LIMIT_CUSTOMER_PER_MINUTE: '1000000',
      RATE_LIMIT_USER_PER_MINUTE: '1000000',
      UPSTREAM_DEADLINE_MS: '20000',
    });
    try {
      await seed(dev);
      for (let i = 0; i < 30; i++) await mint(dev, token, { reports: [IDS.contosoReport] });
      for (const c of LEVELS) {
        const hr = runWrk(c, healthPath, `${dev.base}/api/health`);
        const tr = runWrk(c, luaPath, `${dev.base}/api/token`, { TOKENS_FILE: session });
        withInspector[c] = { health: okRate(hr), session: okRate(tr), p50: tr.p50, p99: tr.p99 };
        console.error(`bench: inspector on, c=${c}: health ${withInspector[c].health.toFixed(1)}/s, session token ${withInspector[c].session.toFixed(1)}/s`);
      }
    } finally {
      await dev.stop();
    }
  }
  // Microsoft's own sample beside it, on the same emulator once the worker is idle (it replaces the emulator's
  // state with one more report, so it runs last). BENCH_ANCHOR=0 skips it.
  if (process.env.BENCH_ANCHOR !== '0') {
    const { runAnchor } = await import('./bench-anchor.mjs');
    anchor = await runAnchor({ emulator: emu, levels: LEVELS, seconds: DURATION });
  }
} finally {
  await worker.stop();
  await emu.stop();
}
const inspectorSection = Object.keys(withInspector).length
  ? `
The same worker under \`wrangler dev\` as it runs by default, with its DevTools inspector on (same machine, same
emulator, right after the main pass; session JWT). wrangler then forwards four inspector Network events per worker
subrequest (the rate-limit Durable Object call, the GenerateToken call) to its Node process and appends each to its
debug log file, so the token route, which makes subrequests, pays for it and \`/api/health\`, which makes none, does
not:

| concurrency | health req/s, inspector off | health req/s, inspector on | tokens/s, inspector off | tokens/s, inspector on | token / health, off | token / health, on |
|---:|---:|---:|---:|---:|---:|---:|
${LEVELS.map((c) => {
    const off = rows.find((r) => r.kind === 'session' && r.c === c);
    const on = withInspector[c];
    return `| ${c} | ${health[c].rps.toFixed(1)} | ${on.health.toFixed(1)} | ${off.rps.toFixed(1)} | ${on.session.toFixed(1)} | ${(off.rps / health[c].rps).toFixed(2)} | ${(on.session / on.health).toFixed(2)} |`;
  }).join('\n')}
`
  : '';

const cpu = cpus()[0]?.model?.trim() ?? 'unknown CPU';
const load = loadAtStart.toFixed(1);
const wrkVersion = (() => {
  try {
    return execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch (e) {
    return String(e.stdout || '').split('\n')[0] || 'wrk';
  }
})();
const date = new Date().toISOString().slice(0, 10);
const table = [
  '| user JWT | concurrency | tokens | failed | tokens/s | p50 ms | p90 ms | p99 ms | health req/s | token / health | Entra calls | GenerateToken calls | upstream calls / token |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.kind} | ${r.c} | ${r.tokens} | ${r.failed} | ${r.rps.toFixed(1)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${health[r.c].rps.toFixed(1)} | ${(r.rps / health[r.c].rps).toFixed(2)} | ${r.entra} | ${r.gen} | ${r.perToken.toFixed(2)} |`),
].join('\n');
const result = { label: LABEL, date: new Date().toISOString().slice(0, 10), rows, health, opsPerToken, cpu: cpuRows };
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(result, null, 2));
// Before/after: the same bench on an earlier build, run on the same machine just before (BENCH_BEFORE=file).
let comparison = '';
if (process.env.BENCH_BEFORE && existsSync(process.env.BENCH_BEFORE)) {
  const before = JSON.parse(readFileSync(process.env.BENCH_BEFORE, 'utf8'));
  const ratio = (res, kind, c) => {
    const r = res.rows.find((x) => x.kind === kind && x.c === c);
    return r && res.health[c] ? r.rps / res.health[c].rps : NaN;
  };
  comparison = `
Token/health throughput ratio, ${before.label} (before) and ${LABEL} (after), each measured against its own
\`/api/health\` in its own run on the same machine (goal: 0.50 or more, the token route within 2x of the floor):

| user JWT | concurrency | before: tokens/s | before: health/s | before: ratio | after: tokens/s | after: health/s | after: ratio |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows.map((r) => {
    const b = before.rows.find((x) => x.kind === r.kind && x.c === r.c);
    return `| ${r.kind} | ${r.c} | ${b ? b.rps.toFixed(1) : '–'} | ${before.health[r.c] ? before.health[r.c].rps.toFixed(1) : '–'} | ${ratio(before, r.kind, r.c).toFixed(2)} | ${r.rps.toFixed(1)} | ${health[r.c].rps.toFixed(1)} | ${ratio(result, r.kind, r.c).toFixed(2)} |`;
  }).join('\n')}
`;
}
const cpuSection = cpuRows.length
  ? `
Where the CPU goes (the same runs; CPU time per thread from \`/proc\` around each wrk run). workerd runs the
worker's isolate and, locally, its Durable Object, queue broker, queue consumer and D1 on one thread; the second
workerd process is wrangler's proxy in front of it. "busiest thread" is that thread's CPU time over the wall time
(100% = one core, the most one thread can do):

| route | concurrency | requests/s | busiest workerd thread, % of a core | its CPU ms / request | all workerd CPU ms / request | emulator CPU ms / request |
|---|---:|---:|---:|---:|---:|---:|
${cpuRows.map((r) => `| ${r.route} | ${r.c} | ${r.rps.toFixed(1)} | ${((100 * r.busiest) / r.wall).toFixed(0)}% | ${((1000 * r.busiest) / r.requests).toFixed(2)} | ${((1000 * r.workerd) / r.requests).toFixed(2)} | ${((1000 * r.emulator) / r.requests).toFixed(2)} |`).join('\n')}
`
  : '';
const opsLine = opsPerToken
  ? `Platform operations per warm token (mean of 20, from \`x-embedgate-ops\`): D1 ${opsPerToken.d1}, KV reads ${opsPerToken['kv-get']}, KV writes ${opsPerToken['kv-put']}, Durable Object calls ${opsPerToken.do}, queue sends ${opsPerToken.queue}.`
  : 'This build does not report its platform operations.';
let anchorSection = '';
if (anchor) {
  const session = (c) => rows.find((r) => r.kind === 'session' && r.c === c);
  anchorSection = `
Beside Microsoft's own Node sample (\`../shared/anchors/ms-node-appownsdata\`, run from a temp copy by
\`scripts/bench-anchor.mjs\`; only its hosts and MSAL's offline-authority settings changed, see "Microsoft's Node
sample (anchor)" below), on the same emulator in the same run. The sample verifies no user, applies no RLS, no rate
limit and no audit, and mints through a new MSAL client per call:

| concurrency | worker tokens/s | worker p50 / p99 ms | worker upstream calls / token | sample tokens/s | sample p50 / p99 ms | sample Entra + Power BI calls / token |
|---:|---:|---:|---:|---:|---:|---:|
${anchor.rows.map((a) => {
    const w = session(a.c);
    return `| ${a.c} | ${w ? w.rps.toFixed(1) : '–'} | ${w ? `${ms(w.p50)} / ${ms(w.p99)}` : '–'} | ${w ? w.perToken.toFixed(2) : '–'} | ${a.rps.toFixed(1)} | ${ms(a.p50)} / ${ms(a.p99)} | ${(a.entraPerToken + a.pbiPerToken).toFixed(2)} |`;
  }).join('\n')}
`;
}
const section = `## Edge worker

\`POST /api/token\` (RS256 user JWT, one RLS report, profile flow) against the real worker in workerd through
${INSPECTOR ? '\`wrangler dev\`' : 'wrangler\'s own dev server without its DevTools inspector (\`scripts/dev-worker.mjs\`: the startWorker API behind \`wrangler dev\`, \`dev.inspector: false\`)'} (local D1, KV, Durable Objects and Queues) and the release emulator, ${DURATION} s per level with
${wrkVersion.split(' [')[0]} (\`-t min(2,c)\`), and \`GET /api/health\` at the same concurrency in the same run (the
worker's floor on this \`wrangler dev\`). A warm token: JWT verification, the customer document from isolate memory
(KV after CUSTOMER_MEMORY_TTL_SECONDS), one call to the customer's rate-limit Durable Object, core validation of the
scenario, one GenerateToken call, one queue send for the audit event (a consumer batch-inserts into D1). Measured
${date} (${LABEL}) on ${cpus().length} cores (${cpu}) shared with the emulator, wrangler and workerd and with other
work (load average ${load} at the start), so absolute figures are a floor for this box, not for Cloudflare's edge;
compare the ratios. wrangler's own request log is off (\`--log-level warn\`), the worker logs at its default
\`LOG_LEVEL=info\` (one line per issued token).

${table}

${opsLine}
${cpuSection}${inspectorSection}${comparison}
History (inspector on, \`scripts/bench-worker.sh --before\`, docs of 2026-12-06): the token/health ratio was
0.10–0.12 before issue 15 (28274a3: two D1 round trips per token) and 0.13–0.20 after it (aaf664a: isolate memory
and KV, a rate-limit Durable Object, an audit queue).
${anchorSection}
*session*: the same user JWT on every request (what a portal sends across page views; its signature is verified
once and cached by SHA-256, claims are checked every time). *fresh*: ${FRESH_TOKENS} distinct users' JWTs in turn, so
(almost) every request verifies an RS256 signature in wasm and counts a new per-user rate-limit key.
"upstream calls / token" is every emulator call divided by the GenerateToken calls (1.00 = nothing but the
GenerateToken call itself).

Cold path (no Entra token, no metadata cached): ${cold.ms} ms and ${cold.calls} upstream calls (1 Entra token,
GET report, dataset, datasources, group, group users, 1 GenerateToken). Warm: one upstream call per token (the
GenerateToken call itself); the Entra token and the metadata come from isolate memory (and KV across isolates).

\`\`\`sh
scripts/bench-worker.sh            # BENCH_SECONDS=15 BENCH_CONCURRENCY=1,16,64; installs wrk (Debian) if missing
scripts/bench-worker.sh --before REF   # also benches REF (a git ref) first and prints both ratios (both with the inspector on)
BENCH_INSPECTOR=1 scripts/bench-worker.sh   # the main pass under wrangler dev with its inspector on
\`\`\`
`;
process.stdout.write(section);
if (WRITE) writeSection('Edge worker', section);
