#!/usr/bin/env node
// A/B timing of two builds of the browser module in one headless Chromium page, runs interleaved
// (12 rounds of 3,000 `validate(object)` calls each): on this shared machine two separate bench
// runs differ by more than most changes do, while builds compared in the same page agree within
// about 2%.
//   node scripts/ab-www.mjs --save NAME   copy the current build (www/pkg glue + www/dist wasm) to target/ab/NAME
//   node scripts/ab-www.mjs A B           compare target/ab/A with target/ab/B (µs per call: min, lower quartile, median)
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './www-server.mjs';
import { scenario } from './bench-scenario.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const saved = (name) => join(root, 'target/ab', name);
const args = process.argv.slice(2);

if (args[0] === '--save' && args[1]) {
  const to = saved(args[1]);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  cpSync(join(root, 'www/pkg/embedgate_wasm.js'), join(to, 'embedgate_wasm.js'));
  cpSync(join(root, 'www/pkg/snippets'), join(to, 'snippets'), { recursive: true });
  cpSync(join(root, 'www/dist/embedgate_wasm_bg.wasm'), join(to, 'embedgate_wasm_bg.wasm'));
  console.log(`saved the current build as ${to}`);
  process.exit(0);
}
if (args.length !== 2 || !args.every((a) => existsSync(saved(a)))) {
  console.error('usage: node scripts/ab-www.mjs --save NAME | node scripts/ab-www.mjs A B (both saved)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'embedgate-ab-'));
for (const [k, name] of [['A', args[0]], ['B', args[1]]]) cpSync(saved(name), join(dir, k), { recursive: true });
writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>ab</title>');
const { server, url } = await serve(dir, 0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  const r = await page.evaluate(async (sc) => {
    const mods = {};
    for (const k of ['A', 'B']) {
      const m = await import(`./${k}/embedgate_wasm.js`);
      await m.default({ module_or_path: `./${k}/embedgate_wasm_bg.wasm` });
      if (m.validate(sc).verdict !== 'valid') throw new Error(`${k}: scenario not valid`);
      for (let i = 0; i < 3000; i++) m.validate(sc);
      mods[k] = m;
    }
    const runs = { A: [], B: [] };
    for (let rep = 0; rep < 12; rep++) {
      for (const k of ['A', 'B']) {
        const t = performance.now();
        for (let i = 0; i < 3000; i++) mods[k].validate(sc);
        runs[k].push(((performance.now() - t) * 1000) / 3000);
      }
    }
    const out = {};
    for (const k of ['A', 'B']) {
      const s = runs[k].sort((a, b) => a - b);
      out[k] = [s[0], s[3], s[6]].map((x) => x.toFixed(1));
    }
    return out;
  }, scenario);
  console.log('| build | min | lower quartile | median |\n| --- | ---: | ---: | ---: |');
  console.log(`| A: ${args[0]} | ${r.A.join(' | ')} |\n| B: ${args[1]} | ${r.B.join(' | ')} |`);
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
