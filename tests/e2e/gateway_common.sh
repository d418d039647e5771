# gateway_common.sh - shared helpers for tests/e2e/test_gateway*.sh (sourced,
# not a test itself). Starts the test upstream and `mhguard serve` on loopback
# with random free ports (port files, no races), a temp data directory with
# a real SQLite store, and offers small HTTP + JSON assertion helpers.
#
# Every process started here is recorded and killed by PID on exit.

set -u
: "${MHGUARD_BIN:?MHGUARD_BIN must point at the mhguard binary (ctest sets it)}"
: "${MHG_BUILD_DIR:?MHG_BUILD_DIR must point at the build directory (ctest sets it)}"
GW_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UPSTREAM_BIN="$MHG_BUILD_DIR/mhg_test_upstream"
[ -x "$UPSTREAM_BIN" ] || { echo "FATAL: $UPSTREAM_BIN not built"; exit 1; }
export MHG_DATA_DIR="${MHG_DATA_DIR:-$GW_SRC_DIR/data}"

GW_WORK="$(mktemp -d "${TMPDIR:-/tmp}/mhg-e2e.XXXXXX")"
GW_PIDS=()
GW_PASS=0
GW_FAIL=0
GW_FAILED_NAMES=()
# The app key for local trials, accepted by the gateway from the environment.
export MHGUARD_API_KEY="mhg-e2e-app-key-0123456789abcdef"
APP_KEY="$MHGUARD_API_KEY"
# Compiled lexicons are shared by all gateway tests of this build (compiling
# them costs seconds per start; the cache is keyed by content).
GW_CACHE="$MHG_BUILD_DIR/e2e-lexicon-cache"
mkdir -p "$GW_CACHE"

gw_cleanup() {
    local pid
    for pid in "${GW_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${GW_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${GW_KEEP:-0}" = 1 ] || [ "$GW_FAIL" -gt 0 ]; then
        echo "(work directory kept: $GW_WORK)"
    else
        rm -rf "$GW_WORK"
    fi
}
trap gw_cleanup EXIT

# ---- assertions ------------------------------------------------------------

pass() { GW_PASS=$((GW_PASS + 1)); echo "ok   - $1"; }
fail() {
    GW_FAIL=$((GW_FAIL + 1))
    GW_FAILED_NAMES+=("$1")
    echo "FAIL - $1${2:+: $2}"
}
check() { # check NAME CONDITION-COMMAND...
    local name="$1"
    shift
    if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
expect_eq() { # expect_eq NAME GOT WANT
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}
expect_ne() {
    if [ "$2" != "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected something else"; fi
}
expect_contains() { # expect_contains NAME HAYSTACK NEEDLE
    case "$2" in
        *"$3"*) pass "$1" ;;
        *) fail "$1" "'$3' not found in: $(printf '%s' "$2" | head -c 600)" ;;
    esac
}
expect_not_contains() {
    case "$2" in
        *"$3"*) fail "$1" "'$3' unexpectedly found in: $(printf '%s' "$2" | head -c 600)" ;;
        *) pass "$1" ;;
    esac
}
gw_finish() {
    echo "# $GW_PASS passed, $GW_FAIL failed"
    if [ "$GW_FAIL" -gt 0 ]; then
        printf '#   failed: %s\n' "${GW_FAILED_NAMES[@]}"
        for f in "$GW_WORK"/gateway*.log; do
            [ -f "$f" ] || continue
            echo "# --- tail of $f"
            tail -n 40 "$f"
        done
        exit 1
    fi
    exit 0
}

# jq-like field access with python3: jget JSON-TEXT PYTHON-EXPR (j is the value)
jget() {
    python3 -c '
import json, sys
j = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"j": j})
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
' "$1" "$2" 2>/dev/null || echo "<jget-error>"
}

# ---- processes -------------------------------------------------------------

wait_port_file() { # wait_port_file FILE PID SECONDS
    local i=0 limit=$(($3 * 10))
    while [ ! -s "$1" ]; do
        if ! kill -0 "$2" 2>/dev/null; then return 1; fi
        i=$((i + 1))
        [ "$i" -gt "$limit" ] && return 1
        sleep 0.1
    done
    return 0
}

