#!/usr/bin/env bash
# End-to-end: bad requests, access control, limits, a failing model
# provider, and failing closed when the store breaks. Every error must be a
# JSON body {"error":{"message","type","code"}} with the documented code.
set -u
source "$(dirname "$0")/gateway_common.sh"

start_upstream
policy_from_example 3 "$GW_WORK/policy.yaml" \
    's#^([[:space:]]*timeout_ms:).*#\1 1500#'
# set_server POLICY BODY_LIMIT RPS BURST: rewrite the policy's server section
set_server() {
    python3 - "$@" <<'PY'
import re, sys
p, limit, rps, burst = sys.argv[1:5]
s = open(p).read()
s = re.sub(r'(?m)^server:\n(?:[ \t]+.*\n?)*', '', s)
s += "\nserver:\n  body_limit: %s\n  rate_limit:\n    rps: %s\n    burst: %s\n" % (limit, rps, burst)
if not re.search(r'(?m)^\s+timeout_ms:', s):
    s = re.sub(r'(?m)^upstream:\n', 'upstream:\n  timeout_ms: 1500\n', s, count=1)
open(p, "w").write(s)
PY
}
set_server "$GW_WORK/policy.yaml" 65536 0 0
start_gateway "$GW_WORK/policy.yaml"
MAIN_URL="$GW_URL"
MAIN_DATA="$GW_DATA"

error_code() { jget "$BODY" 'j["error"]["code"]'; }
error_shape() { jget "$BODY" 'sorted(j["error"].keys()) == ["code", "message", "param", "type"] and bool(j["error"]["message"])'; }

# --- malformed requests ---------------------------------------------------------
req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":"hi"}'
expect_eq "malformed JSON: 400" "$STATUS" 400
expect_eq "malformed JSON: code" "$(error_code)" invalid_json
expect_eq "malformed JSON: OpenAI error shape" "$(error_shape)" true

printf '{"model":"m","messages":[{"role":"user","content":"caf\xe9 \xff\xfe"}]}' >"$GW_WORK/bad-utf8.json"
req POST "$GW_URL/v1/chat/completions" "@$GW_WORK/bad-utf8.json"
expect_eq "invalid UTF-8: 400" "$STATUS" 400
expect_eq "invalid UTF-8: code" "$(error_code)" invalid_utf8

req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":"\ud800 lone surrogate"}]}'
expect_eq "escaped lone surrogate: 400" "$STATUS" 400
expect_eq "escaped lone surrogate: code" "$(error_code)" invalid_utf8

req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[]}'
expect_eq "empty messages: 400" "$STATUS" 400
expect_eq "empty messages: code" "$(error_code)" invalid_request

req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is in this picture?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}'
expect_eq "unscreenable user content (image): 400" "$STATUS" 400
expect_contains "unscreenable user content: says why" "$(jget "$BODY" 'j["error"]["message"]')" "cannot screen"
up_reset
req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"text","text":"there"}]}]}'
expect_eq "text parts: accepted" "$STATUS" 200
expect_eq "text parts: forwarded as they were" "$(jget "$(up_last_chat)" 'j["messages"][-1]["content"][1]["text"]')" there

req POST "$GW_URL/v1/chat/completions" '[1,2,3]'
expect_eq "array body: 400" "$STATUS" 400

req POST "$GW_URL/v1/chat/completions" '{"model":"m","stream":"yes","messages":[{"role":"user","content":"hi"}]}'
expect_eq "stream not boolean: 400" "$STATUS" 400

req POST "$GW_URL/v1/chat/completions" '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
    -H "x-mhguard-lang: not a language"
expect_eq "bad lang header: 400" "$STATUS" 400

# --- size limit -----------------------------------------------------------------
python3 -c '
import json
print(json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 200000}]}))' >"$GW_WORK/big.json"
req POST "$GW_URL/v1/chat/completions" "@$GW_WORK/big.json"
expect_eq "huge body: 413" "$STATUS" 413
expect_eq "huge body: code" "$(error_code)" body_too_large
# the same without Content-Length (chunked upload)
STATUS="$(curl -sS -o "$GW_WORK/resp.body" -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" \
    -H "Content-Type: application/json" -H "Transfer-Encoding: chunked" \
    --data-binary "@$GW_WORK/big.json" "$GW_URL/v1/chat/completions")"
BODY="$(cat "$GW_WORK/resp.body")"
expect_eq "huge chunked body: 413" "$STATUS" 413
expect_eq "huge chunked body: code" "$(error_code)" body_too_large

# --- access control -------------------------------------------------------------
NO_AUTH=1 req POST "$GW_URL/v1/chat/completions" "$(chat_body hi)"
expect_eq "no key: 401" "$STATUS" 401
expect_eq "no key: code" "$(error_code)" unauthorized
req POST "$GW_URL/v1/chat/completions" "$(chat_body hi)" -H "Authorization: Bearer mhg_app_notarealkey000000000000000000000000000"
expect_eq "unknown key: 401" "$STATUS" 401

