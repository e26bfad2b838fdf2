#!/usr/bin/env bash
# Run `faultlens analyze` over every bundle of a directory and score the reports with
# ../shared/eval/rca_score.py, then print the calibration table (scripts/rca-calibration.py).
# usage: scripts/rca-eval.sh BUNDLES_DIR [FAULTLENS_BIN] [-- extra analyze args]
# Bundles are found by their manifest; reports go to $RCA_OUT (a temporary directory by default).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
DIR="$1"; shift
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/faultlens}"
shift || true
[ "${1:-}" = "--" ] && shift
if [ ! -f "$SHARED/eval/rca_score.py" ]; then echo "SKIPPED: $SHARED/eval is absent; RCA scoring not run"; exit 0; fi
if [ ! -d "$DIR" ]; then echo "SKIPPED: $DIR is absent; RCA evaluation not run"; exit 0; fi
OUT="${RCA_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
find "$DIR" -name 'bundle.json' -o -name 'bundle.yaml' | sort | while read -r m; do
  b="$(dirname "$m")"
  "$BIN" analyze "$b" --format json --output "$OUT/$(basename "$b").json" "$@" &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  wait
done
python3 "$SHARED/eval/rca_score.py" "$DIR" "$OUT" --json "$OUT/score.json" ${RCA_SCORE_ARGS:---quiet}
python3 scripts/rca-calibration.py "$OUT/score.json" "$OUT"
