#!/usr/bin/env bash
# Prints the browser module's raw and gzip sizes and fails when the gzip size is past the budget.
#   scripts/check-wasm-size.sh [www/dist/embedgate_wasm_bg.wasm]
# WASM_GZIP_BUDGET_KB (default 125) is the enforced ceiling, a regression guard set just above
# today's size (124.8 KiB). Issue 16 keeps it where issue 14 left it: its new texts were paid for by
# moving the scenario schema and the rule docs out of the module (static files beside the pages).
# Issue 3's target is 64 KB gzip; it is printed as met or not (it is not, and cannot be with this core: scripts/wasm-size-floor.sh, www/README.md "Size and speed").
set -euo pipefail
cd "$(dirname "$0")/.."
WASM="${1:-www/dist/embedgate_wasm_bg.wasm}"
BUDGET_KB="${WASM_GZIP_BUDGET_KB:-125}"
TARGET_KB=64
[ -f "$WASM" ] || { echo "size: $WASM not found (run scripts/build-www.sh)" >&2; exit 1; }
raw=$(wc -c < "$WASM")
gz=$(gzip -9 -n -c "$WASM" | wc -c)
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
target="met"
[ "$gz" -le $((TARGET_KB * 1024)) ] || target="NOT met"
echo "wasm size: $(kb "$raw") raw, $(kb "$gz") gzip -9 (budget ${BUDGET_KB} KiB gzip; issue target ${TARGET_KB} KiB: $target)"
if [ "$gz" -gt $((BUDGET_KB * 1024)) ]; then
  echo "wasm size: FAILED: $(kb "$gz") gzip is past the ${BUDGET_KB} KiB budget" >&2
  exit 1
fi
