#!/usr/bin/env bash
# Builds www/dist (unless --no-build) and serves it on 127.0.0.1, printing the URL.
#   scripts/serve-www.sh [--no-build] [--port N]     (PORT=N works too; default 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
  if [ "$a" = --no-build ]; then build=; else args+=("$a"); fi
done
if [ -n "$build" ]; then scripts/build-www.sh; fi
exec node scripts/www-server.mjs "${args[@]}"
