#!/usr/bin/env bash
# What each piece of a warm token costs on this machine: benches the worker as committed (HEAD), then with one
# piece taken out at a time, then with all three out: the audit queue send, the rate-limit Durable Object call,
# the `token_issued` log line; then bounds: with the GenerateToken call replaced by a canned token, and with only
# the audit queue send kept (the one piece every allowed design needs per token). Each variant is built in a
# throwaway worktree of HEAD (the checkout is never edited) and benched by scripts/bench-worker.mjs against the
# release emulator, health and session tokens at one concurrency. For measurement only: every variant breaks a
# promise of the token path.
#   scripts/bench-worker-ablate.sh      BENCH_SECONDS (12), BENCH_CONCURRENCY (16), BENCH_WRITE=0 to only print;
#   about 11 minutes on 2 cores. Writes the "Token path, piece by piece" section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/worker-env.sh
command -v wrk >/dev/null || { echo "bench-worker-ablate: wrk is missing: run scripts/bench-worker.sh once" >&2; exit 1; }
cargo build -q --release -p embedgate-emulator
export EMULATOR_BIN="$CARGO_TARGET_DIR/release/pbi-emulator"
SECONDS_PER=${BENCH_SECONDS:-12}
C=${BENCH_CONCURRENCY:-16}

tmp=$(mktemp -d)
wt="$tmp/wt"
git worktree add -q --detach "$wt" HEAD
trap 'git worktree remove --force "$wt" 2>/dev/null || true; rm -rf "$tmp"' EXIT
ln -s "$ROOT/node_modules" "$wt/node_modules"

# edit FILE PERL: applies a perl substitution in the worktree; fails when it changed nothing (the code moved).
edit() {
  local f="$wt/$1"
  cp "$f" "$tmp/before"
  perl -0pi -e "$2" "$f"
  if cmp -s "$f" "$tmp/before"; then
    echo "bench-worker-ablate: the edit of $1 no longer applies: $2" >&2
    exit 1
  fi
}
no_queue() { edit crates/worker/src/token.rs 's/    store::audit\(\n.*?\n    \)\n    \.await\?;\n/    let _ = store::audit;\n/s'; }
no_do() { edit crates/worker/src/token.rs 's/limiter::hit\(ctx, &who\.customer_id, &who\.user_id\)\.await\?/(1u64, 1u64)/'; }
no_log() { edit wrangler.toml 's/^LOG_LEVEL = "info"$/LOG_LEVEL = "warn"/m'; }
# A canned token in place of the GenerateToken call: what a design that reuses tokens could at best save.
no_upstream() { edit crates/worker/src/token.rs 's/let embed = powerbi::generate_token\(ctx, customer\.caller_profile\(\), &v2\)\.await\?;/let embed = embedgate_core::powerbi::EmbedToken { token: "H4sI".repeat(300), token_id: ctx.request_id.clone(), expiration: embedgate_edge::upstream::rfc3339(now_secs() + 3600) };/'; }

# bench NAME: builds the worktree as it stands and benches it; restores the worktree after.
bench() {
  echo "bench-worker-ablate: $1" >&2
  # bench-worker.mjs as in this checkout (HEAD's may predate its CPU table).
  cp scripts/bench-worker.mjs "$wt/scripts/bench-worker.mjs"
  (cd "$wt" && CARGO_TARGET_DIR="$ROOT/target/bench-ablate" scripts/build-worker.sh \
    && BENCH_WRITE=0 BENCH_ANCHOR=0 BENCH_INSPECTOR_PASS=0 BENCH_FRESH_TOKENS=20 BENCH_SECONDS="$SECONDS_PER" \
       BENCH_CONCURRENCY="$C" BENCH_LABEL="$1" BENCH_JSON="$tmp/$2.json" node scripts/bench-worker.mjs >/dev/null)
  git -C "$wt" checkout -q -- .
}
bench "as committed" base
no_queue; bench "no audit queue send" noqueue
no_do; bench "no Durable Object call" nodo
no_log; bench "no token_issued log line" nolog
no_queue; no_do; no_log; bench "none of the three" none
no_queue; no_do; no_log; no_upstream; bench "none of the three, no GenerateToken call" noneup
# Bounds for any design the issue allows: one durable accept of the audit event per token is kept.
no_do; no_log; bench "audit queue send only" queueonly
no_do; no_log; no_upstream; bench "audit queue send only, no GenerateToken call" queueonlyup

node --input-type=module - "$tmp" "$C" "$SECONDS_PER" <<'EOF'
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
const { writeSection } = await import(`file://${process.cwd()}/scripts/bench-doc.mjs`);
const [dir, c, seconds] = process.argv.slice(2);
const rows = ['base', 'noqueue', 'nodo', 'nolog', 'none', 'noneup', 'queueonly', 'queueonlyup'].map((n) => JSON.parse(readFileSync(`${dir}/${n}.json`, 'utf8')));
const tok = (r) => r.rows.find((x) => x.kind === 'session' && x.c === Number(c)).rps;
const thread = (r) => r.cpu.find((x) => x.route === 'token (session)' && x.c === Number(c));
const perToken = (r) => (1000 * thread(r).busiest) / thread(r).requests;
const table = [
  `| variant (c=${c}, session JWT) | tokens/s | health req/s | token / health | busiest workerd thread, ms / token | saved vs as committed, ms / token |`,
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r, i) => `| ${r.label} | ${tok(r).toFixed(1)} | ${r.health[c].rps.toFixed(1)} | ${(tok(r) / r.health[c].rps).toFixed(2)} | ${perToken(r).toFixed(2)} | ${i ? (perToken(rows[0]) - perToken(r)).toFixed(2) : '–'} |`),
].join('\n');
const section = `## Token path, piece by piece (issue 15)

What each piece of a warm token costs on local \`wrangler dev\` (no inspector): the worker as committed, then
built without one piece at a time, then without all three, then two bounds (\`scripts/bench-worker-ablate.sh\`: each
variant in a throwaway worktree; \`scripts/bench-worker.mjs\` against the release emulator, ${seconds} s per run,
health and tokens in the same run). Measured ${rows[0].date} on ${cpus().length} cores. Every variant but the first
breaks a promise of the token path (no audit, no rate limit, no log line, or a canned token in place of the
GenerateToken call); they exist only to be measured.

The last two rows bound every design the issue allows. Each keeps only the audit event's durable accept (no
token without it), with no rate limit and no log line at all, so any real limiter or log can only lower them:
- with one GenerateToken call per token, the bound is the row "audit queue send only";
- a design that reuses tokens across page views (no GenerateToken call on a warm view) is bounded by the last row.

${table}

Locally the worker, its Durable Object, the queue broker, the queue consumer and D1 all run on one workerd
thread, which a token run keeps at 96-97% of a core (section "Edge worker"); so "saved" is the piece's whole
local cost on that thread, including work a deployment does on other machines (the object's own code, the
consumer and its D1 batch).

\`\`\`sh
scripts/bench-worker-ablate.sh     # BENCH_SECONDS=12 BENCH_CONCURRENCY=16; BENCH_WRITE=0 to only print
\`\`\`
`;
process.stdout.write(section);
if (process.env.BENCH_WRITE !== '0') writeSection('Token path, piece by piece (issue 15)', section);
EOF
