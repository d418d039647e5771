#!/usr/bin/env bash
# End-to-end: `mhguard serve` start-up. Every ASL-MH start-up refusal (one
# fixture per rule in tests/fixtures/policy, shared with the policy unit
# tests) makes serve exit 2 and print the broken rule by name; parse errors
# and bad flags exit 2 with a clear message; the good fixture of every level
# starts; what levels 4 and 5 demand per request is enforced.
set -u
source "$(dirname "$0")/gateway_common.sh"
FIX="$GW_SRC_DIR/tests/fixtures/policy"
start_upstream

# serve_once POLICY [flags...]: run serve expecting it to refuse; sets RC, ERR
serve_once() {
    local policy="$1"
    shift
    "$MHGUARD_BIN" serve --config "$policy" --listen 127.0.0.1:0 --data-dir "$GW_WORK/refused-data" \
        --upstream "$UP_URL" --cache-dir "$GW_CACHE" "$@" >"$GW_WORK/once.out" 2>&1 </dev/null &
    local pid=$! i
    # a policy that is accepted would serve forever: bound the wait
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid"
    RC=$?
    ERR="$(cat "$GW_WORK/once.out")"
}

# expected rule id from the fixture name: bad-L3-oversight -> L3.oversight
rule_of() {
    local n="${1#bad-}"
    n="${n%.yaml}"
    case "$n" in
        minor-thresholds) echo "age.minor_thresholds" ;;
        L4-validation-metrics) echo "L4.validation_record" ;;
        *) local head="${n%%-*}" tail="${n#*-}"; echo "$head.${tail//-/_}" ;;
    esac
}

n_rules=0
for f in "$FIX"/bad-L*.yaml "$FIX"/bad-floor-*.yaml "$FIX"/bad-minor-*.yaml; do
    [ -f "$f" ] || continue
    name="$(basename "$f")"
    rule="$(rule_of "$name")"
    serve_once "$f"
    expect_eq "refusal $name: exit status 2" "$RC" 2
    expect_contains "refusal $name: names rule $rule" "$ERR" "rule $rule:"
    expect_contains "refusal $name: says it refuses to start" "$ERR" "refusing to start"
    n_rules=$((n_rules + 1))
done
check "refusals: at least one fixture per level rule ($n_rules)" test "$n_rules" -ge 25

serve_once "$FIX/bad-multi.yaml"
expect_eq "several broken rules: exit 2" "$RC" 2
for rule in L3.setting L3.oversight L3.reminders; do
    expect_contains "several broken rules: $rule on its own line" "$ERR" "  rule $rule:"
done

for f in bad-unknown-key bad-type bad-malformed bad-duplicate-key bad-api-key; do
    serve_once "$FIX/$f.yaml"
    expect_eq "parse error $f: exit 2" "$RC" 2
    expect_contains "parse error $f: cannot start, names the file" "$ERR" "$f.yaml"
done
expect_contains "parse error: unknown key gets a suggestion" \
    "$(serve_once "$FIX/bad-unknown-key.yaml"; echo "$ERR")" "did you mean 'review_queue'"

serve_once "$GW_WORK/does-not-exist.yaml"
expect_eq "missing policy file: exit 2" "$RC" 2
ERR="$("$MHGUARD_BIN" serve 2>&1)"
expect_eq "no --config: exit 2" "$?" 2
ERR="$("$MHGUARD_BIN" serve --config x.yaml --bogus 2>&1)"
expect_eq "unknown flag: exit 2" "$?" 2
expect_contains "unknown flag: named" "$ERR" "--bogus"

# flags are validated by the policy too: level 6 refuses a public address
serve_once "$FIX/good-level6.yaml" --listen 0.0.0.0:0
expect_eq "level 6 with --listen 0.0.0.0: exit 2" "$RC" 2
expect_contains "level 6 with --listen 0.0.0.0: rule L6.listen" "$ERR" "L6.listen"

# the port is taken
policy_adapt "$FIX/good-level1.yaml" "$GW_WORK/good1.yaml"
start_gateway "$GW_WORK/good1.yaml" gw-busy
serve_once "$GW_WORK/good1.yaml" --listen "127.0.0.1:$GW_PORT"
expect_eq "port in use: exit 2" "$RC" 2
expect_contains "port in use: says so" "$ERR" "cannot listen"
stop_gateway

# --- the good fixture of every level starts and serves ---------------------------
for level in 1 2 3 4 5 6; do
    policy_adapt "$FIX/good-level$level.yaml" "$GW_WORK/good$level.yaml"
    start_gateway "$GW_WORK/good$level.yaml" "good$level"
    req GET "$GW_URL/readyz" ""
    expect_eq "level $level: starts and is ready" "$(jget "$BODY" '[j["status"], j["asl_level"]]')" "[\"ready\", $level]"
    case "$level" in
        4)
            # users must authenticate as licensed professionals
            chat "hello"
            expect_eq "level 4: an app key may not chat (clinician role required)" "$STATUS" 403
            CLIN="$(make_key clinician)"
            chat "hello" -H "Authorization: Bearer $CLIN"
            expect_eq "level 4: a clinician key may" "$STATUS" 200
            expect_eq "level 4: every output carries its explanation" \
                "$(jget "$BODY" '"explanation" in j["mhguard"]')" true
            ;;
        5)
            chat "hello"
            expect_eq "level 5: a request without its responsible clinician is refused" "$STATUS" 400
            chat "hello" -H "x-mhguard-clinician: dr-4711"
            expect_eq "level 5: with the clinician it is served" "$STATUS" 200
            ;;
    esac
    stop_gateway
done

gw_finish
