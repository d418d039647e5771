#!/usr/bin/env bash
# End-to-end: /metrics content (Prometheus text) after known traffic, who may
# read it, /healthz and /readyz, and ASL-MH level 1 use-drift: the share of
# conversations with mental-health content as a gauge, plus one ALARM line
# in the log when it passes the policy's threshold.
set -u
source "$(dirname "$0")/gateway_common.sh"

start_upstream
# Level 1 with a small drift window so a handful of conversations decide it.
policy_from_example 1 "$GW_WORK/policy.yaml"
python3 - "$GW_WORK/policy.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'(?m)^use_drift:\n(?:[ \t]+.*\n?)*', '', s)
s += "\nuse_drift:\n  window: 10\n  alarm_share: 0.3\n"
open(p, "w").write(s)
PY
# no --metrics-loopback here: metrics need the auditor role
GW_DATA="$GW_WORK/gateway-data"
LOG="$GW_WORK/gateway.log"
"$MHGUARD_BIN" serve --config "$GW_WORK/policy.yaml" --listen 127.0.0.1:0 \
    --port-file "$GW_WORK/gateway.port" --data-dir "$GW_DATA" --upstream "$UP_URL" \
    --cache-dir "$GW_CACHE" >"$LOG" 2>&1 &
GW_PID=$!
GW_PIDS+=("$GW_PID")
wait_port_file "$GW_WORK/gateway.port" "$GW_PID" 300 || { cat "$LOG"; exit 1; }
GW_URL="http://127.0.0.1:$(cat "$GW_WORK/gateway.port")"

req GET "$GW_URL/healthz" ""
expect_eq "healthz: 200" "$STATUS" 200
req GET "$GW_URL/readyz" ""
expect_eq "readyz: 200" "$STATUS" 200
expect_eq "readyz: reports the ASL-MH level" "$(jget "$BODY" 'j["asl_level"]')" 1

req GET "$GW_URL/metrics" ""
expect_eq "metrics with an app key: 403" "$STATUS" 403
NO_AUTH=1 req GET "$GW_URL/metrics" ""
expect_eq "metrics without a key (no loopback flag): 401" "$STATUS" 401
AUDITOR="$(make_key auditor)"
check "auditor key created" test -n "$AUDITOR"
metric() { # metric NAME-WITH-LABELS: value from the last scrape
    printf '%s\n' "$BODY" | awk -v n="$1" '$1 == n { print $2; exit }'
}

# Known traffic: 4 harmless conversations, then 6 with mental-health content.
for i in 1 2 3 4; do
    chat "What is the capital of France? ($i)" -H "x-mhguard-conversation: plain-$i"
done
check "use-drift: no alarm while the share is low" \
    bash -c "! grep -q 'ALARM' '$LOG'"
for i in 1 2 3 4 5 6; do
    chat "I want to kill myself. I have been thinking about taking all my pills." \
        -H "x-mhguard-conversation: mh-$i" -H "x-mhguard-lang: en"
done
chat "I have the pills in my hand and I am going to swallow all of them tonight to kill myself." \
    -H "x-mhguard-conversation: mh-6"
chat "hello [[reply:unsafe-method]]" -H "x-mhguard-conversation: plain-1"

req GET "$GW_URL/metrics" "" -H "Authorization: Bearer $AUDITOR"
expect_eq "metrics: 200 for the auditor" "$STATUS" 200
expect_contains "metrics: Prometheus content type" "$(hdr content-type)" "text/plain; version=0.0.4"
expect_eq "metrics: chat requests counted" "$(metric 'mhguard_requests_total{route="chat",status="2xx"}')" 12
expect_eq "metrics: high verdicts" "$(metric 'mhguard_verdicts_total{source="user",risk="high"}')" 6
expect_eq "metrics: imminent verdicts" "$(metric 'mhguard_verdicts_total{source="user",risk="imminent"}')" 1
expect_eq "metrics: crisis actions" "$(metric 'mhguard_actions_total{action="crisis"}')" 1
expect_eq "metrics: escalate actions" "$(metric 'mhguard_actions_total{action="escalate"}')" 6
check "metrics: suicide category counted" test -n "$(metric 'mhguard_category_verdicts_total{category="suicide",level="high"}')"
check "metrics: language counted" test "$(metric 'mhguard_verdicts_by_language_total{lang="en"}')" -ge 6
expect_eq "metrics: one blocked reply" "$(metric mhguard_replies_blocked_total)" 1
expect_eq "metrics: the model was skipped once (crisis)" "$(metric mhguard_upstream_calls_skipped_total)" 1
expect_eq "metrics: screening histogram count = user messages" "$(metric mhguard_screening_seconds_count)" 12
check "metrics: upstream latency histogram filled" test "$(metric mhguard_upstream_seconds_count)" -ge 11
check "metrics: total latency histogram has an +Inf bucket" \
    test -n "$(metric 'mhguard_total_seconds_bucket{le="+Inf"}')"
expect_eq "metrics: 403 and 401 counted as errors" \
    "$(( $(metric 'mhguard_errors_total{code="forbidden"}') + $(metric 'mhguard_errors_total{code="unauthorized"}') ))" 2
check "metrics: review queue depth gauge present" test -n "$(metric mhguard_review_queue_depth)"
expect_eq "metrics: ASL-MH level gauge" "$(metric mhguard_asl_mh_level)" 1

# use-drift: 6 of 10 conversations had mental-health content
expect_eq "use-drift: window" "$(metric mhguard_use_drift_conversations)" 10
expect_eq "use-drift: share" "$(metric mhguard_use_drift_share)" 0.600000
expect_eq "use-drift: alarm gauge" "$(metric mhguard_use_drift_alarm)" 1
expect_eq "use-drift: exactly one ALARM line in the log" "$(grep -c 'ALARM.*use-drift' "$LOG")" 1
expect_not_contains "log: no message text in the log" "$(cat "$LOG")" "kill myself"

# --- graceful shutdown -----------------------------------------------------------------
kill -TERM "$GW_PID"
wait "$GW_PID"
expect_eq "SIGTERM: clean exit status 0" "$?" 0
expect_contains "SIGTERM: shutdown logged" "$(cat "$LOG")" "stopped"

gw_finish
