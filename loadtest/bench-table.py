#!/usr/bin/env python3
"""Turns the JSON reports run-bench.sh wrote into one markdown table (stdout)."""
import json
import os
import sys

out, targets = sys.argv[1], sys.argv[2].split()
JOURNAL = {"hub": "yes (durable)", "node-ws": "**none**", "bare": "n/a"}
NAMES = {"hub": "OneClass hub", "node-ws": "node-ws (no journal)", "bare": "bare actix-ws"}


def load(target, name):
    path = os.path.join(out, f"{target}-{name}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mem_at(report, n):
    for m in (report or {}).get("memory", []):
        if m["connections"] >= n * 0.98 and m["connections"] <= n:
            return m["bytes_per_connection"]
    return None


def fmt(v, spec="{:,.0f}"):
    return "–" if v is None else spec.format(v)


rows = []
bare = load("bare", "connect")
header = ("| server | journal | delivered msgs/s (throughput) | server CPU s / M deliveries "
          "| p50 / p99 / p99.9 ms @ fixed rate | memory per idle conn 1k / 5k / 15k (ratio to bare) "
          "| connects/s | DM round trip p50 / p99 ms | gaps+dups+reorders | errors |")
print(header)
print("|---|---|---|---|---|---|---|---|---|---|")
for t in targets:
    tp, fr, cn = load(t, "fanout-throughput"), load(t, "fanout-rate"), load(t, "connect")
    ch = load(t, "chat")
    rtt = ch and "{:.2f} / {:.2f}".format(ch["latency_ms"]["p50"], ch["latency_ms"]["p99"])
    delivered = tp and tp["delivered_per_sec"]
    cpu = tp and tp.get("server_cpu_s_per_million")
    lat = fr and "{:.2f} / {:.2f} / {:.2f}".format(
        fr["latency_ms"]["p50"], fr["latency_ms"]["p99"], fr["latency_ms"]["p999"])
    mems = []
    for n in (1000, 5000, 15000):
        m, b = mem_at(cn, n), mem_at(bare, n)
        if m is None:
            mems.append("–")
        elif b and t != "bare":
            mems.append(f"{m/1024:.1f} KiB ({m/b:.2f}×)")
        else:
            mems.append(f"{m/1024:.1f} KiB")
    faults = sum((r or {}).get(k, 0) for r in (tp, fr, ch) for k in ("gaps", "duplicates", "reorders"))
    errors = sum((r or {}).get("errors", 0) for r in (tp, fr, cn, ch))
    print(f"| {NAMES.get(t, t)} | {JOURNAL.get(t, '?')} | {fmt(delivered)} | {fmt(cpu, '{:.2f}')} "
          f"| {lat or '–'} | {' / '.join(mems)} | {fmt(cn and cn.get('connect_per_sec'))} "
          f"| {rtt or '–'} | {faults if (tp or fr) else '–'} | {errors} |")

nt = load("hub", "notify") if "hub" in targets else None
if nt:
    a = nt.get("accept_latency_ms") or {}
    print()
    print(f"Hub notifications at {nt['published_per_sec']:.0f}/s: accepted p50 {a.get('p50', 0):.2f} ms / "
          f"p99 {a.get('p99', 0):.2f} ms; arrived on the WebSocket p50 {nt['latency_ms']['p50']:.2f} ms / "
          f"p99 {nt['latency_ms']['p99']:.2f} ms; gaps {nt['gaps']}, errors {nt['errors']}.")
