#!/usr/bin/env bash
# End-to-end test of `mhguard screen` (one message and --jsonl) against the
# real engine and the shipped lexicons. Needs $MHGUARD_BIN and python3 (for
# JSON checks). Any mismatch fails loudly with the reason.
set -euo pipefail

BIN=${MHGUARD_BIN:?set MHGUARD_BIN to the mhguard binary}
command -v python3 >/dev/null || { echo "FAIL: python3 is required" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Run the CLI, capture stdout/stderr/status without tripping set -e.
run() { # run <stdin-file> <args...>
    local in=$1; shift
    set +e
    "$BIN" screen "$@" <"$in" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    set -e
}

: >"$TMP/empty"

# ---- usage -------------------------------------------------------------------
run "$TMP/empty" --help
[ "$RC" -eq 0 ] || fail "--help exit $RC"
grep -q "empty_line" "$TMP/out" || fail "--help does not document empty lines"
run "$TMP/empty"
[ "$RC" -eq 2 ] || fail "no TEXT: exit $RC, expected 2"
run "$TMP/empty" --bogus "x"
[ "$RC" -eq 2 ] || fail "unknown option: exit $RC, expected 2"
run "$TMP/empty" --jsonl --threads 0
[ "$RC" -eq 2 ] || fail "--threads 0: exit $RC, expected 2"
run "$TMP/empty" --jsonl "text"
[ "$RC" -eq 2 ] || fail "--jsonl with TEXT: exit $RC, expected 2"
run "$TMP/empty" --data-dir "$TMP/no-such-dir" "hello"
[ "$RC" -eq 2 ] || fail "missing data dir: exit $RC, expected 2"
pass "usage errors exit 2, --help exits 0"

# ---- one message ---------------------------------------------------------------
risk_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["risk"])' <"$TMP/out"; }

CRISIS="I'm going to kill myself tonight, I already have the pills ready"
run "$TMP/empty" --json --lang en "$CRISIS"
[ "$RC" -eq 0 ] || fail "crisis --json exit $RC: $(cat "$TMP/err")"
r=$(risk_of)
case "$r" in high|imminent) ;; *) fail "crisis example got risk '$r', expected high or imminent (is data/lexicons/en.yaml there?)";; esac
python3 - "$TMP/out" "$CRISIS" <<'EOF' || fail "crisis verdict JSON is incomplete"
import json, sys
v = json.load(open(sys.argv[1])); text = sys.argv[2].encode()
for k in ("risk", "score", "categories", "evidence", "flags", "action", "versions"):
    assert k in v, "missing " + k
assert v["action"] in ("escalate", "crisis"), v["action"]
assert v["evidence"], "no evidence"
for e in v["evidence"]:
    if e.get("turn", 0) == 0 and "text" in e:
        assert text[e["start"]:e["end"]].decode() == e["text"], e
EOF
pass "crisis example: risk $r"
crisis_risk=$r

run "$TMP/empty" --json --lang en "I would never kill myself, I love my life and my family"
[ "$RC" -eq 0 ] || fail "negated --json exit $RC"
r=$(risk_of)
case "$r" in none|low) ;; *) fail "negated example got risk '$r', expected none or low";; esac
pass "negated example: risk $r"

# The same in Spanish, without a language hint (detection must route it).
run "$TMP/empty" --json "quiero matarme esta noche, ya tengo las pastillas listas"
[ "$RC" -eq 0 ] || fail "es crisis exit $RC"
r=$(risk_of)
case "$r" in high|imminent) ;; *) fail "es crisis example got risk '$r', expected high or imminent";; esac
run "$TMP/empty" --json "nunca me mataría, amo mi vida y a mi familia"
[ "$RC" -eq 0 ] || fail "es negated exit $RC"
r=$(risk_of)
case "$r" in none|low) ;; *) fail "es negated example got risk '$r', expected none or low";; esac
pass "Spanish crisis and negated examples"

