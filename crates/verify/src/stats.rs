//! The statistics behind the canary judge, following R's `wilcox.test` (two samples,
//! `exact = FALSE`, `correct = TRUE`, `conf.int = TRUE`), which is what Kayenta's Mann-Whitney
//! classifier ports:
//!
//! - `W` is the rank sum of the experiment minus `n_x (n_x + 1) / 2` (mid-ranks for ties), the
//!   statistic `scipy.stats.mannwhitneyu` calls `U` for its first sample;
//! - the p-value is two-sided, from the normal approximation with the tie correction of the
//!   variance and a continuity correction of one half toward zero;
//! - the shift estimate ("difference in location", experiment minus control) and its confidence
//!   interval are the roots of the standardised statistic of `x - d` against `y`, found with
//!   Brent's method at R's tolerance of 1e-4 (`uniroot`), so they agree with R to that tolerance.
//!
//! `W(d)` is evaluated by one merge of the two sorted samples, O(n_x + n_y) per evaluation. The
//! local search evaluates up to four shifts in one pass over the samples (four walks through
//! the control side by side) and finds the three roots together, so a test usually costs three
//! passes: the test itself with the predicted interval, then a pair of shifts either side of
//! each predicted root. Large samples that span few tolerance steps skip the merges for the
//! roots: on a grid of an eighth of the tolerance, bounds on `W` at a grid shift are a pass over
//! the bin counts, and a root is closed when those bounds certify a bracket within the
//! tolerance (`stats/grid.rs`).

mod grid;

/// `sqrt(2)`.
const SQRT_2: f64 = std::f64::consts::SQRT_2;

/// The standard normal distribution function.
#[must_use]
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / SQRT_2)
}

/// The standard normal quantile function (`qnorm`): Acklam's rational approximation refined by
/// one Halley step, accurate to about 1e-15. `p` outside `(0, 1)` gives `±inf` or NaN.
#[must_use]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        let r = (-2.0 * q.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    let x = if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // one Halley step on the exact distribution function
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Brent's root finder as in R's `uniroot` (`R_zeroin2`): `f(ax) = fa` and `f(bx) = fb` must
/// have opposite signs; returns the root to within `tol`, after at most `max_iter` steps.
fn zeroin(ax: f64, bx: f64, fa: f64, fb: f64, f: impl Fn(f64) -> f64, tol: f64, max_iter: usize) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (ax, bx, fa, fb);
    let (mut c, mut fc) = (a, fa);
    if fa == 0.0 {
        return a;
    }
    if fb == 0.0 {
        return b;
    }
    for _ in 0..=max_iter {
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tol_act = 2.0 * f64::EPSILON * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return b;
        }
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                let (qq, t1, t2) = (fa / fc, fb / fc, fb / fa);
                p = t2 * (cb * qq * (qq - t1) - (b - a) * (t1 - 1.0));
                q = (qq - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < 0.75 * cb * q - (tol_act * q).abs() / 2.0 && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        (a, fa) = (b, fb);
        b += new_step;
        fb = f(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            (c, fc) = (a, fa);
        }
    }
    b
}

/// The result of a two-sample Mann-Whitney (Wilcoxon rank-sum) test of an experiment `x`
/// against a control `y`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MannWhitney {
    /// Experiment sample size.
    pub n_x: usize,
    /// Control sample size.
    pub n_y: usize,
    /// R's `W` (scipy's `U` of the first sample): pairs where the experiment is larger, ties
    /// counting one half.
    pub w: f64,
    /// Two-sided p-value (normal approximation, tie and continuity corrections).
    pub p_value: f64,
    /// Shift estimate, experiment minus control (R's "difference in location").
    pub estimate: f64,
    /// Lower end of the confidence interval for the shift.
    pub lower: f64,
    /// Upper end of the confidence interval for the shift.
    pub upper: f64,
    /// The confidence level of the interval.
    pub confidence: f64,
}

/// Why a test could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// One of the samples is empty (after removing non-finite values).
    #[error("a sample is empty")]
    EmptySample,
    /// Every observation has the same value: the statistic has no variance.
    #[error("all observations are tied")]
    AllTied,
    /// The confidence level is not in (0, 1).
    #[error("confidence level {0} is not between 0 and 1")]
    BadConfidence(OrderedConfidence),
}

/// A confidence level carried in an error (compared by its bits).
#[derive(Debug, Clone, Copy)]
pub struct OrderedConfidence(pub f64);

