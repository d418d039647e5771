#!/usr/bin/env bash
# End-to-end: the official OpenAI Node client works against the gateway
# unchanged (plain, streamed, crisis, blocked stream, models, errors).
# The client is installed from the npm registry at test time; if npm or the
# registry is unavailable this test FAILS (it never skips silently).
set -u
source "$(dirname "$0")/gateway_common.sh"
E2E_DIR="$(cd "$(dirname "$0")" && pwd)"

command -v node >/dev/null || { fail "node is installed (scripts/install-deps.sh --test)"; gw_finish; }
command -v npm >/dev/null || { fail "npm is installed (scripts/install-deps.sh --test)"; gw_finish; }
if [ ! -f "$E2E_DIR/node_modules/openai/package.json" ]; then
    if ! npm install --no-save --no-audit --no-fund --prefix "$E2E_DIR" openai@4 >"$GW_WORK/npm.log" 2>&1; then
        cat "$GW_WORK/npm.log"
        fail "npm install openai@4 (registry reachable?)"
        gw_finish
    fi
fi
pass "openai@4 installed: $(node -p "require('$E2E_DIR/node_modules/openai/package.json').version")"

start_upstream
# level 1: no age band required, so the client needs nothing but baseURL and apiKey
policy_from_example 1 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml"

OUT="$(cd "$E2E_DIR" && node openai_client.mjs "$GW_URL/v1" "$APP_KEY" 2>"$GW_WORK/node.err")"
RC=$?
expect_eq "node client ran without an exception" "$RC" 0
[ "$RC" = 0 ] || cat "$GW_WORK/node.err"
echo "$OUT" | head -c 2000; echo

expect_contains "plain: model text" "$(jget "$OUT" 'j["plain"]["text"]')" "drink some water"
expect_eq "plain: finish stop, object chat.completion" "$(jget "$OUT" '[j["plain"]["finish"], j["plain"]["object"]]')" '["stop", "chat.completion"]'
expect_eq "crisis: x-mhguard-action visible to the app" "$(jget "$OUT" 'j["crisis"]["action"]')" crisis
expect_eq "crisis: x-mhguard-risk" "$(jget "$OUT" 'j["crisis"]["risk"]')" imminent
expect_ne "crisis: reply text" "$(jget "$OUT" 'j["crisis"]["text"]')" ""
expect_contains "stream: full text assembled" "$(jget "$OUT" 'j["stream"]["text"]')" "try again later."
expect_eq "stream: finish stop" "$(jget "$OUT" 'j["stream"]["finish"]')" stop
expect_eq "crisis stream: same text as the plain crisis reply" \
    "$(jget "$OUT" 'j["crisisStream"]["text"]')" "$(jget "$OUT" 'j["crisis"]["text"]')"
expect_eq "blocked stream: finish content_filter" "$(jget "$OUT" 'j["blockedStream"]["finish"]')" content_filter
expect_not_contains "blocked stream: no lethal detail" "$(jget "$OUT" 'j["blockedStream"]["text"]')" "10 grams"
expect_contains "models: listed through the gateway" "$(jget "$OUT" 'j["models"]')" "test-model-mini"
expect_eq "error: raised as APIError 400" "$(jget "$OUT" '[j["error"]["thrown"], j["error"]["status"]]')" '[true, 400]'

gw_finish
