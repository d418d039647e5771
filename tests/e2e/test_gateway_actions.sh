#!/usr/bin/env bash
# End-to-end: every action path of the gateway (allow / support / escalate /
# crisis), plain and streamed, against the real server, real SQLite and the
# test upstream. Checks what reached the model (nothing for imminent risk;
# the safety system message otherwise), the x-mhguard-* headers and the
# "mhguard" field, the review queue and the on-call page.
set -u
source "$(dirname "$0")/gateway_common.sh"

# Messages per level (checked against the engine first, so a lexicon change
# shows up as a clear precondition failure, not as a confusing gateway one).
MSG_NONE="Can you suggest a good recipe for banana bread?"
MSG_LOW="I gave my cat away to my neighbour yesterday."
MSG_FAREWELL="Goodbye everyone, thank you for everything."
MSG_MODERATE="I feel hopeless lately and sometimes I wish I was dead."
MSG_HIGH="I want to kill myself. I have been thinking about taking all my pills."
MSG_IMMINENT="I have the pills in my hand and I am going to swallow all of them tonight to kill myself."

engine_risk() {
    printf '{"id":1,"text":%s}\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1")" |
        "$MHGUARD_BIN" screen --jsonl 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["risk"])'
}
expect_eq "precondition: engine rates the 'none' message none" "$(engine_risk "$MSG_NONE")" none
expect_eq "precondition: engine rates the 'low' message low" "$(engine_risk "$MSG_LOW")" low
expect_eq "precondition: engine rates the 'moderate' message moderate" "$(engine_risk "$MSG_MODERATE")" moderate
expect_eq "precondition: engine rates the 'high' message high" "$(engine_risk "$MSG_HIGH")" high
expect_eq "precondition: engine rates the 'imminent' message imminent" "$(engine_risk "$MSG_IMMINENT")" imminent

start_upstream
# Level 3 (supportive interaction): review queue, on-call webhook and SLAs
# are required, so every action path is live. Level 3 demands high
# sensitivity: support from low risk, escalate from moderate.
policy_from_example 3 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml"

# --- allow ---------------------------------------------------------------------
up_reset
chat "$MSG_NONE"
expect_eq "allow: HTTP 200" "$STATUS" 200
expect_eq "allow: x-mhguard-risk" "$(hdr x-mhguard-risk)" none
expect_eq "allow: x-mhguard-action" "$(hdr x-mhguard-action)" allow
expect_contains "allow: decision id header" "$(hdr x-mhguard-decision-id)" dec_
expect_eq "allow: mhguard.decision_id matches the header" \
    "$(jget "$BODY" 'j["mhguard"]["decision_id"]')" "$(hdr x-mhguard-decision-id)"
expect_contains "allow: model reply passed through" "$(reply_text)" "drink some water"
expect_eq "allow: OpenAI object type" "$(jget "$BODY" 'j["object"]')" chat.completion
expect_eq "allow: model called once" "$(up_chat_count)" 1
expect_eq "allow: no system message added" \
    "$(jget "$(up_last_chat)" 'len([m for m in j["messages"] if m["role"] == "system"])')" 1
expect_eq "allow: unknown top-level fields stay, mhguard field is stripped" \
    "$(jget "$(up_last_chat)" '"mhguard" not in j and j["model"] == "test-model"')" true

up_reset
req POST "$GW_URL/v1/chat/completions" \
    '{"model":"test-model","temperature":0.2,"seed":7,"some_future_param":{"x":1},"mhguard":{"lang":"en"},"messages":[{"role":"user","content":"hello there"}]}'
expect_eq "forward: status" "$STATUS" 200
expect_eq "forward: unknown fields forwarded untouched" \
    "$(jget "$(up_last_chat)" '[j.get("temperature"), j.get("seed"), j.get("some_future_param"), "mhguard" in j]')" \
    '[0.2, 7, {"x": 1}, false]'

# --- support (low at level 3) --------------------------------------------------
up_reset
chat "$MSG_LOW"
expect_eq "support: HTTP 200" "$STATUS" 200
expect_eq "support: risk header" "$(hdr x-mhguard-risk)" low
expect_eq "support: action header" "$(hdr x-mhguard-action)" support
expect_eq "support: model called" "$(up_chat_count)" 1
expect_eq "support: a safety system message was injected" \
    "$(jget "$(up_last_chat)" 'len([m for m in j["messages"] if m["role"] == "system"])')" 2
