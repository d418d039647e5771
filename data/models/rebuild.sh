#!/usr/bin/env bash
# Rebuilds the shipped model data/models/mhguard.model (+ .json manifest)
# and the engine score calibration data/models/engine-calibration.json
# from the shared corpus (train split; dev for calibration and thresholds)
# and every hand-written chat file data/train/chat-*.jsonl (in C-locale
# order). Same data -> byte-identical model. Run from anywhere:
#   data/models/rebuild.sh [path/to/corpus.jsonl]
# Settings were chosen on the dev split (docs/model-card.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CORPUS=${1:-../shared/data/corpus.jsonl}
BIN=${MHGUARD_BIN:-build/mhguard}
args=(--data "$CORPUS")
while IFS= read -r f; do args+=(--data "$f"); done < <(LC_ALL=C ls data/train/chat-*.jsonl)
"$BIN" train "${args[@]}" --split train --dev-split dev \
  --out data/models/mhguard.model --seed 1 --c 4 --hash-bits 18 --word-ngrams 2 \
  --char-ngrams 3-5 --weight-bits 16 --weight mhguard-chat=10 \
  --null-negatives goemotions,dreaddit,counsel-chat --min-positives 40 --threshold-rule f1+fpr0.02 \
  --head-thresholds self_harm=off
# Engine score calibration for that model (dev split only; levels unaffected;
# docs/internals/calibration.md). Fitted on the engine as it is now: rerun it
# after lexicon changes too.
"$BIN" calibrate "${args[@]}" --split dev --categories suicide,self_harm --min-positives 20 \
  --out data/models/engine-calibration.json