run "$TMP/empty" --lang en "$CRISIS"
[ "$RC" -eq 0 ] || fail "readable verdict exit $RC"
grep -q "^Risk:" "$TMP/out" && grep -q "^Action:" "$TMP/out" && grep -q "^Versions:" "$TMP/out" \
    || fail "readable verdict lacks Risk/Action/Versions: $(cat "$TMP/out")"
grep -q "Evidence" "$TMP/out" || fail "readable verdict shows no evidence"
printf '%s' "$CRISIS" >"$TMP/crisis.txt"
run "$TMP/crisis.txt" --json --lang en -
[ "$RC" -eq 0 ] || fail "TEXT '-' (stdin): exit $RC"
[ "$(risk_of)" = "$crisis_risk" ] || fail "TEXT '-' (stdin) gave another verdict than the argument"
pass "readable verdict and stdin text"

# ---- --jsonl: order with threads -------------------------------------------------
python3 - "$TMP/many.jsonl" <<'EOF'
import json, sys
texts = ["hello, how are you?", "I want to kill myself", "this deadline is killing me",
         "my friend said she wants to die", "I used to cut, clean six years now",
         "what are the warning signs of suicide?", "k i l l myself", "i'm fine",
         "I have been feeling really low lately and I do not know why " * 40]
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        obj = {"id": i + 1 if i % 3 else "s%d" % (i + 1), "text": texts[(i * 7) % len(texts)]}
        if i % 5 == 0:
            obj["lang"] = "en"
        f.write(json.dumps(obj) + "\n")
EOF
run "$TMP/many.jsonl" --jsonl --threads 2 --no-progress
[ "$RC" -eq 0 ] || fail "2000 lines --threads 2: exit $RC: $(tail -3 "$TMP/err")"
cp "$TMP/out" "$TMP/out2"
grep -q "2000 lines: 2000 screened, 0 failed" "$TMP/err" || fail "summary: $(cat "$TMP/err")"
grep -q $'\r' "$TMP/err" && fail "progress written although stderr is not a terminal"
python3 - "$TMP/many.jsonl" "$TMP/out2" <<'EOF' || fail "order/contents check (threads 2)"
import json, sys
ins = [json.loads(l) for l in open(sys.argv[1])]
outs = open(sys.argv[2]).read().split("\n")
assert outs[-1] == "", "output does not end with a newline"
outs = [json.loads(l) for l in outs[:-1]]
assert len(outs) == len(ins), (len(outs), len(ins))
for i, (a, b) in enumerate(zip(ins, outs)):
    assert list(b.keys())[0] == "id", "id is not the first field on line %d" % (i + 1)
    assert b["id"] == a["id"], "line %d: id %r, expected %r" % (i + 1, b["id"], a["id"])
    for k in ("risk", "score", "categories", "evidence", "flags", "action", "versions"):
        assert k in b, "line %d lacks %s" % (i + 1, k)
    assert "error" not in b
EOF
run "$TMP/many.jsonl" --jsonl --threads 1 --no-progress
[ "$RC" -eq 0 ] || fail "2000 lines --threads 1: exit $RC"
cmp -s "$TMP/out" "$TMP/out2" || fail "--threads 1 and --threads 2 outputs differ"
pass "2000 lines in input order, identical with 1 and 2 threads"

run "$TMP/many.jsonl" --jsonl --threads 2 --progress
[ "$RC" -eq 0 ] || fail "--progress run exit $RC"
grep -q "lines/s" "$TMP/err" || fail "--progress printed nothing"
pass "--progress forces progress on stderr"

