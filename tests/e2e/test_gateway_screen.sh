#!/usr/bin/env bash
# End-to-end: the screening API (/v1/screen, /v1/screen/batch) and the review
# queue endpoints. The batch output must match `mhguard screen --jsonl`
# field for field (plus the gateway's decision object), keep input order,
# and give bad lines an error line without stopping.
set -u
source "$(dirname "$0")/gateway_common.sh"

start_upstream
policy_from_example 3 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml"

MSG_HIGH="I want to kill myself. I have been thinking about taking all my pills."

# --- one message ------------------------------------------------------------------
req POST "$GW_URL/v1/screen" '{"id":"a1","text":"What a nice day for a walk."}'
expect_eq "screen none: 200" "$STATUS" 200
expect_eq "screen none: id echoed" "$(jget "$BODY" 'j["id"]')" a1
expect_eq "screen none: risk" "$(jget "$BODY" 'j["risk"]')" none
expect_eq "screen none: action" "$(jget "$BODY" 'j["action"]')" allow
expect_contains "screen none: decision id" "$(jget "$BODY" 'j["decision"]["id"]')" dec_

req POST "$GW_URL/v1/screen" "{\"id\":7,\"text\":\"$MSG_HIGH\",\"country\":\"US\",\"lang\":\"en\"}"
expect_eq "screen high: 200" "$STATUS" 200
expect_eq "screen high: risk" "$(jget "$BODY" 'j["risk"]')" high
expect_eq "screen high: action escalate" "$(jget "$BODY" 'j["action"]')" escalate
expect_eq "screen high: suicide category present" "$(jget "$BODY" '"suicide" in j["categories"]')" true
expect_eq "screen high: evidence with offsets into the text" \
    "$(jget "$BODY" 'all(0 <= e["start"] < e["end"] for e in j["evidence"]) and len(j["evidence"]) > 0')" true
expect_eq "screen high: versions reported" "$(jget "$BODY" 'sorted(j["versions"].keys())')" '["engine", "lexicon", "model"]'
expect_eq "screen high: queued for review" "$(jget "$BODY" 'j["decision"]["review_queued"]')" true
expect_contains "screen high: the strict system message is offered" "$(jget "$BODY" 'j["decision"]["system_message"]')" "988"
expect_eq "screen high: x-mhguard-decision-id header" "$(hdr x-mhguard-decision-id)" "$(jget "$BODY" 'j["decision"]["id"]')"

# the same fields as the CLI
CLI="$(printf '{"id":7,"text":"%s","lang":"en"}\n' "$MSG_HIGH" | "$MHGUARD_BIN" screen --jsonl 2>/dev/null)"
expect_eq "screen: same top-level fields as mhguard screen --jsonl (plus decision, engine_action)" \
    "$(jget "$BODY" 'sorted(set(j.keys()) - {"decision", "engine_action"})')" \
    "$(jget "$CLI" 'sorted(j.keys())')"
expect_eq "screen: same risk and categories as the CLI" \
    "$(jget "$BODY" '[j["risk"], sorted(j["categories"].keys())]')" "$(jget "$CLI" '[j["risk"], sorted(j["categories"].keys())]')"

req POST "$GW_URL/v1/screen" '{"id":1}'
expect_eq "screen without text: 400" "$STATUS" 400
NO_AGE=1 req POST "$GW_URL/v1/screen" '{"text":"hi","age_band":"elderly"}'
expect_eq "screen bad age band: 400" "$STATUS" 400
NO_AGE=1 req POST "$GW_URL/v1/screen" '{"text":"hi"}'
expect_eq "screen without the age band the policy requires: 400" "$STATUS" 400
NO_AGE=1 req POST "$GW_URL/v1/screen" '{"text":"hi","age_band":"adult"}'
expect_eq "screen with the age band as a field: 200" "$STATUS" 200

# conversation memory via the API
req POST "$GW_URL/v1/screen" '{"text":"I gave my cat away to my neighbour yesterday.","conversation_id":"s-conv-1"}'
req POST "$GW_URL/v1/screen" '{"text":"Goodbye everyone, thank you for everything.","conversation_id":"s-conv-1"}'
WITH="$(jget "$BODY" 'j["risk"]')"
req POST "$GW_URL/v1/screen" '{"text":"Goodbye everyone, thank you for everything."}'
WITHOUT="$(jget "$BODY" 'j["risk"]')"
check "screen: conversation_id carries risk over turns ($WITHOUT alone, $WITH in the conversation)" \
    python3 -c "import sys; L=['none','low','moderate','high','imminent']; sys.exit(0 if L.index('$WITH') > L.index('$WITHOUT') else 1)"

