#!/usr/bin/env bash
# Deterministic cost of the streaming scorer: instructions per point under callgrind, from the
# difference of two runs of the `throughput` example (2,000 series; 0 and 200 measured rounds).
# Needs valgrind (Debian package). Wall-clock figures on shared machines are noisy; this is not.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p faultlens-detect --example throughput
BIN="${CARGO_TARGET_DIR:-target}/release/examples/throughput"
count() { ROUNDS="$1" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" 2000 2>&1 | awk '/refs/ {gsub(",", "", $4); print $4}'; }
a=$(count 0)
b=$(count 200)
echo "instructions per point: $(( (b - a) / 400000 ))"
