#!/usr/bin/env bash
# End to end: `mhguard train` on a tiny fixture (deterministic bytes,
# manifest, test rows never used), then `mhguard eval` with the model alone,
# a scores file and the full engine, in terminal, JSON and HTML form.
# Needs only the repository (tests/fixtures), not ../shared/data.
set -euo pipefail
BIN=${MHGUARD_BIN:?MHGUARD_BIN not set}
TESTS=${MHG_TEST_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
FIX=$TESTS/fixtures
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }

# --- train: model + manifest, deterministic -------------------------------
"$BIN" train --data "$FIX/model/tiny.jsonl" --out "$W/a.model" --hash-bits 14 --c 4 \
  --null-negatives none 2>"$W/train.err" || { cat "$W/train.err"; fail "train exited $?"; }
[ -s "$W/a.model" ] || fail "no model written"
[ -s "$W/a.model.json" ] || fail "no manifest written"
ok "train writes model and manifest"

"$BIN" train --data "$FIX/model/tiny.jsonl" --out "$W/b.model" --hash-bits 14 --c 4 \
  --null-negatives none 2>/dev/null
cmp -s "$W/a.model" "$W/b.model" || fail "same command + same data gave different bytes"
ok "training is deterministic (byte-identical model)"

python3 - "$W/a.model.json" "$FIX/model/tiny.jsonl" <<'EOF' || fail "manifest content"
import json, sys, hashlib
m = json.load(open(sys.argv[1]))
for k in ("command", "data", "date", "features", "heads", "model_version", "training", "model_sha256"):
    assert k in m, k
assert m["features"]["hash_bits"] == 14
assert m["data"][0]["sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
# test rows are never read into the model
rows = [json.loads(l) for l in open(sys.argv[2])]
ntest = sum(r["split"] == "test" for r in rows)
assert ntest > 0 and m["data"][0]["rows_other_splits_skipped"] == ntest, m["data"][0]
heads = {h["category"]: h for h in m["heads"]}
assert set(heads) >= {"suicide", "self_harm"}
for h in heads.values():
    assert 0 < h["t_moderate"] <= 1 and 0 < h["t_low"] <= h["t_moderate"], h
    assert h["platt_a"] < 0, h          # higher margin -> higher probability
    assert "dev_metrics" in h
EOF
ok "manifest has data hashes, features, heads with dev calibration and thresholds"

# a different seed (hash seed) gives a different model, same settings otherwise
"$BIN" train --data "$FIX/model/tiny.jsonl" --out "$W/c.model" --hash-bits 14 --c 4 --seed 7 \
  --null-negatives none 2>/dev/null
cmp -s "$W/a.model" "$W/c.model" && fail "seed has no effect"
ok "seed changes the model"

# bad invocations: usage errors exit 2, nothing written
set +e
"$BIN" train --out "$W/x.model" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "train without --data should exit 2 (got $rc)"
[ ! -e "$W/x.model" ] || fail "model written on usage error"
set +e
"$BIN" train --data /nonexistent.jsonl --out "$W/x.model" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "train on a missing file should exit 2 (got $rc)"
ok "train usage errors exit 2"

# --- eval: model alone on the fixture's test split -----------------------
"$BIN" eval --data "$FIX/model/tiny.jsonl" --split test --system "model:$W/a.model" \
  --label-field suicide,self_harm --group-field lang,source --bootstrap 50 \
  --json "$W/r.json" --html "$W/r.html" >"$W/r.txt" 2>"$W/r.err" || { cat "$W/r.err"; fail "eval exited"; }
grep -q "task suicide" "$W/r.txt" || fail "terminal table lacks the suicide task"
grep -q "source=fixture-a" "$W/r.txt" || fail "terminal table lacks per-source rows"
python3 - "$W/r.json" "$FIX/model/tiny.jsonl" <<'EOF' || fail "eval JSON content"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2]) if json.loads(l)["split"] == "test"]
s = r["systems"][0]
assert s["info"]["model"].startswith("m1-"), s["info"]
t = s["tasks"]["suicide"]
o = t["overall"]
assert o["n"] == len(rows), (o["n"], len(rows))
assert o["positives"] == sum(x["suicide"] for x in rows)
cm = o["confusion"]
assert cm["tp"] + cm["fp"] + cm["tn"] + cm["fn"] == o["n"]
for k in ("precision", "recall", "fpr", "auprc", "roc_auc", "ece", "reliability", "sweep"):
    assert k in o, k
assert len(o["sweep"]) == 19 and len(o["reliability"]) == 10
assert set(t["groups"]["source"]) == {x["source"] for x in rows}
assert "overall" in s["tasks"]
assert len(t["curves"]["roc"]) >= 2
EOF
grep -q "<svg" "$W/r.html" && grep -q "</html>" "$W/r.html" || fail "HTML report incomplete"
ok "eval (model alone): terminal, JSON and HTML reports"