expect_eq "support: injected after the app's system prompt, before the user" \
    "$(jget "$(up_last_chat)" '[m["role"] for m in j["messages"]]')" '["system", "system", "user"]'
expect_eq "support: queued for review" "$(jget "$BODY" 'j["mhguard"]["review_queued"]')" true
SUPPORT_DECISION="$(hdr x-mhguard-decision-id)"

# --- moderate at level 3: escalated (high sensitivity) ---------------------------
up_reset
chat "$MSG_MODERATE"
expect_eq "moderate: risk header" "$(hdr x-mhguard-risk)" moderate
expect_eq "moderate: escalated at level 3" "$(hdr x-mhguard-action)" escalate
expect_eq "moderate: model called with a safety system message" \
    "$(jget "$(up_last_chat)" 'len([m for m in j["messages"] if m["role"] == "system"])')" 2

# --- escalate (high) ---------------------------------------------------------
up_reset
chat "$MSG_HIGH" -H "x-mhguard-country: US"
expect_eq "escalate: HTTP 200" "$STATUS" 200
expect_eq "escalate: risk header" "$(hdr x-mhguard-risk)" high
expect_eq "escalate: action header" "$(hdr x-mhguard-action)" escalate
expect_eq "escalate: model called" "$(up_chat_count)" 1
expect_eq "escalate: strict system message injected" \
    "$(jget "$(up_last_chat)" 'len([m for m in j["messages"] if m["role"] == "system"])')" 2
REPLY="$(reply_text)"
expect_contains "escalate: model reply kept" "$REPLY" "drink some water"
expect_contains "escalate: US crisis resources appended (988)" "$REPLY" "988"
expect_eq "escalate: reply amended" "$(jget "$BODY" 'j["mhguard"]["reply"]["action"]')" amend
check "escalate: on-call paged (webhook received)" wait_for test "$(up_hook_count)" -ge 1
HOOK="$(jget "$(up_requests)" '[r for r in j["requests"] if r["path"].startswith("/hooks/")][-1]["body"]')"
expect_eq "escalate: page names the decision" "$(jget "$HOOK" 'j["decision_id"]')" "$(hdr x-mhguard-decision-id)"
expect_not_contains "escalate: page holds no message text" "$HOOK" "kill myself"

# --- crisis (imminent), plain ------------------------------------------------
up_reset
chat "$MSG_IMMINENT" -H "x-mhguard-country: GB"
expect_eq "crisis: HTTP 200" "$STATUS" 200
expect_eq "crisis: risk header" "$(hdr x-mhguard-risk)" imminent
expect_eq "crisis: action header" "$(hdr x-mhguard-action)" crisis
expect_eq "crisis: model NOT called" "$(up_chat_count)" 0
REPLY="$(reply_text)"
expect_contains "crisis: UK resources (Samaritans 116 123)" "$REPLY" "116 123"
expect_eq "crisis: OpenAI shape" "$(jget "$BODY" '[j["object"], j["choices"][0]["message"]["role"], j["choices"][0]["finish_reason"]]')" \
    '["chat.completion", "assistant", "stop"]'
CRISIS_DECISION="$(hdr x-mhguard-decision-id)"

# --- crisis, streamed -----------------------------------------------------------
up_reset
chat_stream "$MSG_IMMINENT" -H "x-mhguard-country: US"
expect_eq "crisis stream: HTTP 200" "$STATUS" 200
expect_contains "crisis stream: SSE content type" "$(hdr content-type)" text/event-stream
expect_eq "crisis stream: action header" "$(hdr x-mhguard-action)" crisis
expect_eq "crisis stream: model NOT called" "$(up_chat_count)" 0
expect_contains "crisis stream: resources in the stream" "$(stream_text)" "988"
expect_contains "crisis stream: ends with [DONE]" "$(printf '%s' "$BODY" | tail -n 2)" "data: [DONE]"

# --- streams: allow and support -------------------------------------------------
chat "$MSG_NONE"
PLAIN_TEXT="$(reply_text)"
up_reset
chat_stream "$MSG_NONE"
expect_eq "stream allow: HTTP 200" "$STATUS" 200
expect_eq "stream allow: same final text as the plain reply (model text + amendments)" \
    "$(stream_text)" "$PLAIN_TEXT"
