#!/usr/bin/env bash
# Publish latency with and without the journal's WAL bounds (issue 9, M1), one hub binary: the
# "before" runs set journal.wal_checkpoint_bytes and journal.wal_max_bytes to 0 (passive
# checkpoints only, the old behaviour), the "after" runs keep the defaults. Rounds interleave, a
# fresh journal per run; each run's text summary (accept = publish acknowledged, latency =
# delivered) and the WAL's size when the load stops go to OUTDIR/{before,after}-N.txt.
# usage: loadtest/compare-wal.sh BIN_DIR [ROUNDS=2] [OUTDIR=/tmp/wal-bench] [RATE=2000] [DURATION=20s]
#   e.g. loadtest/compare-wal.sh target/release 2
set -euo pipefail
BIN=$1; ROUNDS=${2:-2}; OUT=${3:-/tmp/wal-bench}; RATE=${4:-2000}; DURATION=${5:-20s}
mkdir -p "$OUT"
export ONECLASS_JWT_SECRET=loadtest-bench-secret-0123456789abcdef
for r in $(seq 1 "$ROUNDS"); do
  for which in before after; do
    data=$(mktemp -d)
    bounds=()
    [ $which = before ] && bounds=(ONECLASS_JOURNAL__WAL_CHECKPOINT_BYTES=0 ONECLASS_JOURNAL__WAL_MAX_BYTES=0)
    env "${bounds[@]}" ONECLASS_LISTEN=127.0.0.1:18080 ONECLASS_DATA_DIR=$data RUST_LOG=warn \
      "$BIN/oneclass-hub" >"$OUT/$which-$r.log" 2>&1 &
    pid=$!
    for i in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
    "$BIN/oneclass-loadtest" fanout --url ws://127.0.0.1:18080/ws --codec msgpack --schools 1 \
      --classes 20 --clients-per-class 10 --publishers-per-class 1 --payload-bytes 1000 \
      --rate "$RATE" --warmup 2s --duration "$DURATION" --hub-pid $pid \
      --json "$OUT/$which-$r.json" > "$OUT/$which-$r.txt" 2>&1 || echo "loadgen failed $which $r"
    echo "wal_bytes_at_end $(stat -c %s "$data/journal.db-wal" 2>/dev/null || echo 0)" >> "$OUT/$which-$r.txt"
    kill $pid; wait $pid 2>/dev/null || true; rm -rf "$data"
  done
done
grep -H -E "accept ms|latency ms|wal_bytes_at_end" "$OUT"/*.txt
