#!/usr/bin/env bash
# Installs every tool the build and tests need. Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_VERSION=0.2.130
WORKER_BUILD_VERSION=0.8.7
export CARGO_TERM_QUIET=true
say() { echo "setup: $*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >/dev/null
fi

# `wasm-bindgen --version` prints "wasm-bindgen X.Y.Z"; `worker-build --version` prints just "X.Y.Z".
has_version() { "$1" --version 2>/dev/null | grep -qw -- "$2"; }

if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # No --locked: the CLI's own lock file names a crate version the registry mirror lacks.
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install -q worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The form's Python sample is run by crates/cli/tests/preview_code.rs.
if ! python3 -c 'import requests' 2>/dev/null; then
  say "installing python3-requests (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq python3-requests >/dev/null
fi

# npm packages are pinned in package-lock.json; reinstall only when the lock changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.embedgate-lock; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json node_modules/.embedgate-lock
fi