impl PartialEq for OrderedConfidence {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for OrderedConfidence {}

impl std::fmt::Display for OrderedConfidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// `sum(t^3 - t)` over the runs of equal values of a sorted slice.
fn self_ties(v: &[f64]) -> f64 {
    // most samples of a continuous metric have no ties at all: one quick pass says so, in
    // blocks without an early exit inside (which the compiler turns into vector compares)
    let (Some(head), Some(tail)) = (v.get(..v.len().saturating_sub(1)), v.get(1..)) else { return 0.0 };
    if !head.chunks(256).zip(tail.chunks(256)).any(|(a, b)| a.iter().zip(b).fold(false, |tie, (x, y)| tie | (x == y))) {
        return 0.0;
    }
    // one pass: the length of the run of equal values ending at each value
    let (mut ties, mut run) = (0.0, 1.0f64);
    for w in v.windows(2) {
        if matches!(*w, [a, b] if a == b) {
            run += 1.0;
        } else {
            ties += run * run * run - run;
            run = 1.0;
        }
    }
    ties + run * run * run - run
}

/// `sum over x of #{y < x - d}`, and whether some control value equals some `x - d`: the
/// experiment cut into four runs, each walked through the control by [`advance`] from where a
/// single walk would be there, the four walks side by side (one walk is a chain of dependent
/// loads and compares; four independent chains keep the processor busy).
fn below_count(xs: &[f64], ys: &[f64], d: f64) -> (u64, bool) {
    const LANES: usize = 4;
    let per = xs.len() / LANES;
    let start = |lane: usize| xs.get(lane * per).map_or(ys.len(), |&x| ys.partition_point(|&y| y < x - d));
    let mut at: [usize; LANES] = std::array::from_fn(start);
    let runs: [&[f64]; LANES] = std::array::from_fn(|lane| xs.get(lane * per..(lane + 1) * per).unwrap_or_default());
    let mut below = [0u64; LANES];
    let mut equal = false;
    for i in 0..per {
        for ((run, j), below) in runs.iter().zip(&mut at).zip(&mut below) {
            if let Some(&x) = run.get(i) {
                equal |= advance(ys, j, x - d);
                *below += *j as u64;
            }
        }
    }
    // the values after the last full run continue the last walk
    let [.., mut j] = at;
    let mut total: u64 = below.iter().sum();
    for &x in xs.get(LANES * per..).unwrap_or_default() {
        equal |= advance(ys, &mut j, x - d);
        total += j as u64;
    }
    (total, equal)
}

/// `W` of `x - d` against `y` and the tie term `sum(t^3 - t)` of the pooled sample, by one
/// two-pointer pass over the sorted samples. The tie term is the two samples' own (`x_ties`,
/// `y_ties`, which do not depend on `d`) plus, for a value shared by `a` shifted experiment
/// values and `b` control values, the cross term `3ab(a + b)`.
fn w_and_ties(xs: &[f64], ys: &[f64], d: f64, x_ties: f64, y_ties: f64) -> (f64, f64) {
    // the common case, no shifted experiment value equal to a control value: branch-free
    // merges (the comparisons of interleaved samples are unpredictable, branches mispredict);
    // samples with ties of their own (rounded values) almost always tie across too, so they
    // go straight to the walk that counts ties
    if x_ties + y_ties == 0.0 {
        let (below, equal) = below_count(xs, ys, d);
        if !equal {
            return (below as f64, 0.0);
        }
    }
    let mut j = 0usize;
    let mut w = 0.0;
    let mut cross = 0.0;
    let mut i = 0usize;
    while let Some(&x) = xs.get(i) {
        let v = x - d;
        if advance(ys, &mut j, v) {
            // a run of a shifted experiment values equal to a run of b control values
            let a = xs.get(i..).map_or(0, |r| r.iter().take_while(|&&x2| x2 - d == v).count()).max(1);
            let b = ys.get(j..).map_or(0, |r| r.iter().take_while(|&&y| y == v).count());
            let (a, b) = (a as f64, b as f64);
            w += a * (j as f64 + 0.5 * b);
            cross += 3.0 * a * b * (a + b);
            i += a as usize;
        } else {
            w += j as f64;
            i += 1;
        }
    }
    (w, x_ties + y_ties + cross)
}

/// The control values one block of the multi-shift count compares at a time.
const BLOCK: usize = 4;

/// Advances `j` past the control values below `v` (`j` must already be past every value below
/// the previous, smaller `v`), four at a time; returns whether the next control value equals
/// `v`. The four comparisons do not depend on one another, so a step costs one load and one
/// sum instead of a chain of dependent compares.
#[inline(always)]
fn advance(ys: &[f64], j: &mut usize, v: f64) -> bool {
    loop {
        if let Some(block) = ys.get(*j..*j + BLOCK).and_then(|b| <&[f64; BLOCK]>::try_from(b).ok()) {
            let below: usize = block.iter().map(|&y| usize::from(y < v)).sum();
            *j += below;
            if below < BLOCK {
                return block.get(below).is_some_and(|&y| y == v);
            }
        } else {
            let rest = ys.get(*j..).unwrap_or_default();
            let below = rest.iter().take_while(|&&y| y < v).count();
            *j += below;
            return rest.get(below).is_some_and(|&y| y == v);
        }
    }
}

/// [`below_count`] for `K` shifts in one pass over the experiment: `K` independent walks through
/// the control, interleaved, so the processor overlaps them (four shifts cost little more than
/// one). The flag says whether some shifted experiment value equals a control value at any of
/// the shifts (one flag for all: a flag per walk costs registers the walks need).
fn below_counts<const K: usize>(xs: &[f64], ys: &[f64], ds: [f64; K]) -> (Vec<u64>, bool) {
    let mut at = [0usize; K];
    let mut below = [0u64; K];
    let mut equal = false;
    for &x in xs {
        for ((j, below), &d) in at.iter_mut().zip(below.iter_mut()).zip(&ds) {
            equal |= advance(ys, j, x - d);
            *below += *j as u64;
        }
    }
    (below.to_vec(), equal)
}

/// Shifts evaluated together in one pass of [`below_counts`] (more walks than this spill out of
/// the registers and lose the overlap).
const SHIFTS_PER_PASS: usize = 4;

/// [`w_and_ties`] at each of `ds`, in passes of up to [`SHIFTS_PER_PASS`] shifts; when a shifted
/// experiment value equals a control value in a pass, its shifts are recomputed one at a time
/// with the tie terms.
fn w_and_ties_many(xs: &[f64], ys: &[f64], ds: &[f64], x_ties: f64, y_ties: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(ds.len());
    for chunk in ds.chunks(SHIFTS_PER_PASS) {
        let (counts, equal) = match *chunk {
            [a, b] => below_counts(xs, ys, [a, b]),
            [a, b, c] => below_counts(xs, ys, [a, b, c]),
            [a, b, c, d] => below_counts(xs, ys, [a, b, c, d]),
            // a single shift: the four-lane merge of `w_and_ties` beats one walk
            _ => (Vec::new(), true),
        };
        if equal {
            out.extend(chunk.iter().map(|&d| w_and_ties(xs, ys, d, x_ties, y_ties)));
        } else {
            out.extend(counts.into_iter().map(|below| (below as f64, x_ties + y_ties)));
        }
    }
    out
}

/// An evaluated point of the search: a shift and the standardised statistic there.
type Point = (f64, f64);

/// R's tolerance for the roots (`uniroot`'s `tol = 1e-4`).
const ROOT_TOL: f64 = 1e-4;

/// Half the gap between the two probes either side of a predicted root: the pair brackets the
/// root to R's tolerance when the prediction is that good.
const HALF: f64 = 0.45 * ROOT_TOL;

/// Passes of the joint search before the roots still open are closed one evaluation at a time
/// (bisection halves every open bracket each pass: enough for any range of doubles).
const MAX_PASSES: usize = 64;

/// A bracket holding at most this many pairwise differences is finished exactly, by listing
/// them, instead of by more passes.
const BAND_PAIRS: f64 = 4096.0;

/// Samples with at most this many pairs always finish a root by listing the differences in its
/// bracket (a pass over such samples costs little).
const SMALL_PAIRS: usize = 1 << 20;

/// The two sorted samples and what the statistic of `x - d` against `y` needs besides.
#[derive(Debug, Clone, Copy)]
struct Shifts<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    /// `sum(t^3 - t)` of each sample's own ties.
    ties: (f64, f64),
}

