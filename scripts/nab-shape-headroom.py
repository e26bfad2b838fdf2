#!/usr/bin/env python3
"""Offline headroom of the streaming scorer's familiar shapes on NAB dev (needs numpy).

usage: nab-shape-headroom.py SCORES_DIR OUT_DIR [--history L] [--familiar P] [--damping F]

SCORES_DIR holds one scores CSV per NAB dev file (scripts/nab-eval.sh with
StreamConfig.shape_damping = 1, so the scorer's own damping is off; add fatigue_memory = 0 to
measure the shapes alone, as the README's figures do, since alarm fatigue counts the alarms the
damping leaves). For every file this
computes the exact left matrix profile: for each point, the distance from the last 16 raw
values (mean removed, in units of the median non-zero step of the last 1,000 points) to the
nearest earlier 16 values within the last L points (all of them when L is 0), and ranks it
against every earlier point's distance. Where the shape is familiar (the share of earlier
distances at least as large exceeds P at this point and the three before), the score is
multiplied by F. The result, in OUT_DIR, is scored as usual (nab_score.py,
scripts/nab-compare.py). The streaming scorer approximates this within its 2 KiB state (384
points of history, a sampled quantile estimate); this script measures the exact form. With a
long history, read its score as an upper bound: early points' nearest distances come from a
shorter history than late points' (while it fills), so the ranks drift towards familiar as a
file goes on.
"""
import argparse
import bisect
import csv
import os
import sys

import numpy as np

SHAPE = 16


def familiar_p(v, history):
    """Per point: the share of earlier nearest distances at least as large as its own."""
    n = len(v)
    d = np.abs(np.diff(v, prepend=v[0]))
    scale = np.ones(n)
    for i in range(0, n, 50):
        w = d[max(0, i - 1000) : i + 1]
        scale[i : i + 50] = np.median(w[w > 0]) if np.any(w > 0) else 1.0
    if n < SHAPE:
        return np.ones(n)
    s = np.lib.stride_tricks.sliding_window_view(v, SHAPE)
    s = s - s.mean(axis=1, keepdims=True)
    nearest = np.full(n, np.nan)
    for k in range(len(s)):
        end = k + SHAPE - 1
        lo = max(0, k - history) if history else 0
        past = s[lo : max(0, k - SHAPE)]
        if len(past) < 50:
            continue
        nearest[end] = np.sqrt(((past - s[k]) ** 2).sum(axis=1)).min() / scale[end]
    p = np.ones(n)
    seen = []
    for i in range(n):
        if np.isnan(nearest[i]):
            continue
        if len(seen) >= 100:
            at_least = len(seen) - bisect.bisect_left(seen, nearest[i])
            p[i] = max(at_least, 0.5) / len(seen)
        bisect.insort(seen, nearest[i])
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scores")
    ap.add_argument("out")
    ap.add_argument("--history", type=int, default=0, help="points of history (0: all)")
    ap.add_argument("--familiar", type=float, default=0.14)
    ap.add_argument("--damping", type=float, default=0.8)
    a = ap.parse_args()
    for group in sorted(os.listdir(a.scores)):
        for name in sorted(os.listdir(os.path.join(a.scores, group))):
            rows = list(csv.DictReader(open(os.path.join(a.scores, group, name))))
            v = np.array([float(r["value"]) for r in rows])
            p = familiar_p(v, a.history)
            os.makedirs(os.path.join(a.out, group), exist_ok=True)
            with open(os.path.join(a.out, group, name), "w") as out:
                out.write("timestamp,value,anomaly_score\n")
                for i, r in enumerate(rows):
                    s = float(r["anomaly_score"])
                    if s > 0 and min(p[max(0, i - 3) : i + 1]) > a.familiar:
                        s *= a.damping
                    out.write("%s,%s,%.6f\n" % (r["timestamp"], r["value"], s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
