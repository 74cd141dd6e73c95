#!/usr/bin/env bash
# Paired fan-out throughput of two hub builds (say, before and after a change): the same load
# generator drives each in turn, rounds interleaved, a fresh journal per run. Compare the
# "delivered" and "per million deliveries" lines of OUTDIR/{old,new}-N.txt (medians of the rounds).
# usage: loadtest/compare-hubs.sh OLD_BIN_DIR NEW_BIN_DIR LOADGEN [ROUNDS=3] [OUTDIR=/tmp/paired]
#   e.g. target-old/release target/release target/release/oneclass-loadtest 3
set -euo pipefail
OLD=$1; NEW=$2; LG=$3; ROUNDS=${4:-3}; OUT=${5:-/tmp/paired}
mkdir -p "$OUT"
export ONECLASS_JWT_SECRET=loadtest-bench-secret-0123456789abcdef
# The load generator drives one teacher per class far above a person's pace (hundreds of
# publishes a second); the publish quotas' defaults protect production, so the benchmark lifts them.
export ONECLASS_RATE_LIMITS__USER__PUBLISH__PER_SECOND=1000000 ONECLASS_RATE_LIMITS__USER__PUBLISH__BURST=1000000
export ONECLASS_RATE_LIMITS__SCHOOL_WRITES__PER_SECOND=1000000 ONECLASS_RATE_LIMITS__SCHOOL_WRITES__BURST=1000000
for r in $(seq 1 "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; [ $which = new ] && bin=$NEW
    data=$(mktemp -d)
    ONECLASS_LISTEN=127.0.0.1:18080 ONECLASS_DATA_DIR=$data RUST_LOG=warn "$bin/oneclass-hub" >"$OUT/$which-$r.log" 2>&1 &
    pid=$!
    for i in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
    "$LG" fanout --url ws://127.0.0.1:18080/ws --codec msgpack --schools 1 --classes 20 --clients-per-class 30 \
      --publishers-per-class 1 --payload-bytes 100 --rate 0 --inflight 16 --warmup 2s --duration 5s \
      --hub-pid $pid --json "$OUT/$which-$r.json" > "$OUT/$which-$r.txt" 2>&1 || echo "loadgen failed $which $r"
    kill $pid; wait $pid 2>/dev/null || true; rm -rf "$data"
  done
done