impl Shifts<'_> {
    /// The null standard deviation of `W` with the pooled tie term `ties`.
    fn sigma(&self, ties: f64) -> f64 {
        let (nx, ny) = (self.xs.len() as f64, self.ys.len() as f64);
        let n = nx + ny;
        ((nx * ny / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0)))).max(0.0).sqrt()
    }

    /// The standardised statistic, continuity-corrected toward zero (zero where it has no
    /// variance, as R's search sees it).
    fn z(&self, (w, ties): (f64, f64)) -> f64 {
        let sigma = self.sigma(ties);
        if sigma == 0.0 { 0.0 } else { self.numerator(w) / sigma }
    }

    /// The continuity-corrected numerator of the standardised statistic at `W = w`: `W` less
    /// its null mean, moved half a step toward zero (non-decreasing in `w`).
    fn numerator(&self, w: f64) -> f64 {
        let dz = w - self.xs.len() as f64 * self.ys.len() as f64 / 2.0;
        dz - 0.5 * dz.signum() * f64::from(u8::from(dz != 0.0))
    }

    /// `W` and the pooled tie term at each shift.
    fn w_many(&self, ds: &[f64]) -> Vec<(f64, f64)> {
        w_and_ties_many(self.xs, self.ys, ds, self.ties.0, self.ties.1)
    }

    /// The standardised statistic at each shift.
    fn z_many(&self, ds: &[f64]) -> Vec<f64> {
        self.w_many(ds).into_iter().map(|w| self.z(w)).collect()
    }

    /// The pairs whose difference lies in the bracket `[a, b]`: the number of pairs above it
    /// (control value below `x - b`), and the sorted differences `x - y` of those in it.
    fn band(&self, a: f64, b: f64) -> (u64, Vec<f64>) {
        let (mut lo, mut hi, mut above) = (0usize, 0usize, 0u64);
        let mut diffs = Vec::new();
        for &x in self.xs {
            // control values below x - b, and at most x - a (below the next double up)
            advance(self.ys, &mut lo, x - b);
            hi = hi.max(lo);
            advance(self.ys, &mut hi, (x - a).next_up());
            above += lo as u64;
            diffs.extend(self.ys.get(lo..hi).unwrap_or_default().iter().map(|&y| x - y));
        }
        diffs.sort_unstable_by(f64::total_cmp);
        (above, diffs)
    }

    /// The exact crossing of `zq` in a bracket `(a, b)` with `z(a) > zq > z(b)`, from the
    /// differences in it: between two neighbouring differences `W` is constant (no cross ties),
    /// so the statistic changes sign at a difference or equals the target on a whole gap (its
    /// middle is returned), as Brent's method converges to.
    ///
    /// Where the sign changes at a point, the statistic there (with its ties) says whether the
    /// interval holds it ([`nudge`]), so `lower > 0` says exactly whether the test at no shift
    /// rejects when the end falls on a tied difference of zero.
    fn band_root(&self, a: f64, b: f64, zq: f64) -> f64 {
        let (above, diffs) = self.band(a, b);
        let ties = self.ties.0 + self.ties.1;
        let (mut before, mut left) = (a, a);
        let mut rest = diffs.as_slice();
        loop {
            // the gap after `left`: the pairs above it are those above the bracket and the
            // band's differences greater than `left`
            let next = rest.iter().copied().find(|&v| v > left && v < b).unwrap_or(b);
            let greater = rest.len() - rest.partition_point(|&v| v <= left);
            let f = self.z(((above + greater as u64) as f64, ties)) - zq;
            if f == 0.0 {
                return left + 0.5 * (next - left);
            }
            if f < 0.0 {
                // the sign changes at `left` (`a`, or a difference): on which side is it itself?
                let at = if left == a { 1.0 } else { self.z_many(&[left]).first().copied().unwrap_or(zq) - zq };
                return nudge(left, at, zq, (before, next));
            }
            if next >= b {
                // the sign changes at `b`, where the statistic is below the target
                return nudge(b, -1.0, zq, (left, b));
            }
            (before, left) = (left, next);
            rest = rest.get(rest.partition_point(|&v| v < left)..).unwrap_or_default();
        }
    }
}

