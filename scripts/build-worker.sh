#!/usr/bin/env bash
# Builds the edge worker (crates/worker) with worker-build into crates/worker/build/, and makes sure
# www/dist exists for wrangler's [assets]. wrangler.toml runs this as its [build] command; set
# EMBEDGATE_SKIP_WORKER_BUILD=1 to reuse an existing build (tests and dev build once, then start wrangler).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${EMBEDGATE_SKIP_WORKER_BUILD:-}" = 1 ] && [ -f crates/worker/build/index.js ] && [ -d www/dist ]; then
  exit 0
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Up to date when the output is newer than every input (worker-build re-runs wasm-bindgen and wasm-opt,
# about a minute, even when cargo has nothing to do).
out=crates/worker/build/index.js
if [ -f "$out" ] && [ -d www/dist ] && [ -z "${EMBEDGATE_FORCE_WORKER_BUILD:-}" ] \
  && [ -z "$(find crates/worker/src crates/worker/Cargo.toml crates/core/src crates/core/Cargo.toml crates/edge crates/client crates/migrate crates/scan Cargo.toml Cargo.lock migrations \
            -newer "$out" -type f -print -quit)" ]; then
  exit 0
fi
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CARGO_TERM_QUIET=true
# worker-build would download these from GitHub; use the local ones (scripts/setup.sh installs them).
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
if ! command -v worker-build >/dev/null || [ ! -x "$WASM_BINDGEN_BIN" ] || [ ! -x "$WASM_OPT_BIN" ] || [ ! -x "$ESBUILD_BIN" ]; then
  scripts/setup.sh
fi
# Speed over size for the worker: JWT signature checks are big-number arithmetic (the workspace release
# profile is tuned for the browser module's size).
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${EMBEDGATE_WORKER_OPT_LEVEL:-3}"

log=$(mktemp)
if ! (cd crates/worker && worker-build --release) >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "build-worker: worker-build failed" >&2
  exit 1
fi
rm -f "$log"

if [ ! -d www/dist ]; then
  if [ -x scripts/build-www.sh ] && scripts/build-www.sh >/dev/null 2>&1 && [ -d www/dist ]; then
    :
  else
    echo "build-worker: www/dist could not be built; serving an empty asset directory" >&2
    mkdir -p www/dist
  fi
fi
