#!/usr/bin/env bash
# Starts (or stops) kent, a fake Sentry server (PyPI `kent`), on loopback for the hub's
# error-tracking test (hub/tests/it/error_tracking.rs).
#
#   eval "$(scripts/kent.sh start)"   # prints: export ONECLASS_TEST_SENTRY_URL=http://127.0.0.1:<port>
#   scripts/kent.sh stop              # stops what start started (PID kept in the state dir)
#
# kent lives in the venv scripts/python-oracles.sh makes (created or completed here when needed).
# It keeps received events in memory and serves them at /api/eventlist/ and /api/event/<id>; it
# checks no authentication, which the test checks itself. Readiness is detected by probing the
# port, never by fixed sleeps. The log goes to the state dir.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR="${ONECLASS_KENT_DIR:-/tmp/oneclass-kent}"
PORT="${ONECLASS_KENT_PORT:-5611}"
VENV="${ONECLASS_PY_VENV:-/tmp/oneclass-py-oracles}"

log() { echo "kent.sh: $*" >&2; }

# port_open, await_port, stop
source "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

start() {
  scripts/python-oracles.sh >/dev/null
  mkdir -p "$STATE_DIR"
  if [[ -f $STATE_DIR/pid ]]; then
    log "already started (found $STATE_DIR/pid); stopping the old one first"
    stop
  fi
  if port_open "$PORT"; then
    log "port $PORT is already in use"
    exit 1
  fi
  "$VENV/bin/kent-server" run --host 127.0.0.1 --port "$PORT" >"$STATE_DIR/kent.log" 2>&1 &
  echo "$!" >"$STATE_DIR/pid"
  if await_port "$PORT" 400; then
    log "ready: kent on http://127.0.0.1:$PORT"
    echo "export ONECLASS_TEST_SENTRY_URL=http://127.0.0.1:$PORT"
    return 0
  fi
  log "kent did not open port $PORT; see $STATE_DIR/kent.log"
  tail -n 30 "$STATE_DIR/kent.log" >&2 || true
  stop
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