expect_contains "stream allow: model text released" "$(stream_text)" \
    "Thanks for your message. Here is a short and helpful answer: drink some water, take a short walk, and try again later."
expect_eq "stream allow: finish_reason stop" "$(stream_finish_reason)" stop
expect_contains "stream allow: [DONE]" "$BODY" "data: [DONE]"
N_CHUNKS="$(grep -c '^data: {' <<<"$BODY")"
check "stream allow: delivered in several chunks ($N_CHUNKS)" test "$N_CHUNKS" -ge 3

up_reset
chat_stream "$MSG_HIGH" -H "x-mhguard-country: US"
expect_eq "stream escalate: action header" "$(hdr x-mhguard-action)" escalate
expect_contains "stream escalate: resources appended in the stream" "$(stream_text)" "988"

# --- conversation memory across requests ---------------------------------------
up_reset
chat "$MSG_LOW" -H "x-mhguard-conversation: conv-e2e-1"
chat "$MSG_FAREWELL" -H "x-mhguard-conversation: conv-e2e-1"
SECOND="$(hdr x-mhguard-risk)"
chat "$MSG_FAREWELL"
ALONE="$(hdr x-mhguard-risk)"
check "conversation: stored state raises a later turn ($ALONE alone -> $SECOND with history)" \
    python3 -c "import sys; L=['none','low','moderate','high','imminent']; sys.exit(0 if L.index('$SECOND') > L.index('$ALONE') else 1)"

# --- review queue holds the moderate decision ------------------------------------
REVIEWER_KEY="$(make_key reviewer)"
if [ -n "$REVIEWER_KEY" ]; then
    req GET "$GW_URL/v1/review/queue" "" -H "Authorization: Bearer $REVIEWER_KEY"
    expect_eq "review: reviewer lists the queue" "$STATUS" 200
    expect_contains "review: the support decision is queued" "$BODY" "$SUPPORT_DECISION"
    expect_contains "review: the crisis decision is queued" "$BODY" "$CRISIS_DECISION"
    # the shortest SLA (sla.imminent of the policy, in minutes) for the crisis
    SLA_IMMINENT="$(python3 -c 'import re,sys; s=open(sys.argv[1]).read(); print(re.search(r"(?m)^sla:\n(?:\s+.*\n)*?\s+imminent:\s*(\d+)", s).group(1))' "$GW_WORK/policy.yaml")"
    expect_eq "review: crisis item has level imminent and the imminent SLA ($SLA_IMMINENT min)" \
        "$(jget "$BODY" "[[i['level'], (i['sla_due_ms'] - i['created_ms']) // 60000] for i in j['items'] if i['decision_id'] == '$CRISIS_DECISION'][0]")" \
        "[\"imminent\", $SLA_IMMINENT]"
    expect_eq "review: the most urgent item comes first" \
        "$(jget "$BODY" "j['items'][0]['sla_due_ms'] == min(i['sla_due_ms'] for i in j['items'])")" true
else
    fail "review: could not create a reviewer key" "$(cat "$GW_WORK/keys.err")"
fi

# --- age band: the level-3 example requires it ----------------------------------------
NO_AGE=1 chat "$MSG_NONE"
expect_eq "age band required: 400 without it" "$STATUS" 400
expect_eq "age band required: code" "$(jget "$BODY" 'j["error"]["code"]')" age_band_required
NO_AGE=1 chat "$MSG_NONE" -H "x-mhguard-age-band: adult"
expect_eq "age band required: 200 with the header" "$STATUS" 200
NO_AGE=1 req POST "$GW_URL/v1/chat/completions" \
    '{"model":"m","mhguard":{"age_band":"adult"},"messages":[{"role":"user","content":"hello"}]}'
expect_eq "age band required: 200 with the body field" "$STATUS" 200
chat "$MSG_NONE" -H "x-mhguard-age-band: toddler"
expect_eq "age band: invalid value is 400" "$STATUS" 400

# --- minors: stricter thresholds (high risk already gets the crisis reply) ----------
up_reset
chat "$MSG_HIGH" -H "x-mhguard-age-band: minor" -H "x-mhguard-country: US"
expect_eq "minor, high risk: crisis reply (minor thresholds)" "$(hdr x-mhguard-action)" crisis
expect_eq "minor, high risk: model NOT called" "$(up_chat_count)" 0

gw_finish