/// An interval end at a point `d` where the statistic crosses `zq`, given the sign `at` of
/// `z(d) - zq` and the neighbouring differences: `d` itself when the interval holds it, else
/// nudged off it toward the interval by at most half the tolerance and half the way to the
/// neighbour (a lower end, `zq > 0`, when the test rejects at `d`: the interval starts after
/// it; an upper end, `zq < 0`, likewise: it ends before it). The estimate (`zq = 0`) is `d`.
fn nudge(d: f64, at: f64, zq: f64, (before, next): (f64, f64)) -> f64 {
    if zq > 0.0 && at > 0.0 {
        d + HALF.min(0.5 * (next - d))
    } else if zq < 0.0 && at < 0.0 {
        d - HALF.min(0.5 * (d - before))
    } else {
        d
    }
}

/// The roots of `z(d) = zq` for each of `targets`, where `z` is the standardised statistic of
/// `x - d` against `y` (non-increasing in `d`), found together. Every pass evaluates, in one
/// [`w_and_ties_many`], two shifts just either side of each open root's predicted position
/// (interpolated from the closest evaluated points), or the middle of its bracket when that
/// did not halve it, or outward steps while a root is not yet bracketed; every evaluated point
/// narrows every root. A root is closed when its bracket is at most [`ROOT_TOL`] wide (as R's
/// `uniroot` stops), at an exact zero, at an end of `[lo, hi]` beyond which the sign does not
/// change (as R returns the end), or exactly, by listing the differences, when its bracket
/// holds few pairs. `seed` holds points already evaluated.
fn joint_roots(shifts: &Shifts<'_>, seed: Vec<Point>, targets: &[f64], step: f64, lo: f64, hi: f64) -> Vec<f64> {
    let mut points = seed;
    let mut found: Vec<Option<f64>> = vec![None; targets.len()];
    // per root: the last prediction and the bracket's width then
    let mut tries: Vec<Option<(f64, f64)>> = vec![None; targets.len()];
    // per root: the predictions made so far
    let mut attempts = vec![0i32; targets.len()];
    // pairs per unit of the standardised statistic, to size a bracket in pairs
    let per_z = shifts.sigma(shifts.ties.0 + shifts.ties.1);
    let small = shifts.xs.len() * shifts.ys.len() <= SMALL_PAIRS;
    for _ in 0..MAX_PASSES {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut probes = Vec::new();
        for (r, &zq) in targets.iter().enumerate() {
            if found.get(r).copied().flatten().is_some() {
                continue;
            }
            let (zero, left, right) = bracket(&points, zq);
            let close = match (zero, left, right) {
                (Some(d), ..) => Some(d),
                // a bracket within the tolerance closes at once on large samples; small ones
                // (cheap to list) are finished exactly, which decides a tied difference's side
                (None, Some(a), Some(b)) if b.0 - a.0 <= ROOT_TOL && !small => Some(crossing(a, b, zq)),
                (None, Some(a), Some(b)) if (a.1 - b.1) * per_z <= BAND_PAIRS => Some(shifts.band_root(a.0, b.0, zq)),
                (None, Some(a), Some(b)) if b.0 - a.0 <= ROOT_TOL => Some(crossing(a, b, zq)),
                (None, Some(a), Some(b)) => {
                    let w = b.0 - a.0;
                    let previous = tries.get(r).copied().flatten();
                    let made = attempts.get(r).copied().unwrap_or(0);
                    if made >= 3 && previous.is_some_and(|(_, before)| w > 0.5 * before) {
                        // interpolation is not closing in (a staircase-shaped statistic): bisect
                        probes.push(a.0 + 0.5 * w);
                        None
                    } else {
                        // either side of the prediction, as far as it moved since the last one
                        // (the error of the last), or just under the tolerance
                        let p = refine(&points, zq, crossing(a, b, zq), (a.0, b.0));
                        let g = gap_after(previous, p);
                        probes.extend([p - g, p + g].into_iter().filter(|&d| d > a.0 && d < b.0));
                        remember(&mut tries, r, Some((p, w)));
                        if let Some(m) = attempts.get_mut(r) {
                            *m += 1;
                        }
                        None
                    }
                }
                // the statistic is on one side of the target everywhere evaluated: the root lies
                // beyond, toward `hi` (above) or `lo` (below)
                (None, Some(from), None) | (None, None, Some(from)) => {
                    let end = if from.1 > zq { hi } else { lo };
                    let previous = tries.get(r).copied().flatten();
                    let made = attempts.get(r).copied().unwrap_or(0);
                    let outcome =
                        outward(&points, from, end, zq, (step, made), |p| gap_after(previous, p), &mut probes);
                    match outcome {
                        Ok(root) => Some(root),
                        Err(p) => {
                            remember(&mut tries, r, Some((p, f64::INFINITY)));
                            if let Some(m) = attempts.get_mut(r) {
                                *m += 1;
                            }
                            None
                        }
                    }
                }
                (None, None, None) => Some(lo),
            };
            if let (Some(d), Some(slot)) = (close, found.get_mut(r)) {
                *slot = Some(d);
            }
        }
        if probes.is_empty() {
            break;
        }
        probes.sort_by(f64::total_cmp);
        probes.dedup();
        let zs = shifts.z_many(&probes);
        points.extend(probes.into_iter().zip(zs));
    }
    // roots still open after the passes: Brent's method in the bracket reached, one evaluation
    // at a time
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    targets
        .iter()
        .zip(found)
        .map(|(&zq, f)| {
            f.unwrap_or_else(|| match bracket(&points, zq) {
                (Some(d), ..) => d,
                (None, Some(a), Some(b)) => {
                    let f = |d: f64| shifts.z_many(&[d]).first().copied().unwrap_or(0.0) - zq;
                    zeroin(a.0, b.0, a.1 - zq, b.1 - zq, f, ROOT_TOL, 1000)
                }
                (None, Some(_), None) => hi,
                (None, None, _) => lo,
            })
        })
        .collect()
}

