#!/usr/bin/env bash
# Baseline: fastText on the same training rows as the shipped model, scored
# on the same split with the same metrics (`mhguard eval` reading a scores
# file), timed on one core; then recall of each system at the engine's
# false-positive rate.
#
#   bench/baseline_fasttext.sh [--split test|dev] [--out DIR] [--model-only]
# (--model-only: compare the model alone with fastText, without the engine)
#
# The training rows follow the shipped model's manifest exactly: train split
# of every --data file it lists, labels from the suicide/self_harm fields or
# labels.<cat>, null-labelled rows of the manifest's null-negative sources
# as negatives unless they contain an exclusion stem, and the same source
# weights (row copies). Text is lower-cased with whitespace collapsed (the
# usual fastText preprocessing; mhguard reads its own normalized text).
# fastText settings (fixed, not tuned on test): supervised, softmax, dim 50,
# word 1-2 grams, char 3-5 grams, lr 0.5, 25 epochs, one thread, seed 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SPLIT=test
OUT=$ROOT/build/bench-fasttext
MODEL_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --split) SPLIT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --model-only) MODEL_ONLY=1; shift ;;
    *) echo "usage: $0 [--split test|dev] [--out DIR] [--model-only]" >&2; exit 2 ;;
  esac
done
BIN=${MHGUARD_BIN:-$ROOT/build/mhguard}
MODEL=${MHG_MODEL:-$ROOT/data/models/mhguard.model}
MANIFEST=$MODEL.json
command -v fasttext >/dev/null || { echo "fasttext not installed (apt-get install fasttext)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "build mhguard first ($BIN)" >&2; exit 2; }
[ -f "$MANIFEST" ] || { echo "no manifest $MANIFEST" >&2; exit 2; }
mkdir -p "$OUT"
cd "$ROOT"

# 1. training files (one per head) and the evaluation texts
python3 - "$MANIFEST" "$OUT" "$SPLIT" <<'EOF'
import json, re, sys
man, out, split = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
files = [d["path"] for d in man["data"]]
pol = man["null_label_policy"]
null_src = set(s for s in pol["sources"].split(",") if s)
stems = pol["exclusion_stems"]
weights = {}
for kv in filter(None, man["training"].get("source_weights", "").split(",")):
    k, v = kv.split("="); weights[k] = max(1, min(100, int(v)))
heads = [h["category"] for h in man["heads"]]
LEVELS = ["none", "low", "moderate", "high", "imminent"]
def label(r, cat):
    v = r.get(cat)
    if v is None and isinstance(r.get("labels"), dict): v = r["labels"].get(cat)
    if isinstance(v, bool): return int(v)
    if isinstance(v, (int, float)): return int(v >= 0.5) if isinstance(v, float) else int(v != 0)
    if isinstance(v, str) and v in LEVELS: return int(LEVELS.index(v) >= 2)
    return None
def clean(t): return re.sub(r"\s+", " ", t.lower()).strip()
tr = {h: open(f"{out}/train.{h}.txt", "w") for h in heads}
ev = open(f"{out}/eval.txt", "w"); ids = open(f"{out}/eval.ids", "w")
n_eval = 0
for path in files:
    for line in open(path):
        try: r = json.loads(line)
        except ValueError: continue
        if not isinstance(r.get("text"), str): continue
        sp = r.get("split")
        if sp == man["training"]["train_split"]:
            for h in heads:
                l = label(r, h)
                if l is None and r.get("source") in null_src and not any(s in r["text"].lower() for s in stems):
                    l = 0
                if l is None: continue
                for _ in range(weights.get(r.get("source"), 1)):
                    tr[h].write(f"__label__{l} {clean(r['text'])}\n")
        if sp == split:
            ev.write(clean(r["text"]) + "\n"); ids.write(r["id"] + "\n"); n_eval += 1
print(f"eval rows: {n_eval}", file=sys.stderr)
EOF

# 2. train and predict, timing prediction on one core (minus model load)
for h in $(python3 -c "import json;print(' '.join(h['category'] for h in json.load(open('$MANIFEST'))['heads']))"); do
  if [ "${REUSE:-0}" = 1 ] && [ -f "$OUT/ft.$h.bin" ]; then
    echo "reusing $OUT/ft.$h.bin (REUSE=1)" >&2
  else
    fasttext supervised -input "$OUT/train.$h.txt" -output "$OUT/ft.$h" -dim 50 -wordNgrams 2 \
      -minn 3 -maxn 5 -lr 0.5 -epoch 25 -thread 1 -seed 1 -verbose 0
  fi
  head -1 "$OUT/eval.txt" >"$OUT/one.txt"
  # CPU time (user + sys) of the prediction process, minus that of a
  # one-line run (model load), pinned to one core: the same measure as
  # mhguard eval's messages_per_second.
  python3 - "$OUT" "$h" <<'PY' | tee -a "$OUT/timing.txt"
import resource, subprocess, sys
out, h = sys.argv[1], sys.argv[2]
def run(inp, dst):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(dst, "w") as f:
        subprocess.run(["taskset", "-c", "0", "fasttext", "predict-prob", f"{out}/ft.{h}.bin", inp, "2"],
                       stdout=f, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
load = min(run(f"{out}/one.txt", "/dev/null") for _ in range(3))
tot = run(f"{out}/eval.txt", f"{out}/pred.{h}.txt")
n = sum(1 for _ in open(f"{out}/eval.txt"))
print(f"fastText {h}: {n} messages, {tot - load:.3f}s CPU after a {load:.3f}s load: "
      f"{n / max(tot - load, 1e-9):.0f} messages/s (one core, CPU time)")
PY
done

# 3. scores file for mhguard eval
python3 - "$OUT" "$MANIFEST" <<'EOF'
import json, sys
out, man = sys.argv[1], json.load(open(sys.argv[2]))
ids = [l.rstrip("\n") for l in open(f"{out}/eval.ids")]
scores = [dict(id=i) for i in ids]
for h in [x["category"] for x in man["heads"]]:
    for row, line in zip(scores, open(f"{out}/pred.{h}.txt")):
        t = line.split(); p = dict(zip(t[0::2], map(float, t[1::2])))
        row[h] = p.get("__label__1", 1.0 - p.get("__label__0", 1.0))
with open(f"{out}/fasttext.scores.jsonl", "w") as f:
    for row in scores: f.write(json.dumps(row) + "\n")
EOF

# 4. the same metrics for all three systems, one core each
DATA_ARGS=$(python3 -c "import json;print(' '.join('--data '+d['path'] for d in json.load(open('$MANIFEST'))['data']))")
if [ "$MODEL_ONLY" = 1 ]; then
  SYSTEMS=(--system "model:$MODEL" --system "scores:$OUT/fasttext.scores.jsonl")
else
  SYSTEMS=(--model "$MODEL" --compare "model:$MODEL" --compare "scores:$OUT/fasttext.scores.jsonl"
           --compare rules)
fi
# shellcheck disable=SC2086
taskset -c 0 "$BIN" eval $DATA_ARGS --split "$SPLIT" "${SYSTEMS[@]}" \
  --label-field suicide,self_harm --group-field lang,source \
  --json "$OUT/compare.$SPLIT.json" --html "$OUT/compare.$SPLIT.html" >"$OUT/compare.$SPLIT.txt"

# 5. recall of each system at equal false-positive rates
python3 "$ROOT/bench/recall_at_fpr.py" "$OUT/compare.$SPLIT.json" | tee "$OUT/recall_at_fpr.$SPLIT.txt"
cat "$OUT/timing.txt"
echo "reports: $OUT/compare.$SPLIT.{txt,json,html}"
