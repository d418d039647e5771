#!/usr/bin/env bash
# The README's main job, on the embedded default store (SQLite):
#  1. screen the example messages with the CLI (JSON lines out);
#  2. start the gateway (examples/level1.yaml) in front of the small
#     OpenAI stand-in from tests/upstream, with a fresh SQLite data dir;
#  3. send an ordinary chat, a crisis message and a request whose model reply
#     is unsafe, and show what mhguard did with each;
#  4. show the decisions in /metrics and verify the audit hash chain.
# Needs a build (scripts/setup.sh). Everything runs on 127.0.0.1 and is
# stopped on exit; the data dir is kept and printed for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${MHG_BUILD_DIR:-build}
export MHG_DATA_DIR="$PWD/data"
[ -x "$B/mhguard" ] && [ -x "$B/mhg_test_upstream" ] || { echo "demo: run scripts/setup.sh first" >&2; exit 2; }

echo "== 1. mhguard screen --jsonl < examples/messages.jsonl"
"$B/mhguard" screen --jsonl --no-progress < examples/messages.jsonl |
  python3 -c '
import json, sys
for line in sys.stdin:
    v = json.loads(line)
    cats = ",".join(k + ":" + c["level"] for k, c in v.get("categories", {}).items()) or "-"
    flags = ",".join(v.get("flags", [])) or "-"
    print("  %-6s risk=%-9s action=%-9s %-45s flags=%s" % (v["id"], v.get("risk", "error"), v.get("action", "-"), cats, flags))
'

work=$(mktemp -d /tmp/mhguard-demo.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$B/mhg_test_upstream" --port 0 --port-file "$work/upstream.port" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
up=$(cat "$work/upstream.port")

export OPENAI_API_KEY=demo-upstream-key MHGUARD_API_KEY=demo-app-key-0123456789
echo; echo "== 2. mhguard serve --config examples/level1.yaml (data dir $work/data; compiling lexicons on first start can take a while)"
"$B/mhguard" serve --config examples/level1.yaml --listen 127.0.0.1:0 --port-file "$work/gw.port" \
  --data-dir "$work/data" --upstream "http://127.0.0.1:$up/v1" --metrics-loopback \
  >"$work/gateway.log" 2>&1 & pids+=($!)
for _ in $(seq 600); do [ -s "$work/gw.port" ] && break; sleep 0.2; done
[ -s "$work/gw.port" ] || { echo "gateway did not start:"; cat "$work/gateway.log"; exit 1; }
gw="http://127.0.0.1:$(cat "$work/gw.port")"

chat() { # $1 = message, prints mhguard headers and the reply text
  curl -sS -D "$work/h" -H "Authorization: Bearer $MHGUARD_API_KEY" -H 'content-type: application/json' \
    -H 'x-mhguard-country: GB' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"model":"demo","messages":[{"role":"user","content":sys.argv[1]}]}))' "$1")" \
    "$gw/v1/chat/completions" > "$work/b"
  grep -i '^x-mhguard' "$work/h" | tr -d '\r' | sed 's/^/  /'
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print("  reply:", (b.get("choices") or [{}])[0].get("message",{}).get("content", b)[:400].replace("\n"," "))' "$work/b"
}
echo; echo "== 3a. an ordinary message"; chat "Can you help me plan a study schedule for my exams?"
echo; echo "== 3b. a crisis message (imminent: the model is not called; UK resources)"
chat "I have the pills in front of me and I'm taking them all tonight. Goodbye."
echo; echo "== 3c. the model answers with method detail (the stand-in is told to): blocked"
chat "I feel awful lately. [[reply:unsafe-method]]"

echo; echo "== 4. /metrics (excerpt) and the audit chain"
curl -sS "$gw/metrics" |
  grep -E '^mhguard_(actions_total|replies_blocked_total|upstream_calls_skipped_total|verdicts_total\{source="user")' |
  grep -v ' 0$' | sed 's/^/  /'
"$B/mhguard" audit verify --data-dir "$work/data"
echo; echo "demo done; gateway log and SQLite store kept in $work"
