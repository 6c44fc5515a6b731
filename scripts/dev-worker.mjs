#!/usr/bin/env node
// `wrangler dev` without the DevTools inspector, for benchmarks: wrangler's own startWorker (the engine
// behind `wrangler dev`: the same workerd, bindings and local D1/KV/DO/Queues), with `dev.inspector: false`.
// With the inspector on, wrangler forwards four Network events per worker subrequest to its Node process and
// appends each to its debug log file (~/.config/.wrangler/logs), a cost of the dev tool that no deployed worker
// pays and that, on a 2-core machine, takes CPU from the worker. Same flags as `wrangler dev` where they exist:
//   node scripts/dev-worker.mjs --config F --ip 127.0.0.1 --port N [--persist-to DIR] [--log-level L] [--var K:V ...]
import { unstable_startWorker } from 'wrangler';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const vars = {};
argv.forEach((a, i) => {
  if (a !== '--var') return;
  const kv = argv[i + 1] ?? '';
  const at = kv.indexOf(':');
  if (at < 1) throw new Error(`--var wants KEY:VALUE, got "${kv}"`);
  vars[kv.slice(0, at)] = { type: 'plain_text', value: kv.slice(at + 1) };
});
const config = opt('--config');
if (!config || !opt('--port')) {
  console.error('dev-worker: --config and --port are required');
  process.exit(2);
}
const worker = await unstable_startWorker({
  config,
  bindings: vars,
  dev: {
    inspector: false,
    remote: false,
    watch: false,
    persist: opt('--persist-to') ?? false,
    logLevel: opt('--log-level') ?? 'log',
    server: { hostname: opt('--ip') ?? '127.0.0.1', port: Number(opt('--port')) },
  },
});
await worker.ready;
console.log(`dev-worker: ready on ${(await worker.url).href} (inspector off)`);
const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