# --- eval: precomputed scores, null labels, a bad line -------------------
set +e
"$BIN" eval --data "$FIX/eval/mixed.jsonl" --system "scores:$FIX/eval/mixed.scores.jsonl" \
  --label-field suicide --json "$W/s.json" --bootstrap 0 >"$W/s.txt" 2>"$W/s.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a bad input line should give exit 1 (got $rc)"
grep -q "line 6" "$W/s.err" || fail "the bad line is not named on stderr"
python3 - "$W/s.json" <<'EOF' || fail "scores eval content"
import json, sys
o = json.load(open(sys.argv[1]))["systems"][0]["tasks"]["suicide"]["overall"]
# e1 (+, .9), e2 (-, .1), e3 (+ via labels.suicide=high, .4), e4 (- via level none, .3);
# e5 has a null label: counted as unlabelled, flagged at 0.7 >= 0.5
assert (o["n"], o["positives"], o["unlabelled"], o["unlabelled_flagged"]) == (4, 2, 1, 1), o
assert abs(o["roc_auc"]["value"] - 1.0) < 1e-9          # both positives above both negatives
assert o["confusion"] == {"tp": 1, "fp": 0, "tn": 2, "fn": 1}, o["confusion"]
EOF
ok "eval (scores file): labels from both forms, null labels not negatives, bad line reported"

# --threshold moves the operating point
"$BIN" eval --data "$FIX/eval/mixed.jsonl" --system "scores:$FIX/eval/mixed.scores.jsonl" \
  --threshold 0.35 --json "$W/t.json" --bootstrap 0 >/dev/null 2>&1 || true
python3 -c "
import json,sys
o=json.load(open('$W/t.json'))['systems'][0]['tasks']['suicide']['overall']
assert o['confusion']=={'tp':2,'fp':0,'tn':2,'fn':0}, o['confusion']" || fail "--threshold"
ok "eval --threshold sets the operating point"

# --- eval: the full engine with the trained model, compared to rules only --
if "$BIN" eval --data "$FIX/model/tiny.jsonl" --split test --model "$W/a.model" --compare rules \
     --label-field suicide,self_harm --json "$W/e.json" --html "$W/e.html" --bootstrap 20 \
     >"$W/e.txt" 2>"$W/e.err"; then
  python3 - "$W/e.json" "$W/a.model.json" <<'EOF' || fail "engine eval content"
import json, sys
r = json.load(open(sys.argv[1])); man = json.load(open(sys.argv[2]))
a, b = r["systems"]
assert a["info"]["model"] == man["model_version"], (a["info"], man["model_version"])
assert b["info"]["model"] == "none", b["info"]
assert a["info"].get("lexicon"), a["info"]
EOF
  ok "eval (engine + model vs rules only): versions reported side by side"
else
  cat "$W/e.err" >&2
  fail "engine eval failed"
fi

# --- fusion through `mhguard screen` -------------------------------------
# A paraphrase the fixture model learned: model evidence (source "model")
# pointing into the text, the model's version in the verdict.
"$BIN" screen --json --model "$W/a.model" "i keep thinking about killing myself honestly" \
  >"$W/f1.json" 2>"$W/f1.err" || { cat "$W/f1.err"; fail "screen with a model"; }
python3 - "$W/f1.json" "$W/a.model.json" <<'EOF' || fail "model evidence in the verdict"
import json, sys
v = json.load(open(sys.argv[1])); man = json.load(open(sys.argv[2]))
text = "i keep thinking about killing myself honestly"
assert v["versions"]["model"] == man["model_version"], v["versions"]
ms = [e for e in v["evidence"] if e["source"] == "model"]
assert ms, v["evidence"]
for e in ms:
    assert text.encode()[e["start"]:e["end"]].decode() == e["text"], e
    assert e["rule"].startswith("model."), e
    assert 0 < e["weight"] <= 1, e
assert v["categories"]["suicide"]["level"] in ("low", "moderate", "high", "imminent"), v
EOF
ok "fusion: model evidence with spans and the model version"

# Context still applies: where the rules mark a suicide match as negated (or
# idiom / hypothetical / informational) and see no plain first-person match,
# the model alone must not lift suicide above low.
for t in "i would never kill myself" "i would never ever want to kill myself, i love my life"; do
  "$BIN" screen --json --model none "$t" >"$W/r0.json"
  "$BIN" screen --json --model "$W/a.model" "$t" >"$W/r1.json"
  python3 - "$W/r0.json" "$W/r1.json" <<'EOF' || fail "context cap for: $t"
import json, sys
r0, r1 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
L = ["none", "low", "moderate", "high", "imminent"]
lvl = lambda v, c: L.index(v["categories"].get(c, {"level": "none"})["level"])
disc = {"negated", "idiom", "hypothetical", "informational", "past"}
sui = [e for e in r0["evidence"] if e["category"] == "suicide"]
plain = [e for e in sui if not (set(e["flags"]) & disc)]
assert sui and not plain, ("precondition: the rules must mark this as discounted", r0["evidence"])
assert lvl(r1, "suicide") <= max(lvl(r0, "suicide"), 1), (r0["categories"], r1["categories"])
EOF
done
ok "fusion: negated messages are not pushed above low by the model"

echo "$pass passed, 0 failed"