AUDITOR_KEY="$(make_key auditor)"
REVIEWER_KEY="$(make_key reviewer)"
ADMIN_KEY="$(make_key admin)"
check "keys: auditor, reviewer, admin keys created" test -n "$AUDITOR_KEY" -a -n "$REVIEWER_KEY" -a -n "$ADMIN_KEY"
req POST "$GW_URL/v1/chat/completions" "$(chat_body hi)" -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "reviewer calling chat: 403" "$STATUS" 403
expect_eq "reviewer calling chat: code" "$(error_code)" forbidden
req GET "$GW_URL/v1/review/queue" ""
expect_eq "app key on the review queue: 403" "$STATUS" 403
req GET "$GW_URL/v1/review/queue" "" -H "Authorization: Bearer $AUDITOR_KEY"
expect_eq "auditor on the review queue: 403" "$STATUS" 403
req GET "$GW_URL/v1/review/queue" "" -H "Authorization: Bearer $ADMIN_KEY"
expect_eq "admin on the review queue: 200" "$STATUS" 200
req GET "$GW_URL/metrics" "" -H "Authorization: Bearer $AUDITOR_KEY"
expect_eq "auditor reads metrics: 200" "$STATUS" 200
req GET "$GW_URL/healthz" "" -H "Authorization: Bearer nothing"
expect_eq "healthz needs no key: 200" "$STATUS" 200

req GET "$GW_URL/v1/nothing-here" ""
expect_eq "unknown route: 404" "$STATUS" 404
req GET "$GW_URL/v1/chat/completions" ""
expect_eq "wrong method: 405" "$STATUS" 405

# --- upstream problems ------------------------------------------------------------
chat "hello [[reply:error500]]"
expect_eq "upstream 500: 502" "$STATUS" 502
expect_eq "upstream 500: code" "$(error_code)" upstream_error
chat "hello [[reply:garbage]]"
expect_eq "upstream garbage: 502" "$STATUS" 502
chat "hello [[reply:slow]]"
expect_eq "upstream slow (over timeout_ms): 504" "$STATUS" 504
expect_eq "upstream slow: code" "$(error_code)" upstream_timeout
chat_stream "hello [[reply:slow]]"
expect_eq "upstream slow, streamed: 504" "$STATUS" 504
chat_stream "hello [[reply:slow-stream]]"
expect_eq "upstream stalls mid-stream: 200 (headers were sent)" "$STATUS" 200
expect_contains "upstream stalls mid-stream: error event with upstream_timeout" "$BODY" '"code":"upstream_timeout"'
expect_not_contains "upstream stalls mid-stream: no [DONE]" "$BODY" "[DONE]"

# model not reachable at all: a second gateway pointing at a closed port
PORT_CLOSED="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
SAVED_UP_URL="$UP_URL"
UP_URL="http://127.0.0.1:$PORT_CLOSED/v1"
MAIN_URL="$GW_URL"
start_gateway "$GW_WORK/policy.yaml" gateway-down
chat "hello"
expect_eq "upstream down: 502" "$STATUS" 502
expect_eq "upstream down: code" "$(error_code)" upstream_error
# an escalated (high-risk) message must still get crisis resources, not a bare 502
chat "I want to kill myself. I have been thinking about taking all my pills."
expect_eq "upstream down, high risk: risk" "$(hdr x-mhguard-risk)" high
expect_eq "upstream down, high risk: 200, not 502" "$STATUS" 200
expect_eq "upstream down, high risk: action" "$(hdr x-mhguard-action)" fail_closed
expect_ne "upstream down, high risk: a reply with resources" "$(reply_text)" ""
chat_stream "I want to kill myself. I have been thinking about taking all my pills."
expect_eq "upstream down, high risk (stream): 200" "$STATUS" 200
expect_eq "upstream down, high risk (stream): action" "$(hdr x-mhguard-action)" fail_closed
req GET "$GW_URL/v1/models" ""
expect_eq "models with upstream down: 502" "$STATUS" 502
stop_gateway
UP_URL="$SAVED_UP_URL"
GW_URL="$MAIN_URL"

