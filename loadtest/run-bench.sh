#!/usr/bin/env bash
# Runs the same load-generator scenarios against the hub and the baseline peers, one server at a
# time on loopback, and writes one markdown table (plus every JSON report) to $OUT.
#
#   loadtest/run-bench.sh                 # node-ws, bare-actix-ws, and the hub if it is built
#   TARGETS="node-ws bare" loadtest/run-bench.sh
#   DURATION=5s CONNECTIONS=5000 loadtest/run-bench.sh   # shorter
#
# Servers are started as plain commands so their PIDs are known (CPU and memory are read from
# /proc/<pid>), waited for by probing their port, and stopped by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
OUT=${OUT:-$CARGO_TARGET_DIR/bench/$(date +%Y%m%d-%H%M%S)}
SECRET=${ONECLASS_JWT_SECRET:-loadtest-bench-secret-0123456789abcdef}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-15000}
CHECKPOINTS=${CHECKPOINTS:-1000,5000,15000}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.50}
CODEC=${CODEC:-msgpack}
# Throughput: classes of 30, 100-byte messages, one publisher per class.
TP_CLASSES=${TP_CLASSES:-20}
# Fixed rate: 3,000 publishes/s into 100 classes of 30 = 90,000 deliveries/s.
RATE=${RATE:-3000}
RATE_CLASSES=${RATE_CLASSES:-100}
HUB_ADDR=127.0.0.1:8080
NODE_ADDR=127.0.0.1:8091
BARE_ADDR=127.0.0.1:8090

mkdir -p "$OUT"
export ONECLASS_JWT_SECRET=$SECRET
# The load generator drives one teacher per class far above a person's pace (hundreds of
# publishes a second); the publish quotas' defaults protect production, so the benchmark lifts them.
export ONECLASS_RATE_LIMITS__USER__PUBLISH__PER_SECOND=1000000 ONECLASS_RATE_LIMITS__USER__PUBLISH__BURST=1000000
export ONECLASS_RATE_LIMITS__SCHOOL_WRITES__PER_SECOND=1000000 ONECLASS_RATE_LIMITS__SCHOOL_WRITES__BURST=1000000

hub_built() { grep -q "placeholder" "$ROOT/hub/src/main.rs" 2>/dev/null && return 1; [ -f "$ROOT/hub/src/main.rs" ]; }

if [ -z "${TARGETS:-}" ]; then
  TARGETS="node-ws bare"
  if hub_built; then TARGETS="hub $TARGETS"; fi
fi

echo "building (release) into $CARGO_TARGET_DIR" >&2
PKGS="-p oneclass-loadtest -p bare-actix-ws"
case " $TARGETS " in *" hub "*) PKGS="$PKGS -p oneclass-hub" ;; esac
(cd "$ROOT" && cargo build --release $PKGS)
if [ ! -d "$ROOT/loadtest/peers/node-ws/node_modules" ]; then
  (cd "$ROOT/loadtest/peers/node-ws" && npm ci --no-audit --no-fund)
fi

wait_port() {
  local hostport=$1 i
  for i in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server on $hostport did not come up" >&2
  return 1
}

PID=""
stop_server() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi
}
trap stop_server EXIT

start_server() {
  local target=$1
  case $target in
    hub)
      HUB_DATA=$(mktemp -d)
      ONECLASS_DATA_DIR=$HUB_DATA RUST_LOG=${RUST_LOG:-warn} "$BIN/oneclass-hub" >"$OUT/hub.log" 2>&1 &
      PID=$!; ADDR=$HUB_ADDR ;;
    node-ws)
      node "$ROOT/loadtest/peers/node-ws/server.js" "$NODE_ADDR" >"$OUT/node-ws.log" 2>&1 &
      PID=$!; ADDR=$NODE_ADDR ;;
    bare)
      "$BIN/bare-actix-ws" "$BARE_ADDR" >"$OUT/bare.log" 2>&1 &
      PID=$!; ADDR=$BARE_ADDR ;;
  esac
  wait_port "$ADDR"
}

LT="$BIN/oneclass-loadtest"
run() { # name target extra-args...
  local name=$1 target=$2; shift 2
  echo "== $target: $name" >&2
  local rc=0
  "$LT" "$@" --url "ws://$ADDR/ws" --codec "$CODEC" --hub-pid "$PID" --label "$target" \
    --warmup "$WARMUP" --duration "$DURATION" --quiet --json "$OUT/$target-$name.json" \
    >"$OUT/$target-$name.txt" 2>"$OUT/$target-$name.err" || rc=$?
  cat "$OUT/$target-$name.txt" >&2
  echo "exit $rc" >>"$OUT/$target-$name.txt"
}

for target in $TARGETS; do
  # A fresh server for each scenario, so one run's leftovers do not weigh on the next.
  if [ "$target" != bare ]; then
    start_server "$target"
    run fanout-throughput "$target" fanout --schools 1 --classes "$TP_CLASSES" --clients-per-class 30 \
      --publishers-per-class 1 --payload-bytes 100 --rate 0 --inflight 16
    stop_server
    start_server "$target"
    run fanout-rate "$target" fanout --schools 1 --classes "$RATE_CLASSES" --clients-per-class 30 \
      --publishers-per-class 1 --payload-bytes 100 --rate "$RATE" --source-ips "$SOURCE_IPS"
    stop_server
    start_server "$target"
    run chat "$target" chat --pairs 50 --payload-bytes 100
    if [ "$target" = hub ]; then
      run notify "$target" notify --schools 1 --classes 2 --clients-per-class 50 --rate 200
    fi
    stop_server
  fi
  start_server "$target"
  extra=""; [ "$target" = bare ] && extra="--ws-only"
  run connect "$target" connect --connections "$CONNECTIONS" --checkpoints "$CHECKPOINTS" \
    --source-ips "$SOURCE_IPS" --schools 10 --classes 50 --clients-per-class 30 $extra
  stop_server
done

python3 "$ROOT/loadtest/bench-table.py" "$OUT" "$TARGETS" | tee "$OUT/table.md"
echo "reports in $OUT" >&2
