# The commands a user types. Tools come from PyPI, pinned, into .venv/ (ignored by git).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_LAMBDA_VERSION := 1.9.2
CFN_LINT_VERSION := 1.58.0
CFN_LINT_SERVERLESS_VERSION := 0.3.6
MOTO_VERSION := 5.2.5

VENV := .venv
TOOLS := $(VENV)/.tools-cargo-lambda-$(CARGO_LAMBDA_VERSION)-cfn-lint-$(CFN_LINT_VERSION)-serverless-$(CFN_LINT_SERVERLESS_VERSION)-moto-$(MOTO_VERSION)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: sam help tools demo failures test lint unit doctor doctor-check invoke-check invoke outside crash template bench bench-runner bench-exactly-once build deploy clean audit redrive msrv package examples new starter

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(TOOLS):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
		cargo-lambda==$(CARGO_LAMBDA_VERSION) cfn-lint==$(CFN_LINT_VERSION) \
		cfn-lint-serverless==$(CFN_LINT_SERVERLESS_VERSION) 'moto[server]==$(MOTO_VERSION)'
	touch $@

tools: $(TOOLS) ## Install cargo-lambda, cfn-lint (with the serverless rules) and moto (pinned) into .venv

demo: $(TOOLS) ## The main job on local defaults: the handlers on live local streams through the runner, tables checked
	scripts/with-moto cargo run --locked --quiet -p handlers --example demo

failures: $(TOOLS) ## Invoke the fault-injection function with every fixture and show each answer and why
	python3 tests/lambda_invoke.py --show

test: lint unit template doctor-check invoke-check invoke outside crash demo msrv package examples starter ## Everything CI runs: lints, docs, tests, template, runtime checks, the demo, the crate as published, the examples, the starter

lint: ## cargo fmt, clippy (every feature, and the framework with each feature alone, as users build it) and rustdoc, warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
	for features in "" dynamodb runner redrive testing; do \
		cargo clippy --locked -p ddbstream $${features:+--features $$features} -- -D warnings || exit 1; done
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

unit: $(TOOLS) ## Unit, property and workspace tests; DynamoDB tests against moto on 127.0.0.1
	scripts/with-moto cargo test --workspace --all-features --locked

TEMPLATE ?= $(CURDIR)/template.yaml

template: $(TOOLS) ## Check a SAM template offline: cfn-lint with the serverless rules, then the project's invariants [TEMPLATE=<path>, default template.yaml]
	cfn-lint --non-zero-exit-code informational --append-rules cfn_lint_serverless.rules -- "$(TEMPLATE)"
	$(VENV)/bin/python tests/template_invariants.py "$(TEMPLATE)"
	$(VENV)/bin/python tests/template_invariants_selftest.py

invoke-check: $(TOOLS) ## Invoke the fault-injection function through the real Lambda runtime interface, one at a time and four at once
	python3 tests/lambda_invoke.py
	python3 tests/lambda_concurrency.py

invoke: $(TOOLS) ## Run the functions under `cargo lambda watch` against a local DynamoDB, invoke each with its stream, show the tables
	scripts/with-moto $(VENV)/bin/python tests/invoke_handlers.py

outside: $(TOOLS) ## The README's "Your own function, locally" from a crate outside the repository
	$(VENV)/bin/python tests/outside_crate.py

msrv: ## The declared rust-version is true: the toolchain is that version (scripts/check-msrv), and the framework builds with it, every feature on
	scripts/check-msrv
	cargo build --locked -p ddbstream --all-features

package: ## The framework as crates.io would get it: `cargo publish --dry-run` (packaged, built alone from the package, nothing uploaded), then the files it holds
	cargo publish --dry-run --locked -p ddbstream --allow-dirty
	cargo package --locked -p ddbstream --allow-dirty --list

examples: $(TOOLS) ## Run the framework's examples (framework/examples/; each checks what it shows; fifo_effect against moto)
	scripts/run-examples

# A new function crate builds against this checkout until ddbstream is published:
# `DDBSTREAM_PATH= make new NAME=...` makes one that uses the published crate.
DDBSTREAM_PATH ?= $(CURDIR)/framework

new: ## A new function crate from starter/, outside the repository: NAME=<name> [DIR=<parent directory, default ..>]
	@test -n "$(NAME)" || { echo "make new NAME=<name> [DIR=<parent directory, default ..>]"; exit 2; }
	DDBSTREAM_PATH="$(DDBSTREAM_PATH)" scripts/new-function "$(NAME)" $(if $(DIR),"$(DIR)",)

starter: $(TOOLS) ## make new's crate, made outside the repository: its template passes the checks (and fails them without ReportBatchItemFailures), its tests pass, cargo lambda invoke answers with its fixture
	python3 tests/starter.py

