# Embedgate: two commands do everything on a fresh machine.
#   make dev   - emulator + worker (wrangler dev, local D1/KV) + pages, all on 127.0.0.1
#   make test  - every test: Rust (core, CLI, emulator, differential), browser (WASM + pages in
#                headless Chromium), worker in workerd against the emulator
# `make www` serves only the pages (no worker): scripts/serve-www.sh.
# Both install whatever is missing first (scripts/setup.sh: idempotent, quiet when done).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test setup install test-rust test-docs test-emulator test-www test-worker www bench fuzz docs lint

setup:
	@bash scripts/setup.sh

# The `embedgate` command (check, explain, migrate ...) into ~/.cargo/bin.
install:
	$(CARGO) install --path crates/cli --locked --quiet

dev: setup
	@bash scripts/dev.sh

www: setup
	@bash scripts/serve-www.sh

test: setup test-rust test-docs test-emulator test-www test-worker
	@echo "make test: all suites passed"

# Host-side Rust: core (rules, properties, edge logic), CLI, emulator (HTTP + differential), wasm bindings' host tests.
test-rust:
	$(CARGO) test --workspace --exclude embedgate-worker --quiet
	@bash scripts/bench-migrate-model.sh --smoke

test-docs:
	$(CARGO) run --quiet -p embedgate-cli -- docs --check
	@for f in scripts/*.mjs tests/e2e/*.mjs; do node --check "$$f" || { echo "$$f does not parse"; exit 1; }; done
	@out=$$($(CARGO) run --quiet -p embedgate-cli -- check --expect examples/*.json examples/microsoft/*.json) || { echo "$$out" | grep "expectation failed"; exit 1; }
	@echo "examples: $$(ls examples/*.json | wc -l) scenarios and $$(ls examples/microsoft/*.json | wc -l) of Microsoft's GenerateToken examples got their documented verdicts"

test-emulator:
	@bash scripts/test-emulator.sh

test-www:
	@bash scripts/test-www.sh

test-worker:
	@bash scripts/test-worker.sh

# Regenerates docs/rules.md, docs/capabilities.md, docs/schemas/ and the browser's TypeScript types.
docs:
	$(CARGO) run --quiet -p embedgate-cli -- docs
	@bash scripts/update-www-types.sh

# Benchmarks (figures go to docs/benchmarks.md): core criterion, browser WASM speed and size floor,
# worker load, fuzzing.
bench: setup
	$(CARGO) bench -p embedgate-core --bench validate
	@bash scripts/build-www.sh && node scripts/bench-www.mjs --write && node scripts/bench-first-verdict.mjs --write
	@bash scripts/wasm-size-floor.sh
	@bash scripts/bench-worker.sh
	@bash scripts/build-embed.sh && EMULATOR_BIN=$${CARGO_TARGET_DIR:-target}/release/pbi-emulator node scripts/bench-portal.mjs
	@bash scripts/fuzz.sh 300

fuzz:
	@bash scripts/fuzz.sh $${SECONDS_TO_FUZZ:-60}

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --exclude embedgate-worker --all-targets --quiet -- -D warnings
	$(CARGO) clippy -p embedgate-wasm --features only-validate --quiet -- -D warnings
