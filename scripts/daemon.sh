# Sourced by the scripts that run one background server with a PID file (smtp.sh, kent.sh):
# the port probe, the wait for readiness, and the stop. The caller sets STATE_DIR and defines
# log(); the server's PID is kept in $STATE_DIR/pid. Readiness is a port that accepts a
# connection, never a fixed sleep.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# await_port PORT TRIES: waits (TRIES × 50 ms at most) until PORT accepts a connection; fails at
# once if the server's process has died.
await_port() {
  local port=$1 tries=$2
  for _ in $(seq 1 "$tries"); do
    port_open "$port" && return 0
    kill -0 "$(cat "$STATE_DIR/pid")" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop: ends the server whose PID is in $STATE_DIR/pid (TERM, 2 s grace, then KILL).
stop() {
  [[ -f $STATE_DIR/pid ]] || return 0
  local pid
  pid="$(cat "$STATE_DIR/pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$STATE_DIR/pid"
  log "stopped"
}