crash: $(TOOLS) ## Kill -9 the stream runner at random points over 2,000 writes (moto), restart it; then kill an owner and watch its standby take over; nothing lost, order kept, duplicates bounded
	cargo build --locked --quiet -p handlers --example crash_runner
	scripts/with-moto $(VENV)/bin/python tests/runner_crash.py

doctor: $(TOOLS) ## Check a deployed function's event source mappings for settings that lose, repeat, skip or stall records: FUNCTION=<name> [WINDOWS=yes|no] (exit 1 on data loss)
	@test -n "$(FUNCTION)" || { echo "make doctor FUNCTION=<name or ARN> [WINDOWS=yes|no: its router has a window route]"; exit 2; }
	scripts/doctor "$(FUNCTION)" $(if $(WINDOWS),--windows "$(WINDOWS)",)

doctor-check: $(TOOLS) ## doctor against moto's Lambda API: a mapping per bad setting, each named with its severity and exit status, and a good one that passes
	scripts/with-moto $(VENV)/bin/python tests/doctor.py

redrive: ## Run a failure destination's records through a function's router again: FUNCTION=<name> BUCKET=<bucket> [PREFIX=<prefix>] or QUEUE=<url> [FORCE=1: run effects whose claims may have expired]
	@test -n "$(FUNCTION)" || { echo "make redrive FUNCTION=<name> BUCKET=<bucket> [PREFIX=<prefix>] | QUEUE=<queue url> [FORCE=1]"; exit 2; }
	cargo run --quiet --release --locked -p redrive -- --function "$(FUNCTION)" \
		$(if $(BUCKET),--bucket "$(BUCKET)" --prefix "$(PREFIX)",) $(if $(QUEUE),--queue "$(QUEUE)",) $(if $(FORCE),--force,)

bench-exactly-once: $(TOOLS) ## ExactlyOnce at shard speed: 1,000 changes, three workloads, each contender, through a latency proxy at 0/5/10 ms (alone, and in front of moto with the totals checked)
	scripts/with-moto $(VENV)/bin/python scripts/bench_exactly_once.py

bench-runner: $(TOOLS) ## The runner catching up a 3,000-record backlog on moto, read-ahead off and on, interleaved
	cargo build --release --locked --quiet -p handlers --example runner_backlog
	scripts/with-moto target/release/examples/runner_backlog

MATPLOTLIB_VERSION := 3.10.7
BENCH_TOOLS := $(VENV)/.matplotlib-$(MATPLOTLIB_VERSION)

$(BENCH_TOOLS): $(TOOLS)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check matplotlib==$(MATPLOTLIB_VERSION)
	touch $@

bench: $(BENCH_TOOLS) ## Benchmarks: end to end through the Runtime API, decoding, memory, concurrency, start-up; tables and docs/benchmarks.png
	cargo bench --locked -p ddbstream --bench decode --bench concurrency --bench memory
	cargo build --release --locked -p handlers --bin orders-projector
	cargo build --release --locked -p ddbstream --example e2e
	$(VENV)/bin/python scripts/bench_e2e.py
	$(VENV)/bin/python scripts/bench_startup.py target/release/orders-projector
	$(VENV)/bin/python scripts/bench_chart.py
	$(MAKE) bench-exactly-once

build: $(TOOLS) ## Build the release Lambda bootstraps for arm64 and report their sizes
	rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 --locked --package handlers
	@for f in target/lambda/*/bootstrap; do printf '%-40s %8s KiB\n' "$$f" "$$(( $$(stat -c %s "$$f") / 1024 ))"; done

CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := .tools/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny

$(CARGO_DENY):
	cargo install --locked --quiet cargo-deny --version $(CARGO_DENY_VERSION) --root .tools/cargo-deny-$(CARGO_DENY_VERSION)

audit: $(CARGO_DENY) ## cargo deny: licenses, bans and sources (deny.toml); crates per handler binary
	$(CARGO_DENY) --manifest-path Cargo.toml check licenses bans sources
	@printf 'crates linked into every handler binary (cargo tree -p handlers -e normal): %s\n' \
		"$$(cargo tree --locked -p handlers -e normal --prefix none | sed 's/ (\*)//' | sort -u | wc -l)"

SAM_VERSION := 1.170.0
SAM := $(VENV)/.sam-$(SAM_VERSION)

$(SAM): $(TOOLS)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION)
	touch $@

sam: $(SAM) ## Install aws-sam-cli (pinned) into .venv/bin, and nothing else (a new function's template deploys with it)

deploy: $(SAM) ## sam build, then sam deploy --guided (needs AWS credentials; not run in CI)
	$(VENV)/bin/sam build --beta-features
	$(VENV)/bin/sam deploy --guided

clean: ## Remove build output and installed tools
	cargo clean
	rm -rf $(VENV)