# --- batch: JSON lines -------------------------------------------------------------------
{
    echo '{"id":"b1","text":"I love my new job."}'
    echo "{\"id\":\"b2\",\"text\":\"$MSG_HIGH\"}"
    echo 'this line is not json'
    echo '{"id":"b4"}'
    printf '{"id":"b5","text":"caf\xc3\xa9 au lait"}\n'
    echo ''
    echo '{"id":"b6","text":"estoy bien, gracias","lang":"es"}'
} >"$GW_WORK/batch.jsonl"
STATUS="$(curl -sS -o "$GW_WORK/batch.out" -w '%{http_code}' -H "Authorization: Bearer $APP_KEY" \
    -H "x-mhguard-age-band: adult" -H "Content-Type: application/x-ndjson" --data-binary "@$GW_WORK/batch.jsonl" "$GW_URL/v1/screen/batch")"
expect_eq "batch jsonl: 200" "$STATUS" 200
expect_eq "batch jsonl: one output line per input line, blank lines skipped" "$(wc -l <"$GW_WORK/batch.out")" 6
expect_eq "batch jsonl: ids in order" \
    "$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l).get("id")) for l in open(sys.argv[1])))' "$GW_WORK/batch.out")" \
    "b1 b2 None b4 b5 b6"
expect_eq "batch jsonl: bad lines get an error, others a risk" \
    "$(python3 -c 'import json,sys; print(" ".join("E" if "error" in json.loads(l) else json.loads(l)["risk"] for l in open(sys.argv[1])))' "$GW_WORK/batch.out")" \
    "none high E E none none"

# --- batch: JSON items --------------------------------------------------------------------
req POST "$GW_URL/v1/screen/batch" "{\"items\":[{\"id\":1,\"text\":\"hello\"},{\"id\":2,\"text\":\"$MSG_HIGH\"},{\"id\":3}]}"
expect_eq "batch json: 200" "$STATUS" 200
expect_eq "batch json: summary" "$(jget "$BODY" '[j["summary"]["total"], j["summary"]["failed"]]')" "[3, 1]"
expect_eq "batch json: risks" "$(jget "$BODY" '[r.get("risk", "E") for r in j["results"]]')" '["none", "high", "E"]'

python3 -c '
import json
print(json.dumps({"items": [{"id": i, "text": "hi"} for i in range(1001)]}))' >"$GW_WORK/toomany.json"
req POST "$GW_URL/v1/screen/batch" "@$GW_WORK/toomany.json"
expect_eq "batch: more than 1000 items is 413" "$STATUS" 413

# --- review queue: list, claim, resolve --------------------------------------------
REVIEWER_KEY="$(make_key reviewer)"
OTHER_REVIEWER="$(make_key reviewer)"
check "review: reviewer keys created" test -n "$REVIEWER_KEY" -a -n "$OTHER_REVIEWER"
req GET "$GW_URL/v1/review/queue" "" -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review list: 200" "$STATUS" 200
ITEM="$(jget "$BODY" '[i["id"] for i in j["items"]][0]')"
N_OPEN="$(jget "$BODY" 'len(j["items"])')"
check "review list: the high-risk screens are queued ($N_OPEN)" test "$N_OPEN" -ge 2
req POST "$GW_URL/v1/review/$ITEM/claim" "" -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review claim: 200" "$STATUS" 200
expect_eq "review claim: state claimed" "$(jget "$BODY" 'j["state"]')" claimed
req POST "$GW_URL/v1/review/$ITEM/resolve" '{"outcome":"followed_up"}' -H "Authorization: Bearer $OTHER_REVIEWER"
expect_eq "review resolve by another reviewer: 409" "$STATUS" 409
req POST "$GW_URL/v1/review/$ITEM/resolve" '{"outcome":"followed_up","note":"called the user back"}' \
    -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review resolve: 200" "$STATUS" 200
expect_eq "review resolve: state resolved" "$(jget "$BODY" 'j["state"]')" resolved
expect_not_contains "review resolve: the note is sealed at rest" \
    "$(sqlite3 "$GW_DATA/mhguard.db" "SELECT note FROM review_queue WHERE id = $ITEM")" "called the user"
req POST "$GW_URL/v1/review/$ITEM/resolve" '{"outcome":"followed_up"}' -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review resolve twice: 404" "$STATUS" 404
req POST "$GW_URL/v1/review/999999/claim" "" -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review claim of a missing item: 404" "$STATUS" 404
req POST "$GW_URL/v1/review/$ITEM/resolve" '{}' -H "Authorization: Bearer $REVIEWER_KEY"
expect_eq "review resolve without outcome: 400" "$STATUS" 400

gw_finish
