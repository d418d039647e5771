#!/usr/bin/env bash
# End-to-end: every decision the gateway makes (user messages and model
# replies) lands in the audit hash chain with pseudonymous ids and no
# message text; `mhguard audit verify` accepts the chain, and catches an
# edit, a deletion and a reordering made with sqlite3 behind its back.
set -u
source "$(dirname "$0")/gateway_common.sh"

start_upstream
policy_from_example 3 "$GW_WORK/policy.yaml"
start_gateway "$GW_WORK/policy.yaml"

SECRET_USER="alice@example.com"
chat "Can you suggest a good recipe for banana bread?" -H "x-mhguard-user: $SECRET_USER"
chat "I want to kill myself. I have been thinking about taking all my pills." \
    -H "x-mhguard-conversation: audit-conv-1" -H "x-mhguard-user: $SECRET_USER"
DECISION="$(hdr x-mhguard-decision-id)"
chat "I have the pills in my hand and I am going to swallow all of them tonight to kill myself." \
    -H "x-mhguard-conversation: audit-conv-1"
chat "hello [[reply:unsafe-method]]"
req POST "$GW_URL/v1/screen" '{"text":"I feel fine today"}'
stop_gateway # the chain is read by the CLI below, as an auditor would

DB="$GW_DATA/mhguard.db"
export MHG_DATA_HOME="$GW_DATA"
audit() { "$MHGUARD_BIN" audit "$@" --data-dir "$GW_DATA"; }

N_DEC="$(sqlite3 "$DB" "SELECT count(*) FROM decisions")"
N_AUDIT="$(sqlite3 "$DB" "SELECT count(*) FROM audit_log WHERE record LIKE '%\"event\":\"decision\"%'")"
expect_eq "audit: one audit record per decision" "$N_AUDIT" "$N_DEC"
# 5 user messages + 3 model replies checked (the crisis reply is not a model reply)
expect_eq "audit: user messages and replies are decisions" \
    "$(sqlite3 "$DB" "SELECT group_concat(kind || ':' || n) FROM (SELECT kind, count(*) n FROM decisions GROUP BY kind ORDER BY kind)")" \
    "ai_reply:3,user_message:5"
ALL="$(sqlite3 "$DB" "SELECT record FROM audit_log")"
expect_contains "audit: the escalated decision is in the chain" "$ALL" "$DECISION"
expect_not_contains "audit: no message text" "$ALL" "kill myself"
expect_not_contains "audit: no raw user id" "$ALL" "alice"
expect_not_contains "store: no raw user id in decisions" "$(sqlite3 "$DB" "SELECT * FROM decisions")" "alice"
expect_contains "audit: policy version recorded" "$ALL" '"policy":"b2:'

OUT="$(audit verify 2>&1)"
expect_eq "verify: intact chain exits 0" "$?" 0
echo "$OUT" | head -n 3

cp "$DB" "$GW_WORK/pristine.db"
restore() { cp "$GW_WORK/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"; }

# 1. edit a record (change the risk in the third record)
restore
sqlite3 "$DB" "UPDATE audit_log SET record = replace(record, '\"risk\":\"imminent\"', '\"risk\":\"none\"') WHERE record LIKE '%\"risk\":\"imminent\"%'"
OUT="$(audit verify 2>&1)"
RC=$?
expect_ne "verify: an edited record fails" "$RC" 0
BAD_SEQ="$(sqlite3 "$GW_WORK/pristine.db" "SELECT seq FROM audit_log WHERE record LIKE '%\"risk\":\"imminent\"%' LIMIT 1")"
expect_contains "verify: names the edited record (seq $BAD_SEQ)" "$OUT" "$BAD_SEQ"

# 2. delete a record in the middle
restore
sqlite3 "$DB" "DELETE FROM audit_log WHERE seq = 3"
OUT="$(audit verify 2>&1)"
expect_ne "verify: a deleted record fails" "$?" 0
expect_contains "verify: says where (seq 3)" "$OUT" "3"

# 3. reorder: swap two records (their hashes move with them)
restore
sqlite3 "$DB" "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = -1;"
OUT="$(audit verify 2>&1)"
expect_ne "verify: reordered records fail" "$?" 0

# 4. the pristine copy still verifies
restore
audit verify >/dev/null 2>&1
expect_eq "verify: the untouched chain still passes" "$?" 0

N_EXPORT="$(audit export 2>/dev/null | wc -l)"
expect_eq "export: one JSON line per record" "$N_EXPORT" "$(sqlite3 "$DB" "SELECT count(*) FROM audit_log")"

gw_finish
