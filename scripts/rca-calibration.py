#!/usr/bin/env python3
"""Calibration of faultlens hypothesis confidences.

    python3 scripts/rca-calibration.py SCORE_JSON REPORTS_DIR [SCORE_JSON REPORTS_DIR ...]

SCORE_JSON is the per-case output of ../shared/eval/rca_score.py --json (it names each case's
true root-cause service); REPORTS_DIR holds the faultlens reports (<case>.json). Every reported
hypothesis is one prediction: its confidence against whether its service is the true one.
Prints a reliability table (confidence bins of 0.1: count, mean confidence, share right) and the
expected calibration error (ECE: the count-weighted mean gap), plus the same for top-1 only.
"""

import json
import os
import sys


def table(pairs, title):
    bins = [[] for _ in range(10)]
    for conf, right in pairs:
        bins[min(int(conf * 10), 9)].append((conf, right))
    n = len(pairs)
    print(f"{title}: {n} predictions")
    print(f"  {'confidence':<11} {'n':>5} {'mean conf':>9} {'right':>6}")
    ece = 0.0
    for i, b in enumerate(bins):
        if not b:
            continue
        mc = sum(c for c, _ in b) / len(b)
        acc = sum(1 for _, r in b if r) / len(b)
        ece += len(b) / n * abs(mc - acc)
        print(f"  {i / 10:.1f}-{(i + 1) / 10:.1f}    {len(b):>5} {mc:>9.3f} {acc:>6.3f}")
    print(f"  ECE {ece:.3f}")
    return ece


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    every, top = [], []
    for score_json, reports in zip(argv[::2], argv[1::2]):
        with open(score_json, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        for c in cases:
            p = os.path.join(reports, c["case"] + ".json")
            if not os.path.isfile(p):
                continue
            with open(p, encoding="utf-8") as f:
                hyps = json.load(f).get("hypotheses") or []
            seen = set()
            for h in sorted(hyps, key=lambda h: h.get("rank", 0)):
                s = h.get("service")
                if s in seen:
                    continue
                seen.add(s)
                pair = (float(h.get("confidence", 0.0)), s == c["service"])
                every.append(pair)
                if len(seen) == 1:
                    top.append(pair)
    if not every:
        print("calibration: no predictions")
        return 0
    e1 = table(every, "calibration, every hypothesis")
    e2 = table(top, "calibration, top-1")
    print(f"calibration ECE={e1:.3f} top1_ECE={e2:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
