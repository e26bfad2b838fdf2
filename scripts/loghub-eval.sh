#!/usr/bin/env bash
# Parse every loghub2k-dev dataset with `faultlens logs parse` (its header format is the only
# per-dataset input) and score the results with the shared scorer.
# usage: scripts/loghub-eval.sh [FAULTLENS_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/faultlens}"
DATA="$SHARED/data/loghub2k-dev"
if [ ! -d "$DATA" ]; then echo "SKIPPED: $DATA is absent; loghub evaluation not run"; exit 0; fi
OUT="${LOGHUB_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
for d in "$DATA"/*/; do
  name="$(basename "$d")"
  fmt="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["log_format"])' "$DATA/formats.json" "$name")"
  "$BIN" logs parse "$d/${name}_2k.log" --log-format "$fmt" --output "$OUT/${name}_2k.log_structured.csv" 2>/dev/null
done
python3 "$SHARED/eval/loghub_score.py" "$OUT" "$DATA"
