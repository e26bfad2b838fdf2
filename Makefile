# faultlens task runner. CI calls `make test` through .ci/run.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
export CARGO_TARGET_DIR ?= $(HOME)/.cache/faultlens/target
export CARGO_TERM_COLOR ?= never
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/debug/faultlens
# The tests cover the optional features too (polars: DORA over DataFrames). One feature set for
# every step, so each profile builds the workspace once.
TEST_FEATURES ?= --features faultlens-verify/polars,faultlens-benches/polars
SHARED ?= ../shared

.PHONY: demo test deps fmt fmt-check clippy unit doctest doc-check build-extra fuzz-build fuzz bench eval eval-rca eval-canary eval-preflight schema state-fixture demo-bundles clean

## Run the analysis on the bundled demo incident, then plan, gate, approve, dry-run and audit
## its fix (no external services).
demo:
	$(CARGO) build -q --workspace --bins
	$(BIN) demo --bundle examples/bundles/bad-deploy
	@echo
	@echo "=============== remediation ==============="
	examples/remediation/demo.sh $(BIN)

## Install what the tests need, then run every check and test.
test: deps fmt-check clippy doc-check doctest build-extra fuzz-build unit

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

## Tools the tests need (idempotent): cargo-nextest, promtool (Debian's prometheus package) for
## the SLO rule tests, and shellcheck for the generated scripts.
deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo is required"; exit 1; }
	@$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-nextest
	@command -v promtool >/dev/null || { echo "installing Debian's prometheus package (promtool)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v shellcheck >/dev/null || { echo "installing Debian's shellcheck package"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
	@command -v ansible-playbook >/dev/null || { echo "installing Debian's ansible-core package (ansible-playbook --syntax-check)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core >/dev/null; }
	@[ -d $(SHARED)/data ] || echo "NOTE: $(SHARED)/data is absent; checks on the shared benchmark data will be skipped"

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked $(TEST_FEATURES) -- -D warnings

## Unit, integration and property tests (nextest); ends with a plain `N passed, N failed` line.
## Property tests run from a fixed seed so that CI is deterministic; set PROPTEST_RNG_SEED to
## explore others.
unit:
	FAULTLENS_SHARED=$(abspath $(SHARED)) FAULTLENS_REQUIRE_TOOLS=1 PROPTEST_RNG_SEED=$${PROPTEST_RNG_SEED:-20261127} $(CARGO) nextest run --workspace --lib --bins --tests --locked $(TEST_FEATURES) --no-fail-fast 2>&1 | tee $(CARGO_TARGET_DIR)/nextest.log
	@grep -oE '[0-9]+ tests run: [0-9]+ passed' $(CARGO_TARGET_DIR)/nextest.log | tail -1 | awk '{print $$4 " passed, 0 failed"}'

## README and API examples.
doctest:
	$(CARGO) test --workspace --doc --locked $(TEST_FEATURES)

doc-check:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked $(TEST_FEATURES)

## Benches and examples must build and run once (test mode), so they never rot.
build-extra:
	$(CARGO) test --workspace --benches --locked $(TEST_FEATURES)
	$(CARGO) build --workspace --bins --locked $(TEST_FEATURES)
	$(CARGO_TARGET_DIR)/debug/faultlens-example-quickstart examples/bundles/bad-deploy > /dev/null
	$(CARGO_TARGET_DIR)/debug/faultlens-example-canary-eval 2 > /dev/null

## Fuzz targets are built, not run, in CI (stable toolchain, no sanitizer flags).
fuzz-build:
	$(CARGO) build --manifest-path fuzz/Cargo.toml --locked --bins

## Run one fuzz target with cargo-fuzz on nightly: make fuzz TARGET=prometheus_query_range
fuzz:
	cargo +nightly fuzz run $(TARGET) -- -max_total_time=60

bench:
	$(CARGO) bench -p faultlens-benches --features polars

## Accuracy on the shared benchmark subsets (skipped with a message when ../shared is absent).
eval:
	$(CARGO) build --release -q -p faultlens-cli
	@echo "== NAB dev, streaming (causal) mode"
	scripts/nab-eval.sh $(CARGO_TARGET_DIR)/release/faultlens
	@echo "== NAB dev, batch mode"
	NAB_MODE=batch scripts/nab-eval.sh $(CARGO_TARGET_DIR)/release/faultlens
	@echo "== loghub-2k dev: template mining (GA against the original labels, PA against the corrected ones)"
	scripts/loghub-eval.sh $(CARGO_TARGET_DIR)/release/faultlens
	$(MAKE) eval-rca
	$(MAKE) eval-canary
	$(MAKE) eval-preflight
	@echo "== Gatekeeper library dev suites"
	@if [ -d $(SHARED)/data/gatekeeper-dev ]; then $(CARGO_TARGET_DIR)/release/faultlens policy verify $(SHARED)/data/gatekeeper-dev/library; \
	  else echo "SKIPPED: $(SHARED)/data/gatekeeper-dev is absent"; fi

## Canary judge on the simulator's labelled corpus (2,000 cases): false pass and false block,
## against Kayenta's rule alone.
eval-canary:
	$(CARGO) run --release -q -p faultlens-example-canary-eval -- 200 1

## Preflight's policy gate on the simulator's labelled plan corpus (2,000 cases): false pass,
## false block and exact-rule agreement.
eval-preflight:
	FAULTLENS_PLAN_CORPUS=2000 $(CARGO) test --release -q -p faultlens-remediate --test plan_corpus -- --nocapture

## Root-cause accuracy: every rca-dev set, petshop without changes, and a simulated suite of 200
## incidents (seed 2, generated into a temporary directory), with calibration tables.
eval-rca:
	$(CARGO) build --release -q -p faultlens-cli
	@echo "== rca-dev sockshop1"
	scripts/rca-eval.sh $(SHARED)/data/rca-dev/sockshop1 $(CARGO_TARGET_DIR)/release/faultlens
	@echo "== rca-dev petshop"
	scripts/rca-eval.sh $(SHARED)/data/rca-dev/petshop $(CARGO_TARGET_DIR)/release/faultlens
	@echo "== rca-dev petshop, changes left out (metrics and topology only)"
	scripts/rca-eval.sh $(SHARED)/data/rca-dev/petshop $(CARGO_TARGET_DIR)/release/faultlens -- --no-changes
	@echo "== simulated suite: 200 incidents, seed 2, every fault kind"
	d=$$(mktemp -d) && $(CARGO_TARGET_DIR)/release/faultlens sim suite --count 200 --seed 2 --out $$d/suite >/dev/null \
	  && RCA_SCORE_ARGS="--by fault" SHARED=$(SHARED) scripts/rca-eval.sh $$d/suite $(CARGO_TARGET_DIR)/release/faultlens; rm -rf $$d

## Regenerate the committed JSON Schema of the manifest.
schema:
	FAULTLENS_UPDATE_SCHEMA=1 $(CARGO) test -q -p faultlens-core --test bundle json_schema_has_not_drifted

## Regenerate the saved streaming-detector state the tests pin, after bumping STATE_FORMAT.
state-fixture:
	FAULTLENS_UPDATE_STATE_FIXTURE=1 $(CARGO) test -q -p faultlens-detect --test metrics saved_state_layout_is_pinned_to_its_format

## Regenerate the committed demo bundles from the simulator.
demo-bundles:
	$(CARGO) build -q --workspace --bins
	rm -rf examples/bundles/bad-deploy examples/bundles/innocent-latest-change examples/bundles/memory-leak
	$(BIN) sim --seed 1 --scenario bad-deploy --out examples/bundles/bad-deploy
	$(BIN) sim --seed 2 --scenario innocent-latest-change --out examples/bundles/innocent-latest-change
	$(BIN) sim --seed 3 --scenario memory-leak --out examples/bundles/memory-leak

clean:
	$(CARGO) clean