/// The half-gap of the probe pair around a new prediction `p`: twice the distance the
/// prediction moved since the last (its error), and at least [`HALF`].
fn gap_after(previous: Option<(f64, f64)>, p: f64) -> f64 {
    previous.map_or(HALF, |(last, _)| (2.0 * (p - last).abs()).max(HALF))
}

/// Notes a root's last prediction and bracket width.
fn remember(tries: &mut [Option<(f64, f64)>], r: usize, value: Option<(f64, f64)>) {
    if let Some(slot) = tries.get_mut(r) {
        *slot = value;
    }
}

/// The closest evaluated points either side of the crossing of `zq`: the last point before the
/// first one below the target that is above it, that first one, and a point exactly at the
/// target if there is one between them. `points` is sorted by shift.
fn bracket(points: &[Point], zq: f64) -> (Option<f64>, Option<Point>, Option<Point>) {
    let first_below = points.iter().position(|p| p.1 < zq);
    let before = first_below.map_or(points, |i| points.get(..i).unwrap_or_default());
    let zero = before.iter().rev().take_while(|p| p.1 <= zq).find(|p| p.1 == zq).map(|p| p.0);
    let above = before.iter().rev().find(|p| p.1 > zq).copied();
    (zero, above, first_below.and_then(|i| points.get(i)).copied())
}

/// Where the line through `a` and `b` crosses `zq`.
fn crossing(a: Point, b: Point, zq: f64) -> f64 {
    let t = (a.1 - zq) / (a.1 - b.1);
    if t.is_finite() { a.0 + t.clamp(0.0, 1.0) * (b.0 - a.0) } else { a.0 + 0.5 * (b.0 - a.0) }
}

/// A better guess than the line's `guess` at where `z` reaches `zq`: inverse quadratic
/// interpolation through the three evaluated points closest to the guess (the statistic curves
/// over the interval, and the line's error there is about the probes' spacing); the guess
/// itself when the curve's answer falls outside `within` or the points do not define one.
fn refine(points: &[Point], zq: f64, guess: f64, within: Point) -> f64 {
    let at = points.partition_point(|p| p.0 < guess);
    let from = at.saturating_sub(2).min(points.len().saturating_sub(3));
    let Some(&[(d0, z0), (d1, z1), (d2, z2)]) = points.get(from..from + 3) else {
        return guess;
    };
    let q = d0 * (zq - z1) * (zq - z2) / ((z0 - z1) * (z0 - z2))
        + d1 * (zq - z0) * (zq - z2) / ((z1 - z0) * (z1 - z2))
        + d2 * (zq - z0) * (zq - z1) / ((z2 - z0) * (z2 - z1));
    if q.is_finite() && q > within.0 && q < within.1 { q } else { guess }
}

/// Probes for a root not yet bracketed, beyond `from` (the evaluated point nearest it) toward
/// `end`: either side of where the curve through the nearest points reaches `zq` (the slope
/// taken over at least a few probe gaps, as the statistic is a staircase at small scales), `gap`
/// apart; a step of `step`, doubled for each earlier prediction (`made`), when the points give no crossing on
/// that side. The root is `end` when the end itself has been evaluated on the same side.
/// Returns the root, or the prediction made.
fn outward(
    points: &[Point],
    from: Point,
    end: f64,
    zq: f64,
    (step, made): (f64, i32),
    gap: impl Fn(f64) -> f64,
    probes: &mut Vec<f64>,
) -> Result<f64, f64> {
    if points.iter().any(|p| p.0 == end) {
        return Ok(end);
    }
    let dir = (end - from.0).signum();
    let far_enough = |p: &&Point| (p.0 - from.0) * dir <= -16.0 * HALF;
    let neighbour = if dir > 0.0 { points.iter().rev().find(far_enough) } else { points.iter().find(far_enough) };
    let slope = neighbour.map_or(0.0, |n| (from.1 - n.1) / (from.0 - n.0));
    let by_line = (zq - from.1) / slope;
    let p = if by_line.is_finite() && by_line * dir > 0.0 {
        // the curve through three points, when it lands no further than twice the line
        let limit = from.0 + 2.0 * by_line;
        refine(points, zq, from.0 + by_line, (from.0.min(limit), from.0.max(limit)))
    } else {
        from.0 + dir * step * 2f64.powi(made)
    };
    let g = gap(p);
    if (p + g - end) * dir >= 0.0 {
        probes.push(end);
    } else {
        probes.extend([p - g, p + g].into_iter().filter(|&d| (d - from.0) * dir > 0.0));
    }
    Err(p)
}

