#!/usr/bin/env bash
# How small can the browser module get? Builds it four ways and prints a table of sizes:
#   - as shipped (every export), and with validate() as its only export (cargo feature
#     `only-validate` of embedgate-wasm, for this measurement only);
#   - both again with everything for size: std rebuilt (-Zbuild-std) with panic=immediate-abort,
#     and crates/scan at opt-level "z" like the rest (it ships at 3, for speed). Those are nightly
#     features; here they are switched on for the stable toolchain with RUSTC_BOOTSTRAP=1,
#     for this measurement only (the shipped build never does this). Needs rustup's rust-src
#     component, which this script adds (quiet when present). SKIP_STD=1 leaves these two out.
# Columns: raw and gzip -9 of the module after wasm-bindgen and wasm-opt -Oz, and gzip -9 of the
# same module with its data segments zeroed (scripts/wasm-data-zeroed.mjs): the code alone, a floor
# that moving texts, tables or the schema out of the module cannot go below.
#   scripts/wasm-size-floor.sh     (about 5 minutes on 2 cores when nothing is built yet)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
[ -x "$BIN/wasm-opt" ] || scripts/setup.sh
WASM_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
OUT=target/wasm-floor
mkdir -p "$OUT"
export CARGO_TERM_QUIET=true CARGO_PROFILE_RELEASE_STRIP=debuginfo

# build <name> <target dir> [cargo args...]: the module as build-www.sh makes it, into $OUT/<name>.wasm.
build() {
  local name="$1" target="$2"
  shift 2
  CARGO_TARGET_DIR="$target" cargo build -j2 --target wasm32-unknown-unknown --release \
    -p embedgate-wasm "$@"
  rm -rf "$OUT/$name.pkg"
  wasm-bindgen --target web --out-dir "$OUT/$name.pkg" \
    "$target/wasm32-unknown-unknown/release/embedgate_wasm.wasm"
  "$BIN/wasm-opt" -Oz "${WASM_FEATURES[@]}" --strip-debug --strip-producers \
    "$OUT/$name.pkg/embedgate_wasm_bg.wasm" -o "$OUT/$name.wasm"
  node scripts/wasm-data-zeroed.mjs "$OUT/$name.wasm" "$OUT/$name.code.wasm" 2>/dev/null
}

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
row() {
  local name="$1" what="$2" f="$OUT/$1.wasm"
  local exports
  exports=$(grep -c '^export function' "$OUT/$name.pkg/embedgate_wasm.js")
  printf '| %s | %s | %s | %s | %s |\n' "$what" "$exports" "$(kib "$(wc -c < "$f")")" \
    "$(kib "$(gzip -9 -n -c "$f" | wc -c)")" "$(kib "$(gzip -9 -n -c "$OUT/$name.code.wasm" | wc -c)")"
}

# Own target dirs: build-www.sh's target/wasm (and the module it makes) is left as it was.
build shipped "$OUT/target"
build validate-only "$OUT/target" --features only-validate
rows=(shipped "as shipped (stable toolchain)"
  validate-only "validate() only")

skipped=""
if [ -n "${SKIP_STD:-}" ]; then
  skipped="SKIP_STD is set"
elif ! rustup component list --installed 2>/dev/null | grep -q '^rust-src' &&
  ! rustup component add rust-src >/dev/null 2>&1; then
  skipped="rustup could not add the rust-src component"
fi
if [ -z "$skipped" ]; then
  std_build() {
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
      build "$@" -Zbuild-std=std,panic_abort \
      --config 'profile.release.package.embedgate-scan.opt-level="z"'
  }
  std_build shipped-std "$OUT/target-std"
  std_build validate-only-std "$OUT/target-std" --features only-validate
  rows+=(shipped-std "as shipped, all for size: std rebuilt (immediate abort), scan at z"
    validate-only-std "validate() only, all for size: std rebuilt (immediate abort), scan at z")
fi

echo "| build | exports | raw KiB | gzip -9 KiB | data zeroed, gzip -9 KiB |"
echo "| --- | ---: | ---: | ---: | ---: |"
for ((i = 0; i < ${#rows[@]}; i += 2)); do
  row "${rows[i]}" "${rows[i + 1]}"
done
[ -z "$skipped" ] || echo "(builds with std rebuilt left out: $skipped)"
echo "(issue 3's budget: 64 KB gzip -9 = 62.5 KiB)"
