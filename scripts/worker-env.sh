# Sourced (from the repository root) by the scripts that build and run the worker: one shared target dir, wrangler
# without telemetry, and the worker's tools installed when missing.
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
if [ ! -x node_modules/.bin/wrangler ] || ! command -v worker-build >/dev/null; then
  scripts/setup.sh
fi