/// How the shift estimate and the interval ends are searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootSearch {
    /// R's way: Brent's method over the whole range of differences, from the smallest to the
    /// largest. Reproduces R's iterates, so its results equal R's to far below the tolerance.
    FullRange,
    /// The three roots searched together around a guess (the difference of the medians, and
    /// that plus or minus the normal-theory half-width from the interquartile ranges), up to
    /// four shifts per pass over the samples. The same roots to the same tolerance of 1e-4,
    /// in about ten evaluations instead of a few dozen; the answer can differ from R's by up
    /// to that tolerance (R's own error). An end on a tied difference is put on the side the
    /// test there says, so it excludes zero exactly when the test at no shift rejects.
    ///
    /// Samples of more than a million pairs that span at most two tolerance steps of 1e-4/8
    /// per value (latencies in seconds, ratios, rates) are instead binned once on that grid,
    /// and each shift is bounded by a pass over the bins rather than a merge of the samples:
    /// the same roots to the same tolerance, at a fraction of the cost.
    #[default]
    Local,
}

/// Runs the test. Non-finite values must have been removed by the caller.
///
/// # Errors
/// [`TestError::EmptySample`], [`TestError::AllTied`] (no variance, as R's "cannot compute
/// confidence interval when all observations are tied"), [`TestError::BadConfidence`].
pub fn mann_whitney(x: &[f64], y: &[f64], confidence: f64) -> Result<MannWhitney, TestError> {
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    let mut buffers = crate::sort::SortBuffers::default();
    crate::sort::sort_floats(&mut xs, &mut buffers);
    crate::sort::sort_floats(&mut ys, &mut buffers);
    mann_whitney_sorted(&xs, &ys, confidence)
}

/// [`mann_whitney`] on samples already sorted ascending (for callers that sort once for
/// several statistics). Unsorted input gives wrong results, not a panic.
///
/// # Errors
/// As [`mann_whitney`].
pub fn mann_whitney_sorted(xs: &[f64], ys: &[f64], confidence: f64) -> Result<MannWhitney, TestError> {
    mann_whitney_sorted_with(xs, ys, confidence, RootSearch::FullRange)
}

