#!/usr/bin/env bash
# Run two criterion bench binaries (a build before a change and one after) alternately on the
# same benchmark and print each run's median: on a noisy machine, interleaved runs compare the
# two builds under the same conditions, where baselines saved minutes apart do not.
# usage: scripts/bench-ab.sh BEFORE_BIN AFTER_BIN FILTER [ROUNDS]
# The binaries are target/release/deps/<bench>-<hash> copied after `cargo bench --no-run`.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 BEFORE_BIN AFTER_BIN FILTER [ROUNDS]" >&2; exit 2; fi
before="$1"; after="$2"; filter="$3"; rounds="${4:-5}"
median() { "$1" --bench --warm-up-time 1 --measurement-time 3 "$filter" 2>&1 | awk '/time:/ { print $4, $5; exit }'; }
for _ in $(seq "$rounds"); do
  echo "before $(median "$before")"
  echo "after  $(median "$after")"
done
