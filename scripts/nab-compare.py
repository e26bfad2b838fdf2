#!/usr/bin/env python3
"""Is a NAB gain spread over the corpus, or does it rest on a file or two?

    python3 scripts/nab-compare.py BEFORE_DIR AFTER_DIR [--halves N] [--seed S] [--band B] [--shared DIR]

BEFORE_DIR and AFTER_DIR are results directories as `scripts/nab-eval.sh` writes them (set
NAB_OUT to keep one). The scoring is ../shared/eval/nab_score.py's own, imported from SHARED
(default ../shared), on SHARED/data/nab-dev.

Prints
  * both runs' scores on the three profiles (each with its own optimal threshold, as NAB does);
  * the standard score of each run averaged over 21 fixed thresholds spanning the before run's
    optimal threshold +- BAND (--band, default 0.05): the level of the whole score curve, which
    a change can raise without luck at the one threshold that NAB picks;
  * the files whose standard-profile raw score changed, with windows found and false
    positives before and after;
  * the change of the standard score with each file left out in turn: the smallest change is
    what is left of the gain without the file it leans on most;
  * the change of the standard score over N random halves of the files (each file drawn with
    probability 1/2, seeded; each half scored on its own, with its own optimal threshold): the
    mean change, how many halves gained and lost, and the 10th, 50th and 90th percentiles.

On the development half a single window found or lost moves the score by about 1.8 points, and
changes as small as f32 against f64 rounding move it by 0.4, so a gain seen on the whole corpus
alone is weak evidence. A gain that most halves share is spread over many files; one that half
the halves lose rests on the files those halves leave out.
"""

import argparse
import json
import os
import random
import sys

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def load(ns, data, windows, rels, results):
    return [ns.load_file(rel, data, results, windows[rel]) for rel in rels]


def score(ns, files, profile):
    """(normalized score, raw, threshold, per-file tuples) at the profile's optimal threshold."""
    scores, gwid, base = [], [], []
    offset = 0
    for fd in files:
        scores += fd.scores
        base += fd.base
        gwid += [w + offset if w >= 0 else -1 for w in fd.wid]
        offset += len(fd.windows)
    order = sorted(range(len(scores)), key=lambda j: -scores[j])
    threshold = ns.sweep(files, profile, order, (scores, gwid, base))
    raw, _, _, _, per_file = ns.score_at(files, profile, threshold)
    return normalize(ns, raw, offset, profile), raw, threshold, per_file


def normalize(ns, raw, n_windows, profile):
    """NAB's normalized score of a raw score over `n_windows` windows."""
    tp_w, fn_w, _ = ns.PROFILES[profile]
    null, perfect = -fn_w * n_windows, tp_w * n_windows
    return 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0


def band_mean(ns, files, thresholds):
    """Mean standard score over fixed thresholds: the score curve's level, not its best point."""
    n_windows = sum(len(fd.windows) for fd in files)
    return sum(normalize(ns, ns.score_at(files, "standard", t)[0], n_windows, "standard") for t in thresholds) / len(
        thresholds
    )


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--halves", type=int, default=200, help="random halves to score (default 200)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the halves (default 7)")
    ap.add_argument("--band", type=float, default=0.05,
                    help="half-width of the band of fixed thresholds around the before run's optimum (default 0.05)")
    ap.add_argument("--shared", default=os.environ.get("SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared")))
    a = ap.parse_args(argv)

    eval_dir = os.path.join(a.shared, "eval")
    data = os.path.join(a.shared, "data", "nab-dev")
    if not os.path.isfile(os.path.join(eval_dir, "nab_score.py")) or not os.path.isdir(data):
        print("SKIPPED: %s has no eval/nab_score.py or data/nab-dev" % a.shared)
        return 0
    sys.path.insert(0, eval_dir)
    import nab_score as ns  # the scorer's own rules, not a copy

    with open(os.path.join(data, "windows.json"), encoding="utf-8") as f:
        windows = json.load(f)
    rels = [rel for rel in ns.list_data_files(data) if rel in windows]
    try:
        before = load(ns, data, windows, rels, a.before)
        after = load(ns, data, windows, rels, a.after)
    except ns.ScoreError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2

    for profile in PROFILES:
        b, a_ = score(ns, before, profile), score(ns, after, profile)
        print("%-19s before %6.2f (threshold %.6f)  after %6.2f (threshold %.6f)  change %+.2f"
              % (profile, b[0], b[2], a_[0], a_[2], a_[0] - b[0]))

    centre = score(ns, before, "standard")[2]
    steps = [centre + a.band * (k / 10.0 - 1.0) for k in range(21)]
    mb, ma = band_mean(ns, before, steps), band_mean(ns, after, steps)
    print("standard score averaged over 21 fixed thresholds from %.3f to %.3f (the before run's optimum +- %.3f): "
          "before %.2f  after %.2f  change %+.2f" % (steps[0], steps[-1], a.band, mb, ma, ma - mb))

    _, _, _, per_before = score(ns, before, "standard")
    _, _, _, per_after = score(ns, after, "standard")
    moved = [(pa[1] - pb[1], pb, pa) for pb, pa in zip(per_before, per_after) if abs(pa[1] - pb[1]) > 1e-9]
    print("\nfiles whose standard raw score changed (%d of %d): raw change, windows found, false positives"
          % (len(moved), len(rels)))
    for change, pb, pa in sorted(moved, key=lambda m: m[0]):
        print("  %+7.3f  %-58s tp %d -> %d  fp %3d -> %3d" % (change, pb[0], pb[2], pa[2], pb[4], pa[4]))

    left_out = []
    for i, rel in enumerate(rels):
        keep = [j for j in range(len(rels)) if j != i]
        sb = score(ns, [before[j] for j in keep], "standard")[0]
        sa = score(ns, [after[j] for j in keep], "standard")[0]
        left_out.append((sa - sb, rel))
    left_out.sort()
    print("\nstandard score change with one file left out: smallest %+.2f (without %s), largest %+.2f (without %s)"
          % (left_out[0][0], left_out[0][1], left_out[-1][0], left_out[-1][1]))

    rng = random.Random(a.seed)
    changes = []
    while len(changes) < a.halves:
        pick = [i for i in range(len(rels)) if rng.random() < 0.5]
        if not pick:
            continue
        sb = score(ns, [before[i] for i in pick], "standard")[0]
        sa = score(ns, [after[i] for i in pick], "standard")[0]
        changes.append(sa - sb)
    changes.sort()
    gained = sum(1 for c in changes if c > 0.005)
    lost = sum(1 for c in changes if c < -0.005)
    print("\nstandard score over %d random halves of the files (seed %d): mean change %+.2f; gained in %d, "
          "lost in %d, unchanged in %d; percentiles 10/50/90: %+.2f / %+.2f / %+.2f"
          % (len(changes), a.seed, sum(changes) / len(changes), gained, lost, len(changes) - gained - lost,
             percentile(changes, 0.1), percentile(changes, 0.5), percentile(changes, 0.9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
