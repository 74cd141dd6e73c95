#!/usr/bin/env bash
# Starts (or stops) a real SMTP server on loopback for the clients' real-peer e-mail test:
# Debian's python3-aiosmtpd with its Maildir handler, so a test can read what was delivered.
#
#   eval "$(scripts/smtp.sh start)"   # prints export lines for ONECLASS_TEST_SMTP{,_MAILDIR}
#   scripts/smtp.sh stop              # stops what start started (PID kept in the state dir)
#
# Installs python3-aiosmtpd when it is missing and runs it under Debian's own interpreter
# (/usr/bin/python3; a python3 earlier on PATH may not see Debian's packages). Readiness is
# detected by probing the port, never by fixed sleeps. The log goes to the state dir.
set -euo pipefail

STATE_DIR="${ONECLASS_SMTP_DIR:-/tmp/oneclass-smtp}"
PORT="${ONECLASS_SMTP_PORT:-2525}"
MAILDIR="$STATE_DIR/Maildir"
PY=/usr/bin/python3

log() { echo "smtp.sh: $*" >&2; }

# port_open, await_port, stop
source "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

install_if_missing() {
  if [[ -x $PY ]] && "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    return 0
  fi
  log "installing python3-aiosmtpd"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends python3-aiosmtpd >&2
}

start() {
  install_if_missing
  mkdir -p "$STATE_DIR"
  if [[ -f $STATE_DIR/pid ]]; then
    log "already started (found $STATE_DIR/pid); stopping the old one first"
    stop
  fi
  if port_open "$PORT"; then
    log "port $PORT is already in use"
    exit 1
  fi
  rm -rf "$MAILDIR"
  mkdir -p "$MAILDIR"/{cur,new,tmp}
  # -n: do not drop privileges (needed as root); Mailbox writes one file per message.
  "$PY" -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" \
    >"$STATE_DIR/aiosmtpd.log" 2>&1 &
  echo "$!" >"$STATE_DIR/pid"
  if await_port "$PORT" 200; then
    log "ready: smtp on 127.0.0.1:$PORT, maildir $MAILDIR"
    echo "export ONECLASS_TEST_SMTP=127.0.0.1:$PORT"
    echo "export ONECLASS_TEST_SMTP_MAILDIR=$MAILDIR"
    return 0
  fi
  log "aiosmtpd did not open port $PORT; see $STATE_DIR/aiosmtpd.log"
  tail -n 30 "$STATE_DIR/aiosmtpd.log" >&2 || true
  stop
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
