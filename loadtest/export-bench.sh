#!/usr/bin/env bash
# Export benchmark: seeds a journal with N events (default 1,000,000), starts the hub on it, and
# streams `GET /v1/journal/export` (NDJSON, then CSV) to /dev/null while sampling the hub's RSS
# from /proc every 100 ms. Reports rows/s and the hub's RSS before, at peak and after, so flat
# memory (or not) is visible. Against the embedded journal; `ONECLASS_JOURNAL=scylla://…` in the
# environment runs the hub on a CQL journal instead (seed that one through the hub).
#
#   CARGO_TARGET_DIR=target EVENTS=1000000 loadtest/export-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-1000000}"
TARGET="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d /tmp/oneclass-export.XXXXXX)"
SECRET="export-bench-secret-0123456789"
trap 'kill "${HUB:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p oneclass-hub -p oneclass-loadtest --bin oneclass-hub --bin seed-journal
"$TARGET/release/seed-journal" --data-dir "$WORK" --events "$EVENTS" >&2

ONECLASS_DATA_DIR="$WORK" ONECLASS_JWT_SECRET="$SECRET" ONECLASS_LISTEN=127.0.0.1:0 \
  "$TARGET/release/oneclass-hub" > "$WORK/out" 2>/dev/null &
HUB=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
ADDR="$(sed -n 's/^listening on //p' "$WORK/out")"
TOKEN="$(ONECLASS_DATA_DIR="$WORK" ONECLASS_JWT_SECRET="$SECRET" "$TARGET/release/oneclass-hub" \
  token --user analyst --school s1 --role analyst)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$HUB/status"; }

run() {
  local format=$1 peak base start end bytes
  base=$(rss); peak=$base
  start=$(date +%s.%N)
  curl -s -o /dev/null -w '%{size_download}' -H "Authorization: Bearer $TOKEN" \
    "http://$ADDR/v1/journal/export?school=s1&from=2000-01-01&to=2100-01-01&format=$format" \
    > "$WORK/bytes" &
  local curl_pid=$!
  while kill -0 "$curl_pid" 2>/dev/null; do
    local now; now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
  done
  wait "$curl_pid"
  end=$(date +%s.%N)
  bytes=$(cat "$WORK/bytes")
  awk -v f="$format" -v n="$EVENTS" -v s="$start" -v e="$end" -v b="$base" -v p="$peak" -v a="$(rss)" -v by="$bytes" \
    'BEGIN { t = e - s; printf "| %s | %d | %.1f s | %.0f rows/s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n", f, n, t, n / t, by / 1048576, b / 1024, p / 1024, a / 1024 }'
}

echo "| format | rows | time | rows/s | bytes out | hub RSS before | peak | after |"
echo "|---|---|---|---|---|---|---|---|"
run ndjson
run csv
