// Portal-side figures (issue 14), in one run: the @embedgate/embed library's size beside powerbi-client's,
// navigation to the report's `rendered` on the demo portal (cold and warm) beside the bare SDK embedding a
// pre-minted token, and token requests per hour per open report at the default margin (page clock).
// Prints a markdown section and writes it into docs/benchmarks.md ("## Portal side"). Run:
//   bash scripts/build-www.sh && bash scripts/build-worker.sh && cargo build --release -p embedgate-emulator
//   EMULATOR_BIN=target/release/pbi-emulator node scripts/bench-portal.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { writeSection } from './bench-doc.mjs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import {
  startEmulator, startWorker, seed, mint, sleep, portalSignIn, portalToIdp, portalVars, IDS, ROOT, CHROMIUM_ARGS,
} from '../tests/e2e/worker-harness.mjs';

const RUNS = Number(process.env.BENCH_RUNS || 5);
const HOURS = Number(process.env.BENCH_HOURS || 6);
const WRITE = process.env.BENCH_WRITE !== '0';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

// 1. Size: the library minified, powerbi-client external, against powerbi-client's own minified build.
const lib = execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [join(ROOT, 'packages/embed/src/index.ts'), '--bundle',
  '--format=esm', '--target=es2022', '--minify', '--external:powerbi-client', '--log-level=warning'], { maxBuffer: 1 << 26 });
const sdkMin = readFileSync(join(ROOT, 'node_modules/powerbi-client/dist/powerbi.min.js'));
const size = { lib: lib.length, libGz: gz(lib), sdk: sdkMin.length, sdkGz: gz(sdkMin) };

const emu = await startEmulator();
const worker = await startWorker(emu, portalVars(emu));
await seed(worker);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const sdk = readFileSync(join(ROOT, 'node_modules/powerbi-client/dist/powerbi.js'));
const BARE = `<!doctype html><meta charset="utf-8"><script src="/powerbi.js"></script><div id="c" style="height:480px"></div>
<script>
  const q = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const r = powerbi.embed(document.getElementById('c'), { type: 'report', id: q.id, embedUrl: q.embedUrl, accessToken: window.name,
    tokenType: window['powerbi-client'].models.TokenType.Embed });
  r.on('rendered', () => { document.title = 'rendered'; });
</script>`;
const host = createServer((req, res) => {
  if (req.url === '/powerbi.js') {
    res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' });
    return res.end(sdk);
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(BARE);
});
await new Promise((r) => host.listen(0, '127.0.0.1', r));
const hostUrl = `http://127.0.0.1:${host.address().port}/`;

const shown = (page) => page.waitForFunction(() => document.getElementById('portal-status')?.textContent === 'Report shown.', null, { timeout: 30000 });

// 2. Navigation to rendered. Portal: from the IdP's redirect back (the user's click) through the code exchange,
// /api/reports, /api/token and the embed to `rendered`. Bare SDK: from navigation to `rendered`, the token
// minted beforehand (passed in window.name, never in the URL). Cold = a fresh context (empty cache); warm = the
// same context again.
const times = { portalCold: [], portalWarm: [], bareCold: [], bareWarm: [] };
const user = await emu.userToken({ sub: 'alice@contoso.example', customer: 'contoso' });
for (let i = 0; i < RUNS; i++) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  for (const key of ['portalCold', 'portalWarm']) {
    await portalToIdp(page, worker.base);
    const t0 = Date.now();
    await page.click('button[value="alice@contoso.example"]');
    await shown(page);
    times[key].push(Date.now() - t0);
  }
  await ctx.close();

  const bctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const bpage = await bctx.newPage();
  for (const key of ['bareCold', 'bareWarm']) {
    const t = await mint(worker, user, { reports: [IDS.contosoReport] });
    const info = { id: IDS.contosoReport, embedUrl: t.json.reports[0].embedUrl };
    await bpage.goto('about:blank');
    await bpage.evaluate((tok) => { window.name = tok; }, t.json.token);
    const t0 = Date.now();
    await bpage.goto(`${hostUrl}#${encodeURIComponent(JSON.stringify(info))}`);
    await bpage.waitForFunction(() => document.title === 'rendered', null, { timeout: 30000 });
    times[key].push(Date.now() - t0);
  }
  await bctx.close();
}

// 3. Token requests per hour per open report: 60-minute tokens, the default 10-minute margin, HOURS hours of
// page time run minute by minute (each refresh's request is real; the page's clock is Playwright's).
const cctx = await browser.newContext({ ignoreHTTPSErrors: true });
await cctx.clock.install();
const cpage = await cctx.newPage();
let requests = 0;
cpage.on('request', (r) => { if (r.url().endsWith('/api/token')) requests++; });
await portalSignIn(cpage, worker.base, 'alice@contoso.example');
await shown(cpage);
const initial = requests;
await cpage.clock.pauseAt(Date.now() + 1000);
for (let m = 0; m < HOURS * 60; m++) {
  await cpage.clock.runFor(60_000);
  await sleep(m % 10 === 9 ? 400 : 20); // lets a refresh's request finish and re-arm
}
await sleep(1500);
const refreshes = requests - initial;
const errorsShown = await cpage.isVisible('#portal-error');
await cctx.close();

await browser.close();
host.close();
await worker.stop();
await emu.stop();

const r = (key) => median(times[key]);
const section = `## Portal side (issue 14)

\`EMULATOR_BIN=target/release/pbi-emulator node scripts/bench-portal.mjs\` (this run: ${/release/.test(process.env.EMULATOR_BIN || '') ? 'release' : 'debug'} emulator; after \`scripts/build-www.sh\`,
\`scripts/build-worker.sh\`); ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}, medians of ${RUNS} runs, one run.

**Size** (esbuild \`--minify\`, gzip -9):

| | minified | gzip | ratio to powerbi-client |
|---|---:|---:|---:|
| \`@embedgate/embed\` (powerbi-client external) | ${kib(size.lib)} | ${kib(size.libGz)} | ${(size.libGz / size.sdkGz).toFixed(3)} |
| \`powerbi-client\` 2.24.1 (\`powerbi.min.js\`, baseline) | ${kib(size.sdk)} | ${kib(size.sdkGz)} | 1 |

**Navigation to \`rendered\`** (ms, headless Chromium, worker in wrangler dev, emulator upstream). The portal's
path counts the IdP redirect back, the code exchange, \`/api/reports\`, \`/api/token\` (profile flow, RLS) and
the embed; the baseline is the bare SDK embedding a token minted beforehand.

| | cold | warm |
|---|---:|---:|
| demo portal (\`/portal\`) | ${r('portalCold')} | ${r('portalWarm')} |
| bare powerbi-client, token ready (baseline) | ${r('bareCold')} | ${r('bareWarm')} |
| ratio portal / baseline | ${(r('portalCold') / r('bareCold')).toFixed(2)} | ${(r('portalWarm') / r('bareWarm')).toFixed(2)} |

**Token requests per open report**: ${refreshes} refreshes in ${HOURS} h of page time with 60-minute tokens and
the default 10-minute margin: **${(refreshes / HOURS).toFixed(2)} per hour** (one every 50 min: 1.2 in steady
state), besides the first token${errorsShown ? '; an error was shown' : '; no error shown'}. Microsoft's polling
sample (every 30 s, refresh with 10 min left) asks for the same tokens but wakes the page 120 times an hour.
`;
process.stdout.write(section);
if (WRITE) writeSection('Portal side', section);