/// [`mann_whitney_sorted`] with a choice of root search; the canary judge uses
/// [`RootSearch::Local`].
///
/// # Errors
/// As [`mann_whitney`].
pub fn mann_whitney_sorted_with(
    xs: &[f64],
    ys: &[f64],
    confidence: f64,
    search: RootSearch,
) -> Result<MannWhitney, TestError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(TestError::BadConfidence(OrderedConfidence(confidence)));
    }
    if xs.is_empty() || ys.is_empty() {
        return Err(TestError::EmptySample);
    }
    let shifts = Shifts { xs, ys, ties: (self_ties(xs), self_ties(ys)) };
    let (nx, ny) = (xs.len() as f64, ys.len() as f64);
    let first = |v: &[f64]| v.first().copied().unwrap_or(0.0);
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let (mumin, mumax) = (first(xs) - last(ys), last(xs) - first(ys));
    // a scale for the local search: the normal-theory standard error of the difference, with
    // robust spreads (interquartile range / 1.349)
    let spread =
        |v: &[f64]| (faultlens_core::quantile_sorted(v, 0.75) - faultlens_core::quantile_sorted(v, 0.25)) / 1.349;
    let se = ((spread(xs).powi(2) / nx) + (spread(ys).powi(2) / ny)).sqrt();
    let se = if se > 0.0 && se.is_finite() { se } else { (mumax - mumin) / 4.0 };
    let zq = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let center = faultlens_core::quantile_sorted(xs, 0.5) - faultlens_core::quantile_sorted(ys, 0.5);
    // large samples spanning few tolerance steps: the local search counts on a grid
    let mut grid = match search {
        RootSearch::Local if xs.len().saturating_mul(ys.len()) > SMALL_PAIRS => grid::Grid::new(xs, ys),
        _ => None,
    };
    // the statistic at no shift (the test itself), and for the merging local search at the
    // predicted interval ends, in one pass
    let at = |d: f64| d.clamp(mumin, mumax);
    let predicted = [at(center - 1.5 * zq * se), at(center), at(center + 1.5 * zq * se)];
    let mut seed = vec![0.0];
    if search == RootSearch::Local && grid.is_none() {
        seed.extend(predicted);
    }
    let mut at_seed = shifts.w_many(&seed);
    let (w, ties) = at_seed.first().copied().unwrap_or((0.0, 0.0));
    let sigma = shifts.sigma(ties);
    if sigma == 0.0 || !sigma.is_finite() {
        return Err(TestError::AllTied);
    }
    let z = shifts.z((w, ties));
    let p_value = (2.0 * normal_cdf(-z.abs())).min(1.0);
    let targets = [0.0, zq, -zq];
    let roots = match search {
        RootSearch::Local => {
            let guesses = [center - zq * se, center, center + zq * se];
            match grid.as_mut().and_then(|g| shifts.grid_roots(g, &targets, &guesses)) {
                Some(roots) => roots,
                None => {
                    if grid.is_some() {
                        // the grid could not certify a root: the merging search, seeded as usual
                        seed.extend(predicted);
                        at_seed.extend(shifts.w_many(&predicted));
                    }
                    let seed = seed.into_iter().zip(at_seed.into_iter().map(|w| shifts.z(w))).collect();
                    joint_roots(&shifts, seed, &targets, zq * se, mumin, mumax)
                }
            }
        }
        RootSearch::FullRange => {
            // R's way: each root from the whole range, the ends evaluated once
            let z_at = |d: f64| shifts.z(w_and_ties(xs, ys, d, shifts.ties.0, shifts.ties.1));
            let (at_min, at_max) = (z_at(mumin), z_at(mumax));
            targets
                .iter()
                .map(|&zq| {
                    if at_min - zq <= 0.0 {
                        mumin
                    } else if at_max - zq >= 0.0 {
                        mumax
                    } else {
                        zeroin(mumin, mumax, at_min - zq, at_max - zq, |d| z_at(d) - zq, ROOT_TOL, 1000)
                    }
                })
                .collect()
        }
    };
    let (estimate, lower, upper) = match *roots.as_slice() {
        [e, l, u] => (e, l, u),
        _ => (f64::NAN, f64::NAN, f64::NAN),
    };
    Ok(MannWhitney { n_x: xs.len(), n_y: ys.len(), w, p_value, estimate, lower, upper, confidence })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tie term of every run, whether the first tie sits inside a block of the quick
    /// check, on a block's last pair or on the sample's last pair.
    #[test]
    fn self_ties_finds_a_tie_anywhere() {
        for n in [0usize, 1, 2, 255, 256, 257, 600] {
            for at in [0, 254, 255, 256, n.saturating_sub(2)] {
                let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
                if at + 1 < n {
                    // a run of three from `at`, where the sample allows one
                    for i in at + 1..(at + 3).min(n) {
                        if let Some(x) = v.get_mut(i) {
                            *x = at as f64;
                        }
                    }
                }
                let t = (at + 3).min(n).saturating_sub(at) as f64;
                let want = if at + 1 < n { t * t * t - t } else { 0.0 };
                assert_eq!(self_ties(&v), want, "n {n}, run from {at}");
            }
        }
    }

    /// A sorted sample of `scale * (LogNormal(0, 0.5) + shift)`, each value rounded to a
    /// multiple of `quantum` when given (many ties).
    pub(super) fn lognormal_sorted(seed: u64, n: usize, shift: f64, scale: f64, quantum: Option<f64>) -> Vec<f64> {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let dist = rand_distr::LogNormal::new(0.0, 0.5).unwrap();
        let mut v: Vec<f64> = (0..n)
            .map(|_| {
                let x = scale * (dist.sample(&mut rng) + shift);
                quantum.map_or(x, |q| (x / q).round() * q)
            })
            .collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    }

    /// Integer draws sorted and scaled: samples with exact ties at any scale.
    fn sorted_scaled(mut v: Vec<i32>, scale: f64) -> Vec<f64> {
        v.sort_unstable();
        v.into_iter().map(|x| f64::from(x) * scale).collect()
    }

    /// Two sorted samples of up to 200 values in -50..50, scaled by 1, 0.37 or 1e-3, and the
    /// scale (shifts are drawn as integers and scaled alike).
    fn tied_samples() -> impl proptest::strategy::Strategy<Value = (Vec<f64>, Vec<f64>, f64)> {
        use proptest::strategy::Strategy;
        let side = || proptest::collection::vec(-50i32..50, 0..200);
        (side(), side(), proptest::sample::select(vec![1.0, 0.37, 1e-3]))
            .prop_map(|(x, y, scale)| (sorted_scaled(x, scale), sorted_scaled(y, scale), scale))
    }

    #[test]
    fn normal_functions_round_trip() {
        for p in [1e-12, 1e-6, 0.01, 0.02425, 0.1, 0.5, 0.9, 0.975, 0.99, 1.0 - 1e-9] {
            let x = normal_quantile(p);
            assert!((normal_cdf(x) - p).abs() < 1e-13 * p.max(1e-3), "{p}: {x}");
        }
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((normal_quantile(0.99) - 2.326_347_874_040_841).abs() < 1e-12);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn merge_counts_match_brute_force() {
        let x = [1.0, 2.0, 2.0, 5.0, 7.0];
        let y = [2.0, 3.0, 5.0, 5.0];
        let (w, ties) = w_and_ties(&x, &y, 0.0, self_ties(&x), self_ties(&y));
        let brute: f64 = x
            .iter()
            .flat_map(|a| {
                y.iter().map(move |b| {
                    if a > b {
                        1.0
                    } else if a == b {
                        0.5
                    } else {
                        0.0
                    }
                })
            })
            .sum();
        assert_eq!(w, brute);
        // pooled: 2 x3, 5 x3 -> 2 * (27 - 3)
        assert_eq!(ties, 48.0);
    }

    proptest::proptest! {
        /// The two-pointer pass agrees with ranking the pooled sample, ties included.
        #[test]
        fn w_and_ties_match_ranks(
            x in proptest::collection::vec(0i32..8, 1..30),
            y in proptest::collection::vec(0i32..8, 1..30),
            d in -3i32..3,
        ) {
            let (xf, yf) = (sorted_scaled(x.clone(), 1.0), sorted_scaled(y.clone(), 1.0));
            let (w, ties) = w_and_ties(&xf, &yf, f64::from(d), self_ties(&xf), self_ties(&yf));
            let brute: f64 = x
                .iter()
                .flat_map(|&a| y.iter().map(move |&b| match (a - d).cmp(&b) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                }))
                .sum();
            let mut pooled: Vec<i32> = x.iter().map(|&a| a - d).chain(y.iter().copied()).collect();
            pooled.sort_unstable();
            let mut brute_ties = 0.0;
            for run in pooled.chunk_by(|a, b| a == b) {
                let t = run.len() as f64;
                brute_ties += t * t * t - t;
            }
            proptest::prop_assert_eq!(w, brute);
            proptest::prop_assert_eq!(ties, brute_ties);
        }
    }

    proptest::proptest! {
        /// The local search finds the roots R's full-range search finds, to the tolerance both
        /// work to (each lands within about 1e-4 of the same crossing).
        #[test]
        fn local_search_finds_the_full_range_roots(
            seed in 0u64..10_000,
            nx in 20usize..300,
            ny in 20usize..300,
            shift in -1.0f64..1.0,
            scale in proptest::sample::select(vec![1e-6, 0.01, 1.0, 1000.0, 1e9]),
            integers in proptest::bool::ANY,
        ) {
            let quantum = integers.then_some(scale / 4.0);
            let (x, y) = (lognormal_sorted(seed, nx, shift, scale, quantum), lognormal_sorted(seed + 1, ny, 0.0, scale, quantum));
            let full = mann_whitney_sorted_with(&x, &y, 0.98, RootSearch::FullRange);
            let local = mann_whitney_sorted_with(&x, &y, 0.98, RootSearch::Local);
            match (full, local) {
                (Ok(f), Ok(l)) => {
                    proptest::prop_assert_eq!((f.w, f.p_value), (l.w, l.p_value));
                    let tol = |v: f64| 2.1e-4 + 1e-12 * v.abs();
                    proptest::prop_assert!((f.lower - l.lower).abs() <= tol(f.lower), "lower {} vs {}", f.lower, l.lower);
                    proptest::prop_assert!((f.upper - l.upper).abs() <= tol(f.upper), "upper {} vs {}", f.upper, l.upper);
                    // the statistic sits at its centre over a whole gap between two differences
                    // when nx * ny is even, and every point of the gap is a root: check that each
                    // estimate is one, to the tolerance
                    let w = |d: f64| -> f64 {
                        x.iter().flat_map(|a| y.iter().map(move |b| {
                            let v = a - d;
                            if v > *b { 1.0 } else if v == *b { 0.5 } else { 0.0 }
                        })).sum()
                    };
                    let centre = (nx * ny) as f64 / 2.0;
                    for e in [f.estimate, l.estimate] {
                        let d = 1.1e-4 + 1e-12 * e.abs();
                        proptest::prop_assert!(w(e - d) >= centre - 0.5 && w(e + d) <= centre + 0.5, "estimate {}", e);
                    }
                }
                (f, l) => proptest::prop_assert_eq!(f.err(), l.err()),
            }
        }
    }

    proptest::proptest! {
        /// The four-lane merge counts what pairwise comparison counts, and sees every equality.
        #[test]
        fn below_count_matches_brute_force(
            (xf, yf, scale) in tied_samples(),
            d in -60i32..60,
        ) {
            let d = f64::from(d) * scale;
            let (below, equal) = below_count(&xf, &yf, d);
            let brute = xf.iter().map(|a| yf.iter().filter(|&&b| b < a - d).count() as u64).sum::<u64>();
            let brute_equal = xf.iter().any(|a| yf.iter().any(|&b| b == a - d));
            proptest::prop_assert_eq!(below, brute);
            proptest::prop_assert_eq!(equal, brute_equal);
        }
    }

    proptest::proptest! {
        /// The multi-shift walks count what one merge per shift counts, and flag an equality
        /// whenever one of the shifts has one.
        #[test]
        fn below_counts_match_single_merges(
            (xf, yf, scale) in tied_samples(),
            ds in proptest::array::uniform4(-60i32..60),
            halves in proptest::array::uniform4(proptest::bool::ANY),
        ) {
            // half-step shifts fall between the values: no equalities there
            let ds = std::array::from_fn::<f64, 4, _>(|k| {
                let d = f64::from(ds.get(k).copied().unwrap_or(0));
                (if halves.get(k) == Some(&true) { d + 0.5 } else { d }) * scale
            });
            let (below, equal) = below_counts(&xf, &yf, ds);
            let single: Vec<(u64, bool)> = ds.iter().map(|&d| below_count(&xf, &yf, d)).collect();
            proptest::prop_assert_eq!(below, single.iter().map(|s| s.0).collect::<Vec<_>>());
            proptest::prop_assert_eq!(equal, single.iter().any(|s| s.1));
            let many = w_and_ties_many(&xf, &yf, &ds, self_ties(&xf), self_ties(&yf));
            let one: Vec<(f64, f64)> = ds.iter().map(|&d| w_and_ties(&xf, &yf, d, self_ties(&xf), self_ties(&yf))).collect();
            proptest::prop_assert_eq!(many, one);
        }
    }

    proptest::proptest! {
        /// On tied counts (where the interval ends fall on differences, zero among them) the
        /// interval excludes zero exactly when the test at no shift rejects: `lower > 0` when
        /// the canary is significantly higher, `upper < 0` when significantly lower.
        #[test]
        fn interval_ends_agree_with_the_test_on_ties(
            x in proptest::collection::vec(0u8..4, 5..40),
            y in proptest::collection::vec(0u8..4, 5..40),
        ) {
            let xf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            let Ok(r) = mann_whitney(&xf, &yf, 0.9) else { return Ok(()) };
            let mut xs = xf.clone();
            xs.sort_by(f64::total_cmp);
            let mut ys = yf.clone();
            ys.sort_by(f64::total_cmp);
            let local = mann_whitney_sorted_with(&xs, &ys, 0.9, RootSearch::Local).unwrap();
            let centre = (xf.len() * yf.len()) as f64 / 2.0;
            let rejects = local.p_value < 0.1;
            proptest::prop_assert_eq!(local.lower > 0.0, rejects && local.w > centre, "{:?}", local);
            proptest::prop_assert_eq!(local.upper < 0.0, rejects && local.w < centre, "{:?}", local);
            proptest::prop_assert_eq!(r.w, local.w);
        }
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert_eq!(mann_whitney(&[], &[1.0], 0.98), Err(TestError::EmptySample));
        assert_eq!(mann_whitney(&[2.0, 2.0], &[2.0], 0.98), Err(TestError::AllTied));
        assert!(matches!(mann_whitney(&[1.0], &[2.0], 1.0), Err(TestError::BadConfidence(_))));
    }
}
