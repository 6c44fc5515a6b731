#!/usr/bin/env bash
# Local edge stack for development (`make dev`): builds the emulator and the worker, starts the emulator with
# the demo fixture and the worker in workerd (wrangler dev) with local D1 migrated and seeded with the demo
# customers (Contoso, Fabrikam), prints the URLs and a ready curl that mints a token, and streams the worker's
# log. Ctrl-C stops everything.
#
# Ports: EMU_PORT (8780, Entra ID + Power BI REST + IdP), EMBED_PORT (8743, https embed iframe as
# emu.powerbi.com), WORKER_PORT (8787). Secrets come from .dev.vars (created from .dev.vars.example if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EMU_PORT="${EMU_PORT:-8780}"
EMBED_PORT="${EMBED_PORT:-8743}"
WORKER_PORT="${WORKER_PORT:-8787}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
WRANGLER=node_modules/.bin/wrangler
LOGDIR=.wrangler/embedgate-dev
mkdir -p "$LOGDIR"
say() { echo "dev: $*" >&2; }

if [ ! -x "$WRANGLER" ] || ! command -v worker-build >/dev/null; then
  scripts/setup.sh
fi
for port in "$EMU_PORT" "$EMBED_PORT" "$WORKER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    say "port $port is already in use (another dev stack running?); set EMU_PORT / EMBED_PORT / WORKER_PORT"
    exit 1
  fi
done

say "building the emulator, the pages and the worker (the first build takes several minutes)"
cargo build -q --release -p embedgate-emulator
# The pages first: the worker serves www/dist, and build-worker.sh only builds it when it is missing.
scripts/build-www.sh
scripts/build-worker.sh
if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  say "created .dev.vars from .dev.vars.example"
fi
ADMIN_KEY=$(sed -n 's/^ADMIN_KEY=//p' .dev.vars | tail -n 1)

pids=()
tail_pid=
cleanup() {
  trap - INT TERM EXIT
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
  # Background jobs of a script ignore SIGINT unless they install a handler; the emulator and wrangler do.
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  say "stopped"
}
trap cleanup INT TERM EXIT

wait_http() { # url seconds what
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  say "$3 did not start; see $LOGDIR"
  exit 1
}

EMU="http://127.0.0.1:$EMU_PORT"
"$CARGO_TARGET_DIR/release/pbi-emulator" --listen "127.0.0.1:$EMU_PORT" --embed-listen "127.0.0.1:$EMBED_PORT" \
  --embed-host emu.powerbi.com >"$LOGDIR/emulator.log" 2>&1 &
pids+=($!)
wait_http "$EMU/__emulator/health" 20 "the emulator"

"$WRANGLER" d1 migrations apply DB --local >"$LOGDIR/migrate.log" 2>&1 || { cat "$LOGDIR/migrate.log" >&2; exit 1; }
VARS=(--var "PBI_API_BASE:$EMU" --var "ENTRA_AUTHORITY:$EMU" --var "JWKS_URL:$EMU/__emulator/idp/jwks.json"
  --var "PORTAL_AUTHORIZE_URL:$EMU/__emulator/idp/authorize" --var "PORTAL_TOKEN_URL:$EMU/__emulator/idp/oauth2/token"
  --var "ALLOWED_ORIGINS:http://127.0.0.1:$WORKER_PORT,http://localhost:$WORKER_PORT")
EMBEDGATE_SKIP_WORKER_BUILD=1 "$WRANGLER" dev --ip 127.0.0.1 --port "$WORKER_PORT" --show-interactive-dev-session=false \
  "${VARS[@]}" </dev/null >"$LOGDIR/worker.log" 2>&1 &
pids+=($!)
WORKER="http://127.0.0.1:$WORKER_PORT"
wait_http "$WORKER/api/health" 90 "wrangler dev"

# Seed the demo customers through the admin API (validated like any other customer document).
node --input-type=module - "$WORKER" "$ADMIN_KEY" <<'EOF'
import { readFileSync } from 'node:fs';
const [base, key] = process.argv.slice(2);
for (const c of JSON.parse(readFileSync('crates/worker/demo/customers.json', 'utf8'))) {
  const r = await fetch(`${base}/api/admin/customers/${c.id}`, {
    method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(c),
  });
  if (!r.ok) { console.error(`dev: seeding ${c.id} failed: ${r.status} ${await r.text()}`); process.exit(1); }
}
EOF

CURL_USER="curl -s -X POST $EMU/__emulator/idp/token -H 'content-type: application/json' -d '{\"sub\":\"alice@contoso.example\",\"claims\":{\"customer\":\"contoso\"}}' | sed -E 's/.*\"id_token\":\"([^\"]+)\".*/\\1/'"
CURL_MINT="curl -s -X POST $WORKER/api/token -H \"authorization: Bearer \$USER_TOKEN\" -H 'content-type: application/json' -d '{\"reports\":[\"c0c0c0c0-0000-4000-8000-00000000b001\"]}'"
USER_TOKEN=$(eval "$CURL_USER")
TOKEN_ID=$(eval "$CURL_MINT" | sed -nE 's/.*"tokenId":"([^"]+)".*/\1/p')
[ -n "$TOKEN_ID" ] || { say "smoke test failed: no token minted; see $LOGDIR/worker.log"; exit 1; }

cat <<EOF

  Embedgate edge stack is up (smoke test minted token $TOKEN_ID)

  demo portal               $WORKER/portal     sign in as alice (Contoso) or bob (Fabrikam, East)
  worker (API + www/dist)   $WORKER            admin key in .dev.vars
  emulator API / IdP        $EMU
  embed iframe              https://emu.powerbi.com:$EMBED_PORT   (map emu.powerbi.com to 127.0.0.1)
  demo customers            contoso (profile flow), fabrikam (profile flow, roles from the token's "roles" claim)
  logs                      $LOGDIR/

  Mint a token as a Contoso user:

    USER_TOKEN=\$($CURL_USER)
    $CURL_MINT

  Fabrikam user (RLS roles and customData come from the user's claims):
    {"sub":"bob","claims":{"customer":"fabrikam","roles":["Region"],"region":"East"}}  with report fab0fab0-0000-4000-8000-00000000b002

  The embedded report comes from https://emu.powerbi.com:$EMBED_PORT (powerbi-client needs a *.powerbi.com
  host; the certificate is self-signed, $EMU/__emulator/embed/cert.pem). Reach it from a local browser with
    chromium --host-resolver-rules="MAP emu.powerbi.com 127.0.0.1" --ignore-certificate-errors $WORKER/portal
  or add "127.0.0.1 emu.powerbi.com" to /etc/hosts and accept the certificate once at https://emu.powerbi.com:$EMBED_PORT/.

  Ctrl-C stops everything. Worker log follows.

EOF
tail -n 0 -f "$LOGDIR/worker.log" &
tail_pid=$!
wait "${pids[0]}"