# start_upstream [NAME]: sets UP_PORT, UP_URL (base URL with /v1), UP_PID
start_upstream() {
    local name="${1:-upstream}"
    rm -f "$GW_WORK/$name.port"
    "$UPSTREAM_BIN" --port 0 --port-file "$GW_WORK/$name.port" >"$GW_WORK/$name.out" 2>&1 &
    UP_PID=$!
    GW_PIDS+=("$UP_PID")
    wait_port_file "$GW_WORK/$name.port" "$UP_PID" 10 || {
        echo "FATAL: test upstream did not start"
        cat "$GW_WORK/$name.out"
        exit 1
    }
    UP_PORT="$(cat "$GW_WORK/$name.port")"
    UP_URL="http://127.0.0.1:$UP_PORT/v1"
}

# policy_from_example LEVEL OUT [SED-EXPR...]: copy examples/levelN.yaml for a
# test: its webhook points at the test upstream's hook sink, relative paths
# are made absolute (the copy lives elsewhere), and the rate limit is turned
# off (rps 0; tests that exercise it set their own). Extra sed expressions may follow.
policy_from_example() {
    local level="$1" out="$2"
    shift 2
    local dir="${MHG_EXAMPLES_DIR:-$GW_SRC_DIR/examples}"
    [ -f "$dir/level$level.yaml" ] || { echo "FATAL: $dir/level$level.yaml missing"; exit 1; }
    policy_adapt "$dir/level$level.yaml" "$out"
    local e
    for e in "$@"; do sed -i -E "$e" "$out"; done
}
policy_adapt() { # policy_adapt SRC OUT
    python3 - "$1" "$2" "http://127.0.0.1:${UP_PORT:-9}/hooks/oncall" <<'PY'
import os, re, sys
src, out, hook = sys.argv[1:4]
base = os.path.dirname(os.path.abspath(src))
s = open(src).read()
s = re.sub(r'(?m)^(\s*webhook_url:).*$', r'\1 "%s"' % hook, s)
def absolute(m):
    key, val = m.group(1), m.group(2).strip().strip('"')
    if val and not val.startswith("/"):
        val = os.path.normpath(os.path.join(base, val))
    return '%s "%s"' % (key, val)
s = re.sub(r'(?m)^(\s*(?:dir|validation_record):)(.*)$', absolute, s)
s = re.sub(r'(?m)^  rate_limit:\n(?:    .*\n?)*', '  rate_limit:\n    rps: 0\n    burst: 0\n', s)
open(out, "w").write(s)
PY
}

# start_gateway POLICY [NAME] [extra serve flags...]: sets GW_PORT, GW_URL, GW_PID,
# GW_DATA (data dir), GW_LOG. Fails the script if it does not come up.
start_gateway() {
    local policy="$1" name="${2:-gateway}"
    shift 2 || shift $#
    GW_DATA="$GW_WORK/$name-data"
    GW_LOG="$GW_WORK/$name.log"
    rm -f "$GW_WORK/$name.port"
    "$MHGUARD_BIN" serve --config "$policy" --listen 127.0.0.1:0 --port-file "$GW_WORK/$name.port" \
        --data-dir "$GW_DATA" --upstream "$UP_URL" --cache-dir "$GW_CACHE" --access-log \
        --metrics-loopback "$@" \
        >"$GW_LOG" 2>&1 &
    GW_PID=$!
    GW_PIDS+=("$GW_PID")
    # generous: a cold start compiles the lexicons (tens of seconds on a busy machine)
    if ! wait_port_file "$GW_WORK/$name.port" "$GW_PID" 300; then
        echo "FATAL: gateway did not start:"
        cat "$GW_LOG"
        exit 1
    fi
    GW_PORT="$(cat "$GW_WORK/$name.port")"
    GW_URL="http://127.0.0.1:$GW_PORT"
}

stop_gateway() { # stop_gateway [PID]: SIGTERM and wait (graceful shutdown)
    local pid="${1:-$GW_PID}"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null
}

# ---- HTTP ------------------------------------------------------------------

