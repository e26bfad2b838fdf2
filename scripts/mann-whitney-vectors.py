#!/usr/bin/env python3
"""Reference vectors for faultlens-verify's Mann-Whitney test.

W and the p-value come from scipy.stats.mannwhitneyu (method="asymptotic",
use_continuity=True, two-sided). The shift estimate and its confidence interval follow
R's wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=TRUE): the roots of the
standardised statistic of x - d against y, ranked with scipy.stats.rankdata and solved with
a transcription of R's uniroot (Brent, tol 1e-4), the same algorithm R uses.

usage: scripts/mann-whitney-vectors.py > crates/verify/tests/data/mann_whitney.json
(needs numpy and scipy; the output is committed, the tests do not need Python)
"""
import json
import math
import sys

import numpy as np
from scipy.stats import mannwhitneyu, norm, rankdata

EPS = sys.float_info.epsilon


def zeroin(ax, bx, fa, fb, f, tol=1e-4, maxit=1000):
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def r_wilcox(x, y, conf_level):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    nx, ny = len(x), len(y)

    def wdiff(d, zq):
        dr = rankdata(np.concatenate([x - d, y]))
        _, counts = np.unique(dr, return_counts=True)
        dz = dr[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
        corr = np.sign(dz) * 0.5
        sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - (counts**3 - counts).sum() / ((nx + ny) * (nx + ny - 1))))
        return (dz - corr) / sigma - zq

    mumin, mumax = x.min() - y.max(), x.max() - y.min()

    def root(zq):
        fl = wdiff(mumin, zq)
        if fl <= 0:
            return mumin
        fu = wdiff(mumax, zq)
        if fu >= 0:
            return mumax
        return zeroin(mumin, mumax, fl, fu, lambda d: wdiff(d, zq))

    alpha = 1 - conf_level
    lower = root(norm.ppf(alpha / 2, loc=0, scale=1) * -1)
    upper = root(norm.ppf(alpha / 2))
    fl, fu = wdiff(mumin, 0), wdiff(mumax, 0)
    est = mumin if fl <= 0 else mumax if fu >= 0 else zeroin(mumin, mumax, fl, fu, lambda d: wdiff(d, 0))
    return float(est), float(lower), float(upper)


def main():
    rng = np.random.default_rng(20261127)
    cases = []

    def add(name, x, y, conf=0.98):
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        res = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
        est, lo, hi = r_wilcox(x, y, conf)
        cases.append(dict(name=name, experiment=x, control=y, confidence=conf, w=float(res.statistic),
                          p_value=float(res.pvalue), estimate=est, lower=lo, upper=hi))

    add("r-docs-depression", [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
        [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29], 0.95)
    add("small-shift", [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46], [1.15, 0.88, 0.90, 0.74, 1.21])
    add("ties-integers", [1, 2, 2, 3, 3, 3, 4, 5], [2, 2, 3, 3, 4, 4, 4, 6, 6])
    add("counter-mostly-zero", [0] * 20 + [1, 1, 2], [0] * 22 + [1])
    for i, (n, m, shift, scale) in enumerate([(30, 30, 0.0, 1.0), (50, 40, 0.5, 1.0), (100, 100, 0.1, 2.0),
                                              (25, 60, -1.0, 0.5), (200, 150, 0.05, 1.0)]):
        add(f"normal-{i}", rng.normal(shift, scale, n).round(4), rng.normal(0, scale, m).round(4))
    add("lognormal-latency", rng.lognormal(-2.0, 0.6, 120).round(5), rng.lognormal(-2.1, 0.6, 110).round(5), 0.9)
    add("exponential-99", rng.exponential(1.2, 80).round(3), rng.exponential(1.0, 90).round(3), 0.99)
    json.dump({"generator": "scripts/mann-whitney-vectors.py", "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
