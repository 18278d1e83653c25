# vineyard-rs developer and CI entry points. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# The test steps run in the order given, even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
# Where the vineyardd for `make run` listens.
SOCKET ?= /tmp/vineyard.sock
# Extra vineyardd flags for `make run`, e.g. ARGS="--size 4Gi".
ARGS ?=

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
VENV := .venv/interop
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
INTEROP_REQUIREMENTS := tests/interop/requirements.txt

step = @printf '\n==> %s\n' "$(1)"

.PHONY: help run build test lint test-rust test-interop venv bench clean-venv

help: ## List the targets
	@echo "usage: make TARGET [SOCKET=/tmp/vineyard.sock] [ARGS='--size 4Gi']"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-13s %s\n", $$1, $$2}'

run: ## Build (release) and run vineyardd on SOCKET with the embedded local metadata store
	$(call step,cargo build --release vineyardd)
	cargo build --release -p vineyard-core --bin vineyardd
	$(call step,vineyardd --socket $(SOCKET) $(ARGS))
	$(TARGET_DIR)/release/vineyardd --socket $(SOCKET) $(ARGS)

build: ## Build the debug vineyardd used by the interop tests
	$(call step,cargo build vineyardd)
	cargo build -p vineyard-core --bin vineyardd

test: lint test-rust test-interop ## Run everything CI runs: lint, Rust tests, interop tests

lint: $(VENV_STAMP) ## cargo fmt --check, clippy -D warnings, ruff on the Python
	$(call step,cargo fmt --check)
	cargo fmt --all -- --check
	$(call step,cargo clippy -D warnings)
	cargo clippy --workspace --all-targets -- -D warnings
	$(call step,ruff)
	$(VENV)/bin/ruff check tests/interop
	$(VENV)/bin/ruff format --check tests/interop

test-rust: ## cargo test for the whole workspace
	$(call step,cargo test --workspace)
	cargo test --workspace

test-interop: $(VENV_STAMP) build ## Drive our vineyardd with the real pip client vineyard==0.24.2
	$(call step,pytest tests/interop)
	VINEYARDD=$(abspath $(TARGET_DIR))/debug/vineyardd $(VENV_PY) -m pytest tests/interop -q

venv: $(VENV_STAMP) ## Create or update the interop virtualenv .venv/interop

$(VENV_STAMP): $(INTEROP_REQUIREMENTS)
	$(call step,virtualenv $(VENV))
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r $(INTEROP_REQUIREMENTS)
	touch $@

bench: ## Run the criterion benchmarks of vineyard-core
	cargo bench -p vineyard-core

clean-venv: ## Remove the interop virtualenv
	rm -rf $(VENV)