# ---- --jsonl: every kind of bad input ----------------------------------------------
python3 - "$TMP/bad.jsonl" <<'EOF'
import sys
L = []
L.append(b'{"id": "ok1", "text": "hello there"}')                          # 1 ok
L.append(b'this is not json')                                             # 2 invalid_json
L.append(b'[1, 2, 3]')                                                    # 3 not_object
L.append(b'{"id": "n1"}')                                                 # 4 missing_text
L.append(b'{"id": "n2", "text": 42}')                                     # 5 missing_text
L.append(b'{"id": "u1", "text": "bad \xff byte"}')                       # 6 invalid_utf8 (raw)
L.append(b'{"id": "u2", "text": "lone \\ud800 surrogate"}')               # 7 invalid_utf8 (escape)
L.append(b'{"id": "long", "text": "' + b"a" * (1024 * 1024 + 10) + b'"}')  # 8 line_too_long
L.append(b'{"id": "big", "text": "' + b"b " * 150000 + b'"}')            # 9 text_too_long
L.append(b'')                                                             # 10 empty_line
L.append(b'{"id": "l1", "text": "hi", "lang": 5}')                       # 11 bad_field
L.append(b'{"id": "t1", "text": "hi", "turns": "not a list"}')           # 12 bad_field
L.append(b'{"id": "d1", "text": "a", "text": "b"}')                      # 13 invalid_json (dup)
L.append(b'{"id": "ok2", "text": "goodbye everyone", "turns": ["I gave my cat away"]}')  # 14 ok
L.append(b'   \t ')                                                       # 15 empty_line
L.append(b'{"id": "crlf", "text": "windows line end"}\r')                # 16 ok
L.append(b'{"id": "last", "text": "fine thanks"}')                       # 17 ok, no final newline
open(sys.argv[1], "wb").write(b"\n".join(L))
EOF
run "$TMP/bad.jsonl" --jsonl --threads 2
[ "$RC" -eq 1 ] || fail "bad input: exit $RC, expected 1"
grep -q "17 lines: 4 screened, 13 failed" "$TMP/err" || fail "bad input summary: $(cat "$TMP/err")"
python3 - "$TMP/out" <<'EOF' || fail "bad input error lines"
import json, sys
want = {2: ("invalid_json", None), 3: ("not_object", None), 4: ("missing_text", "n1"),
        5: ("missing_text", "n2"), 6: ("invalid_utf8", None), 7: ("invalid_utf8", None),
        8: ("line_too_long", None), 9: ("text_too_long", "big"), 10: ("empty_line", None),
        11: ("bad_field", "l1"), 12: ("bad_field", "t1"), 13: ("invalid_json", None),
        15: ("empty_line", None)}
ok = {1: "ok1", 14: "ok2", 16: "crlf", 17: "last"}
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "output does not end with a newline"
lines = [json.loads(l) for l in lines[:-1]]
assert len(lines) == 17, "got %d output lines" % len(lines)
for n, o in enumerate(lines, 1):
    if n in want:
        code, oid = want[n]
        assert "error" in o, "line %d: expected error %s, got %r" % (n, code, o)
        assert o["line"] == n, "line %d: error reports line %r" % (n, o["line"])
        assert o["error"]["code"] == code, "line %d: code %s, expected %s" % (n, o["error"]["code"], code)
        assert o["error"]["message"], "line %d: empty message" % n
        assert o["id"] == oid, "line %d: id %r, expected %r" % (n, o["id"], oid)
        assert list(o.keys()) == ["id", "line", "error"], list(o.keys())
    else:
        assert "error" not in o, "line %d: unexpected error %r" % (n, o.get("error"))
        assert o["id"] == ok[n] and "risk" in o, "line %d: %r" % (n, o)
EOF
pass "each bad-input kind reported with its line number; valid lines screened"

# ---- edge inputs -----------------------------------------------------------------
run "$TMP/empty" --jsonl
[ "$RC" -eq 0 ] || fail "empty input: exit $RC"
[ ! -s "$TMP/out" ] || fail "empty input produced output"
grep -q "0 lines: 0 screened, 0 failed" "$TMP/err" || fail "empty input summary: $(cat "$TMP/err")"
printf '\n' >"$TMP/nl"
run "$TMP/nl" --jsonl
[ "$RC" -eq 1 ] && [ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "a lone newline must give one empty_line error"
printf '{"text":"no id here"}' >"$TMP/noid"
run "$TMP/noid" --jsonl
[ "$RC" -eq 0 ] || fail "line without id: exit $RC"
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); assert o["id"] is None and "risk" in o' \
    "$TMP/out" || fail "line without id must echo id null"
pass "empty input, lone newline, missing id"
echo "all mhguard screen end-to-end checks passed"
