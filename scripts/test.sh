#!/usr/bin/env bash
# Runs the whole test suite against its real peers: a Python venv with the official Paynow SDK
# (an oracle of Paynow's format), a real Kannel SMS gateway and a fake Sentry (kent) on loopback, then
# `cargo test --workspace --all-features`. Extra arguments go to cargo test.
#
# Tests that need a peer read its address from an environment variable; without it they print a
# SKIPPED notice, except under CI=true, where a missing peer fails the test.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/python-oracles.sh)"
eval "$(scripts/kannel.sh start)"
trap 'scripts/kent.sh stop >/dev/null 2>&1 || true; scripts/kannel.sh stop >/dev/null 2>&1 || true; scripts/smtp.sh stop >/dev/null 2>&1 || true; scripts/cassandra.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/cassandra.sh start)"
eval "$(scripts/smtp.sh start)"
eval "$(scripts/kent.sh start)"

# The chat page is tested in Debian's Chromium, driven by playwright-core from npm.
if command -v chromium >/dev/null && command -v npm >/dev/null; then
  (cd tests/browser && npm ci --silent --no-audit --no-fund >&2)
  export ONECLASS_TEST_BROWSER=1
fi

cargo test --workspace --all-features --no-fail-fast "$@"
