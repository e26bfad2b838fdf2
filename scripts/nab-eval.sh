#!/usr/bin/env bash
# Score every nab-dev series with `faultlens detect series` (streaming mode) and run the NAB scorer.
# usage: scripts/nab-eval.sh [FAULTLENS_BIN] [extra scorer args]
# env: NAB_OUT (keep the scores there), NAB_MODE (stream or batch), NAB_CONFIG (a StreamConfig
# JSON file), NAB_DETAIL=1 (write the --detail columns too: the test behind each score, for
# looking into false positives and missed windows; the scorer reads only anomaly_score)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/faultlens}"
shift || true
DATA="$SHARED/data/nab-dev"
if [ ! -d "$DATA" ]; then echo "SKIPPED: $DATA is absent; NAB evaluation not run"; exit 0; fi
OUT="${NAB_OUT:-$(mktemp -d)}"
for f in "$DATA"/*/*.csv; do
  rel="${f#"$DATA"/}"
  mkdir -p "$OUT/$(dirname "$rel")"
  "$BIN" detect series "$f" --output "$OUT/$rel" --mode "${NAB_MODE:-stream}" ${NAB_CONFIG:+--config "$NAB_CONFIG"} ${NAB_DETAIL:+--detail} &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait
python3 "$SHARED/eval/nab_score.py" "$OUT" --data "$DATA" "$@"
