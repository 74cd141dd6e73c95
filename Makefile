# Everyday commands. Each target is a thin name for a script or a cargo command, so CI
# (.ci/run) and a developer run the same thing.
#
#   make fmt          format the workspace
#   make lint         fmt --check, clippy -D warnings, cargo machete, cargo deny (scripts/lint.sh)
#   make test         the whole suite against its real peers (scripts/test.sh starts and stops them)
#   make bench        the criterion benches, then the load benchmark (see BENCHMARKS.md)
#   make up / down    start / stop the real peers for running `cargo test` by hand:
#                     `make up && . target/peers.env && cargo test -p oneclass-clients`
#
# Benchmarks want a quiet machine; BENCHMARKS.md says how the published figures were taken.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Where `make up` leaves the peers' export lines (under target/, which git ignores).
PEERS_ENV := target/peers.env

.PHONY: help fmt lint test bench bench-micro bench-load up down

help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

fmt:
	cargo fmt --all

lint:
	scripts/lint.sh

test:
	scripts/test.sh

bench: bench-micro bench-load

# Criterion micro-benchmarks. The CQL one runs only with ONECLASS_TEST_CQL set (`make up`).
bench-micro:
	cargo bench -p oneclass-protocol --bench codec
	cargo bench -p oneclass-storage --bench append
	cargo bench -p oneclass-storage --bench scylla_append

# Hub against the baseline servers through the load generator; DURATION, WARMUP, TARGETS, …
# pass through the environment (see loadtest/run-bench.sh).
bench-load:
	loadtest/run-bench.sh

up:
	mkdir -p $(dir $(PEERS_ENV))
	{ scripts/python-oracles.sh; scripts/kannel.sh start; scripts/cassandra.sh start; \
	  scripts/smtp.sh start; } > $(PEERS_ENV)
	@echo "peers started; load their addresses with: . $(PEERS_ENV)"

down:
	-scripts/smtp.sh stop
	-scripts/cassandra.sh stop
	-scripts/kannel.sh stop
	rm -f $(PEERS_ENV)
