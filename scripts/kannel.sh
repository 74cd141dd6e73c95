#!/usr/bin/env bash
# Starts (or stops) a real Kannel on loopback for the clients' real-peer tests:
# bearerbox + a fake SMSC (fakesmsc, receive only) + smsbox.
#
#   eval "$(scripts/kannel.sh start)"   # prints export lines for ONECLASS_TEST_KANNEL{,_USER,_PASS}
#   scripts/kannel.sh stop              # stops what start started (PIDs kept in the state dir)
#
# Installs the Debian packages kannel and kannel-extras when they are missing. Readiness is
# detected by probing ports, never by fixed sleeps. Logs go to the state dir and to stderr.
set -euo pipefail

STATE_DIR="${ONECLASS_KANNEL_DIR:-/tmp/oneclass-kannel}"
ADMIN_PORT="${ONECLASS_KANNEL_ADMIN_PORT:-13000}"
BOX_PORT="${ONECLASS_KANNEL_BOX_PORT:-13001}"
SENDSMS_PORT="${ONECLASS_KANNEL_SENDSMS_PORT:-13013}"
SMSC_PORT="${ONECLASS_KANNEL_SMSC_PORT:-10000}"
USER_NAME=tester
USER_PASS=foobar
ADMIN_PASS=oneclass-admin
FAKESMSC=/usr/lib/kannel/test/fakesmsc

log() { echo "kannel.sh: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 200); do
    port_open "$port" && return 0
    sleep 0.05
  done
  log "$what did not open port $port; see $STATE_DIR/*.log"
  tail -n 30 "$STATE_DIR"/*.log >&2 || true
  return 1
}

install_if_missing() {
  if [[ -x /usr/sbin/bearerbox && -x /usr/sbin/smsbox && -x $FAKESMSC ]]; then
    return 0
  fi
  log "installing kannel and kannel-extras"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends kannel kannel-extras >&2
}

write_config() {
  cat >"$STATE_DIR/kannel.conf" <<CONF
group = core
admin-port = $ADMIN_PORT
admin-password = $ADMIN_PASS
status-password = $ADMIN_PASS
admin-interface = 127.0.0.1
smsbox-port = $BOX_PORT
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
admin-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "$STATE_DIR/bearerbox.log"
log-level = 1

group = smsc
smsc = fake
smsc-id = FAKE
port = $SMSC_PORT
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $BOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = 127.0.0.1
global-sender = ONECLASS
http-request-retry = 5
http-queue-delay = 1
log-file = "$STATE_DIR/smsbox.log"
log-level = 1

group = sendsms-user
username = $USER_NAME
password = $USER_PASS
max-messages = 10
CONF
}

start() {
  install_if_missing
  mkdir -p "$STATE_DIR"
  if [[ -f $STATE_DIR/pids ]]; then
    log "already started (found $STATE_DIR/pids); stopping the old one first"
    stop
  fi
  for port in "$ADMIN_PORT" "$BOX_PORT" "$SENDSMS_PORT" "$SMSC_PORT"; do
    if port_open "$port"; then
      log "port $port is already in use"
      exit 1
    fi
  done
  write_config
  : >"$STATE_DIR/pids"
  /usr/sbin/bearerbox "$STATE_DIR/kannel.conf" >"$STATE_DIR/bearerbox.out" 2>&1 &
  echo "$!" >>"$STATE_DIR/pids"
  wait_port "$BOX_PORT" bearerbox
  wait_port "$SMSC_PORT" "bearerbox fake smsc listener"
  # Receive only (-m 0): prints each message bearerbox hands it.
  "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -i 1 -m 0 "x y text z" >"$STATE_DIR/fakesmsc.log" 2>&1 &
  echo "$!" >>"$STATE_DIR/pids"
  /usr/sbin/smsbox "$STATE_DIR/kannel.conf" >"$STATE_DIR/smsbox.out" 2>&1 &
  echo "$!" >>"$STATE_DIR/pids"
  wait_port "$SENDSMS_PORT" smsbox
  log "ready: sendsms on 127.0.0.1:$SENDSMS_PORT"
  echo "export ONECLASS_TEST_KANNEL=http://127.0.0.1:$SENDSMS_PORT"
  echo "export ONECLASS_TEST_KANNEL_USER=$USER_NAME"
  echo "export ONECLASS_TEST_KANNEL_PASS=$USER_PASS"
}

stop() {
  [[ -f $STATE_DIR/pids ]] || return 0
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/shutdown?password=$ADMIN_PASS" >/dev/null 2>&1 || true
  for _ in $(seq 1 40); do
    alive=0
    while read -r pid; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done <"$STATE_DIR/pids"
    [[ $alive == 0 ]] && break
    sleep 0.05
  done
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$STATE_DIR/pids"
  rm -f "$STATE_DIR/pids"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
