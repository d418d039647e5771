#!/usr/bin/env bash
# gateway_wrk.sh - load benchmark of the gateway with wrk: throughput and
# the latency mhguard adds, measured as the same chat completion sent (a)
# straight to the test upstream and (b) through `mhguard serve` in front
# of it (screening, policy decision, store + audit write, reply check).
#
# usage: bench/gateway_wrk.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS] [THREADS]
#   defaults: build, 10, 16, 2
# Prints a Markdown table. Everything runs on loopback on this machine, so
# wrk, the upstream and the gateway share the CPU: read the numbers as an
# upper bound on the overhead per request, not as a capacity plan.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
DUR="${2:-10}"
CONN="${3:-16}"
THREADS="${4:-2}"
MHGUARD="$BUILD/mhguard"
UPSTREAM="$BUILD/mhg_test_upstream"
for b in "$MHGUARD" "$UPSTREAM"; do [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk not installed (scripts/install-deps.sh --test)" >&2; exit 1; }
export MHG_DATA_DIR="${MHG_DATA_DIR:-$ROOT/data}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mhg-bench.XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT


wait_file() {
    for _ in $(seq 1 3000); do [ -s "$1" ] && return 0; sleep 0.1; done # a cold start compiles the lexicons
    echo "timed out waiting for $1" >&2
    return 1
}

"$UPSTREAM" --port 0 --port-file "$WORK/up.port" >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/up.port"
UP="http://127.0.0.1:$(cat "$WORK/up.port")"

# Level 1 policy (fewest mandatory extras: the plain safety floor), without
# its per-key rate limit (one key sends everything here), relative paths
# made absolute because the copy lives elsewhere.
python3 - "$ROOT/examples/level1.yaml" "$WORK/policy.yaml" "$UP/hooks/oncall" <<'PY'
import os, re, sys
src, out, hook = sys.argv[1:4]
base = os.path.dirname(os.path.abspath(src))
s = open(src).read()
s = re.sub(r'(?m)^(\s*webhook_url:).*$', r'\1 "%s"' % hook, s)
s = re.sub(r'(?m)^(\s*(?:dir|validation_record):)\s*(\S.*)$',
           lambda m: '%s "%s"' % (m.group(1), os.path.normpath(os.path.join(base, m.group(2).strip('"')))), s)
s = re.sub(r'(?m)^  rate_limit:\n(?:    .*\n?)*', '  rate_limit:\n    rps: 0\n    burst: 0\n', s)
open(out, "w").write(s)
PY
export MHGUARD_API_KEY="mhg-bench-app-key-0123456789abcdef"
"$MHGUARD" serve --config "$WORK/policy.yaml" --listen 127.0.0.1:0 --port-file "$WORK/gw.port" \
    --data-dir "$WORK/data" --upstream "$UP/v1" --cache-dir "${MHG_CACHE_DIR:-$BUILD/e2e-lexicon-cache}" \
    >"$WORK/gw.log" 2>&1 &
PIDS+=($!)
wait_file "$WORK/gw.port"
GW="http://127.0.0.1:$(cat "$WORK/gw.port")"

run() { # run NAME URL KEY PATH STREAM
    # warm-up (connection pools, page cache), then the measured run
    WRK_API_KEY="$3" WRK_PATH="$4" WRK_STREAM="$5" wrk -t"$THREADS" -c"$CONN" -d2s \
        -s "$ROOT/bench/gateway_chat.lua" "$2" >/dev/null 2>&1 || true
    local line
    line="$(WRK_API_KEY="$3" WRK_PATH="$4" WRK_STREAM="$5" wrk -t"$THREADS" -c"$CONN" -d"${DUR}s" \
        -s "$ROOT/bench/gateway_chat.lua" "$2" | grep '^RESULT')"
    echo "$1 $line"
}

{
    run upstream-direct "$UP" "" /v1/chat/completions 0
    run gateway "$GW" "$MHGUARD_API_KEY" /v1/chat/completions 0
    run upstream-direct-stream "$UP" "" /v1/chat/completions 1
    run gateway-stream "$GW" "$MHGUARD_API_KEY" /v1/chat/completions 1
    run gateway-screen-api "$GW" "$MHGUARD_API_KEY" /v1/screen 0
} >"$WORK/results.txt"

python3 - "$WORK/results.txt" "$DUR" "$CONN" "$THREADS" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    rows[name] = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)}
dur, conn, threads = sys.argv[2:5]
print(f"wrk {dur}s, {conn} connections, {threads} threads, loopback, `nproc` = "
      f"{__import__('os').cpu_count()}\n")
print("| target | req/s | p50 ms | p90 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|---:|")
for name, r in rows.items():
    print(f"| {name} | {r['rps']:.0f} | {r['p50_us']/1000:.2f} | {r['p90_us']/1000:.2f} | "
          f"{r['p99_us']/1000:.2f} | {int(r['errors'])} |")
def added(a, b):
    if a in rows and b in rows:
        ra, rb = rows[a], rows[b]
        print(f"\nAdded by the gateway ({b} vs {a}): p50 +{(rb['p50_us']-ra['p50_us'])/1000:.2f} ms, "
              f"p99 +{(rb['p99_us']-ra['p99_us'])/1000:.2f} ms, throughput "
              f"{rb['rps']/ra['rps']*100:.0f}% of direct")
added("upstream-direct", "gateway")
added("upstream-direct-stream", "gateway-stream")
PY
