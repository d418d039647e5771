#!/usr/bin/env bash
# End-to-end: the model's replies are checked before the user sees them.
# Plain replies: unsafe ones are replaced (finish_reason content_filter) and
# the reason is recorded. Streams: safe text is released as it flows, and on
# a block the stream stops, the safe replacement follows, then a finish
# chunk and [DONE]; nothing of the unsafe part reaches the client.
set -u
source "$(dirname "$0")/gateway_common.sh"

start_upstream
# Level 3: medical advice blocked, disclaimers required (levels 2-3).
policy_from_example 3 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml"

HARMLESS="Can you help me plan my week?"

# --- plain replies ------------------------------------------------------------------
for mode in unsafe-method encourage human dose; do
    chat "$HARMLESS [[reply:$mode]]"
    expect_eq "plain $mode: HTTP 200" "$STATUS" 200
    expect_eq "plain $mode: blocked (finish_reason content_filter)" \
        "$(jget "$BODY" 'j["choices"][0]["finish_reason"]')" content_filter
    expect_eq "plain $mode: reply action recorded as block" \
        "$(jget "$BODY" 'j["mhguard"]["reply"]["action"]')" block
    TEXT="$(reply_text)"
    expect_ne "plain $mode: a replacement text is sent" "$TEXT" ""
done
chat "$HARMLESS [[reply:unsafe-method]]"
TEXT="$(reply_text)"
expect_not_contains "plain unsafe-method: no dose detail leaks" "$TEXT" "10 grams"
expect_not_contains "plain unsafe-method: no method detail leaks" "$TEXT" "acetaminophen"
expect_contains "plain unsafe-method: reason method/lethality" \
    "$(jget "$BODY" 'j["mhguard"]["reply"]["reasons"]')" "_detail"
chat "$HARMLESS [[reply:human]]"
expect_contains "plain human: reason claims_human or claims_clinician" \
    "$(jget "$BODY" 'j["mhguard"]["reply"]["reasons"]')" "claims_"
chat "$HARMLESS [[reply:dose]]"
expect_contains "plain dose: reason medical_advice" \
    "$(jget "$BODY" 'j["mhguard"]["reply"]["reasons"]')" "medical_advice"

chat "$HARMLESS [[reply:normal]]"
expect_eq "plain normal: not blocked" "$(jget "$BODY" 'j["choices"][0]["finish_reason"]')" stop
expect_contains "plain normal: model text kept" "$(reply_text)" "drink some water"

# --- streams ------------------------------------------------------------------------
chat_stream "$HARMLESS [[reply:unsafe-method]]"
expect_eq "stream unsafe-method: HTTP 200" "$STATUS" 200
TEXT="$(stream_text)"
expect_not_contains "stream unsafe-method: no dose detail leaks" "$TEXT" "10 grams"
expect_not_contains "stream unsafe-method: method never released" "$TEXT" "acetaminophen"
expect_eq "stream unsafe-method: finish_reason content_filter" "$(stream_finish_reason)" content_filter
expect_contains "stream unsafe-method: [DONE]" "$BODY" "data: [DONE]"

chat_stream "$HARMLESS [[reply:unsafe-late]]"
TEXT="$(stream_text)"
expect_contains "stream unsafe-late: the safe opening was released" "$TEXT" "I hear that you are going through a lot"
expect_not_contains "stream unsafe-late: the unsafe end was not" "$TEXT" "10 grams"
expect_not_contains "stream unsafe-late: nor the method" "$TEXT" "40 tablets"
expect_eq "stream unsafe-late: finish_reason content_filter" "$(stream_finish_reason)" content_filter

# with token logprobs requested, the unsafe text must not leak through them either
for mode in unsafe-late unsafe-method; do
    req POST "$GW_URL/v1/chat/completions" \
        "{\"model\":\"test-model\",\"stream\":true,\"logprobs\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$HARMLESS [[reply:$mode]]\"}]}" -N
    expect_not_contains "stream $mode + logprobs: nothing unsafe anywhere in the raw stream" "$BODY" "10 grams"
    expect_not_contains "stream $mode + logprobs: no method in the raw stream" "$BODY" "tablets"
    # token logprobs would carry text the screener still holds back
    expect_not_contains "stream $mode + logprobs: no token text outside the screened content" "$BODY" '"token":'
    req POST "$GW_URL/v1/chat/completions" \
        "{\"model\":\"test-model\",\"logprobs\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$HARMLESS [[reply:$mode]]\"}]}"
    expect_not_contains "plain $mode + logprobs: nothing unsafe anywhere in the response" "$BODY" "10 grams"
done

chat_stream "$HARMLESS [[reply:human]]"
expect_eq "stream human: blocked" "$(stream_finish_reason)" content_filter
expect_not_contains "stream human: claim not released" "$(stream_text)" "licensed therapist with"

chat_stream "$HARMLESS [[reply:normal]]"
expect_eq "stream normal: finish stop" "$(stream_finish_reason)" stop
expect_contains "stream normal: complete text" "$(stream_text)" "try again later."

# include_usage: the usage chunk of the model is passed through
req POST "$GW_URL/v1/chat/completions" \
    '{"model":"test-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi there"}]}' -N
expect_contains "stream usage: usage chunk passed through" "$BODY" '"usage":'

# --- blocked replies are in the metrics and the store ---------------------------------
req GET "$GW_URL/metrics" "" 
BLOCKED="$(printf '%s\n' "$BODY" | awk '$1 == "mhguard_replies_blocked_total" { print $2 }')"
check "metrics: blocked replies counted (${BLOCKED:-none})" test "${BLOCKED:-0}" -ge 7
N_AI="$(sqlite3 "$GW_DATA/mhguard.db" "SELECT count(*) FROM decisions WHERE kind = 'ai_reply' AND action = 'block'")"
check "store: blocked replies recorded as ai_reply decisions ($N_AI)" test "${N_AI:-0}" -ge 7

gw_finish
