// Edge worker, the Entra token's lifetime: refreshed ENTRA_REFRESH_MARGIN_SECONDS before it expires (never
// used close to expiry), and not shared through KV when too short-lived for KV's 60 s minimum.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, startWorker, seed, mint, sleep, IDS, ROOT } from './worker-harness.mjs';

let emu;
let worker;
let dir;

before(async () => {
  // Entra tokens that live 310 s: with the 300 s margin each is usable for about 10 s (whole seconds), room
  // for a cold first mint and the next one on a loaded machine.
  const fixture = JSON.parse(readFileSync(join(ROOT, 'crates/emulator/fixtures/demo.json'), 'utf8'));
  fixture.settings = { ...fixture.settings, entraTokenLifetimeSeconds: 310 };
  dir = mkdtempSync(join(tmpdir(), 'embedgate-entra-'));
  writeFileSync(join(dir, 'fixture.json'), JSON.stringify(fixture));
  emu = await startEmulator({ fixturePath: join(dir, 'fixture.json') });
  worker = await startWorker(emu);
  await seed(worker);
});

after(async () => {
  await worker?.stop();
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the Entra token is refreshed five minutes before it expires, once per expiry', async () => {
  const user = await emu.userToken({ sub: 'alice', customer: 'contoso' });
  const body = { reports: [IDS.contosoReport] };
  await emu.clearCalls();
  assert.equal((await mint(worker, user, body)).status, 200);
  assert.equal((await mint(worker, user, body)).status, 200);
  assert.equal((await emu.calls())['entra.token'], 1, 'reused while more than 300 s remain');
  await sleep(11_500);
  const r = await mint(worker, user, body);
  assert.equal(r.status, 200, r.text);
  assert.equal((await emu.calls())['entra.token'], 2, 'refreshed although the old token was still valid for ~298 s');
  // The embed token never outlives the Entra token it was minted with.
  assert.ok(Date.parse(r.json.expiration) <= Date.now() + 310_000 + 2000, r.json.expiration);
  assert.equal((await mint(worker, user, body)).status, 200);
  assert.equal((await emu.calls())['entra.token'], 2);
});
