#!/usr/bin/env bash
# Builds the portal library packages/embed into packages/embed/dist/: type-checked declarations (tsc) and one
# ESM file (esbuild) with powerbi-client left external (a peer dependency). Quiet on success.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
[ -x "$BIN/esbuild" ] && [ -x "$BIN/tsc" ] || scripts/setup.sh
PKG=packages/embed
rm -rf "$PKG/dist"
"$BIN/tsc" -p "$PKG/tsconfig.json"
"$BIN/esbuild" "$PKG/src/index.ts" --bundle --format=esm --target=es2022 --external:powerbi-client \
  --log-level=warning --outfile="$PKG/dist/index.js"