# req METHOD URL [BODY|@FILE|-] [curl args...]: sets STATUS, BODY, HDRS.
# The app key is sent unless an Authorization header is given.
req() {
    local method="$1" url="$2" data="${3:-}"
    shift 3 || shift $#
    local auth=(-H "Authorization: Bearer $APP_KEY")
    # the example policies may require an age band: adult unless a test
    # sends its own (or sets NO_AGE=1 to send none)
    local age=(-H "x-mhguard-age-band: adult")
    local a
    for a in "$@"; do
        case "$a" in
            [Aa]uthorization:*) auth=() ;;
            [Xx]-mhguard-age-band:*) age=() ;;
        esac
    done
    [ "${NO_AUTH:-0}" = 1 ] && auth=()
    [ "${NO_AGE:-0}" = 1 ] && age=()
    local args=(-sS -X "$method" -o "$GW_WORK/resp.body" -D "$GW_WORK/resp.hdrs" -w '%{http_code}'
        --max-time "${REQ_TIMEOUT:-30}" "${auth[@]}" "${age[@]}")
    if [ -n "$data" ]; then
        args+=(-H "Content-Type: application/json" --data-binary "$data")
    fi
    STATUS="$(curl "${args[@]}" "$@" "$url" 2>"$GW_WORK/resp.err")" || STATUS="${STATUS:-000}"
    BODY="$(cat "$GW_WORK/resp.body" 2>/dev/null)"
    HDRS="$(tr -d '\r' <"$GW_WORK/resp.hdrs" 2>/dev/null)"
}

# hdr NAME: value of a response header from the last req (case-insensitive)
hdr() {
    printf '%s\n' "$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" -F': ' \
        'tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }'
}

# chat MESSAGE [curl args...]: one-message non-streamed chat completion
chat_body() { # chat_body MESSAGE [stream(true|false)]
    python3 -c '
import json, sys
print(json.dumps({"model": "test-model", "stream": sys.argv[2] == "true",
                  "messages": [{"role": "system", "content": "You are a helpful assistant."},
                               {"role": "user", "content": sys.argv[1]}]}))
' "$1" "${2:-false}"
}
chat() {
    local msg="$1"
    shift
    req POST "$GW_URL/v1/chat/completions" "$(chat_body "$msg" false)" "$@"
}
chat_stream() {
    local msg="$1"
    shift
    req POST "$GW_URL/v1/chat/completions" "$(chat_body "$msg" true)" -N "$@"
}

# content of a non-streamed completion / of an SSE stream (joined deltas)
reply_text() { jget "$BODY" 'j["choices"][0]["message"]["content"]'; }
stream_text() {
    python3 -c '
import json, sys
out = []
for line in sys.stdin.read().split("\n"):
    if line.startswith("data: ") and line[6:].strip() != "[DONE]":
        try:
            j = json.loads(line[6:])
        except Exception:
            print("<bad-chunk>"); sys.exit(0)
        for c in j.get("choices", []):
            out.append((c.get("delta") or {}).get("content") or "")
print("".join(out))
' <<<"$BODY"
}
stream_finish_reason() {
    python3 -c '
import json, sys
fr = None
for line in sys.stdin.read().split("\n"):
    if line.startswith("data: ") and line[6:].strip() != "[DONE]":
        j = json.loads(line[6:])
        for c in j.get("choices", []):
            if c.get("finish_reason"): fr = c["finish_reason"]
print(fr)
' <<<"$BODY"
}

# upstream record helpers
up_reset() { curl -sS -X POST "http://127.0.0.1:$UP_PORT/_admin/reset" >/dev/null; }
up_requests() { curl -sS "http://127.0.0.1:$UP_PORT/_admin/requests"; }
up_chat_count() { jget "$(up_requests)" 'len([r for r in j["requests"] if r["path"] == "/v1/chat/completions"])'; }
up_hook_count() { jget "$(up_requests)" 'len([r for r in j["requests"] if r["path"].startswith("/hooks/")])'; }
up_last_chat() { jget "$(up_requests)" '[r for r in j["requests"] if r["path"] == "/v1/chat/completions"][-1]["body"]'; }

# wait_for CMD...: retry a condition for up to 10 s (for asynchronous effects
# like webhook delivery; no timed assertion, only an upper bound)
wait_for() {
    local i
    for i in $(seq 1 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# ---- keys --------------------------------------------------------------------

# make_key ROLE: print a new API key for ROLE in the gateway's data dir
make_key() {
    "$MHGUARD_BIN" keys create --role "$1" --data-dir "$GW_DATA" 2>"$GW_WORK/keys.err" |
        grep -oE 'mhg_[a-z]+_[A-Za-z0-9_-]+' | head -n 1
}