# --- the upstream key comes from the environment variable the policy names ---------
SAVED_UP_URL="$UP_URL"
SAVED_UP_PORT="$UP_PORT"
export TEST_UPSTREAM_KEY="sk-test-upstream-secret-123"
start_upstream upstream-keyed
unset TEST_UPSTREAM_KEY
KEY_ENV="$(sed -n 's/^[[:space:]]*api_key_env:[[:space:]]*//p' "$GW_WORK/policy.yaml" | tr -d '"' | head -n 1)"
check "policy names an upstream key variable ($KEY_ENV)" test -n "$KEY_ENV"
export "$KEY_ENV=sk-test-upstream-secret-123"
start_gateway "$GW_WORK/policy.yaml" gateway-keyed
chat "hello"
expect_eq "upstream key: forwarded from \$$KEY_ENV, call succeeds" "$STATUS" 200
expect_eq "upstream key: the model saw the right key" "$(jget "$(up_requests)" 'j["requests"][-1]["key_ok"]')" true
expect_not_contains "upstream key: never in the gateway log" "$(cat "$GW_LOG")" "sk-test-upstream-secret"
stop_gateway
export "$KEY_ENV=sk-wrong-key"
start_gateway "$GW_WORK/policy.yaml" gateway-wrongkey
chat "hello"
expect_eq "wrong upstream key: 502 (the operator's problem, not the app's)" "$STATUS" 502
expect_contains "wrong upstream key: says so" "$(jget "$BODY" 'j["error"]["message"]')" "credentials"
stop_gateway
unset "$KEY_ENV"
UP_URL="$SAVED_UP_URL"
UP_PORT="$SAVED_UP_PORT"
GW_URL="$MAIN_URL"
GW_DATA="$MAIN_DATA"

req GET "$GW_URL/v1/models" ""
expect_eq "models forwarded: 200" "$STATUS" 200
expect_contains "models forwarded: upstream list" "$BODY" "test-model-mini"

# --- rate limit: a gateway with 1 request/s and a burst of 5 ----------------------
cp "$GW_WORK/policy.yaml" "$GW_WORK/policy-rate.yaml"
set_server "$GW_WORK/policy-rate.yaml" 65536 1 5
start_gateway "$GW_WORK/policy-rate.yaml" gateway-rate
RATE_AUDITOR="$(make_key auditor)"
n429=0
for i in $(seq 1 20); do
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" "$GW_URL/v1/models")"
    [ "$code" = 429 ] && n429=$((n429 + 1))
done
check "rate limit: 20 quick requests beyond the burst of 5 get 429 ($n429)" test "$n429" -ge 10
req GET "$GW_URL/v1/models" ""
expect_eq "rate limit: status" "$STATUS" 429
expect_eq "rate limit: code" "$(error_code)" rate_limited
req GET "$GW_URL/metrics" "" -H "Authorization: Bearer $RATE_AUDITOR"
expect_eq "rate limit: per key (another key is unaffected)" "$STATUS" 200
stop_gateway
GW_URL="$MAIN_URL"
GW_DATA="$MAIN_DATA"

# --- fail closed: the store breaks under a running server ----------------------------
sqlite3 "$GW_DATA/mhguard.db" "DROP TABLE review_queue; DROP TABLE decisions;" 2>/dev/null ||
    fail "fail closed: could not break the store"
up_reset
chat "I want to kill myself. I have been thinking about taking all my pills."
expect_eq "fail closed: chat still answers 200" "$STATUS" 200
expect_eq "fail closed: x-mhguard-action" "$(hdr x-mhguard-action)" fail_closed
expect_ne "fail closed: a safe reply with resources" "$(reply_text)" ""
expect_eq "fail closed: the model was NOT called" "$(up_chat_count)" 0
chat_stream "what a lovely day"
expect_eq "fail closed (stream): action" "$(hdr x-mhguard-action)" fail_closed
expect_eq "fail closed (stream): model NOT called" "$(up_chat_count)" 0
req POST "$GW_URL/v1/screen" '{"text":"I feel fine"}'
expect_eq "fail closed: screening API answers 503" "$STATUS" 503
expect_eq "fail closed: screening API code" "$(error_code)" fail_closed
req GET "$GW_URL/metrics" ""
FC="$(printf '%s\n' "$BODY" | awk '$1 == "mhguard_fail_closed_total" { print $2 }')"
check "fail closed: counted in metrics (${FC:-none})" test "${FC:-0}" -ge 3

# --- fail_mode open (ASL-MH level 1 only): an allowed message may go ahead when
# the store fails; anything above allow still fails closed ---------------------------
policy_from_example 1 "$GW_WORK/policy-open.yaml" 's/^fail_mode:.*/fail_mode: open/'
start_gateway "$GW_WORK/policy-open.yaml" gateway-open
sqlite3 "$GW_DATA/mhguard.db" "DROP TABLE decisions;"
up_reset
chat "What is a good name for a goldfish?"
expect_eq "fail open: a harmless message is still answered by the model" "$(up_chat_count)" 1
expect_eq "fail open: action allow" "$(hdr x-mhguard-action)" allow
expect_eq "fail open: marked as not recorded" "$(jget "$BODY" 'j["mhguard"].get("recorded")')" false
chat "I want to kill myself. I have been thinking about taking all my pills."
expect_eq "fail open: a risky message still fails closed" "$(hdr x-mhguard-action)" fail_closed
expect_eq "fail open: ... without calling the model" "$(up_chat_count)" 1
req GET "$GW_URL/metrics" ""
expect_eq "fail open: counted" "$(printf '%s\n' "$BODY" | awk '$1 == "mhguard_fail_open_total" { print $2 }')" 2
stop_gateway

gw_finish
