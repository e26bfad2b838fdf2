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
//! `W(d)` is evaluated by one merge of the two sorted samples, O(n_x + n_y) per evaluation.

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

/// The root of a decreasing function on `[lo, hi]`, as R's search finds it: `lo` when
/// `f(lo) <= 0`, `hi` when `f(hi) >= 0`, else the sign change. A bracket is grown from `guess`
/// by steps that quadruple (the ends are evaluated only when the bracket reaches them), then
/// closed with [`zeroin`] at R's tolerance.
fn root_near(f: impl Fn(f64) -> f64, guess: f64, step: f64, lo: f64, hi: f64) -> f64 {
    let g = guess.clamp(lo, hi);
    let fg = f(g);
    if fg == 0.0 {
        return g;
    }
    // f decreases: positive means the root lies to the right
    let (end, dir) = if fg > 0.0 { (hi, 1.0) } else { (lo, -1.0) };
    let (mut a, mut fa) = (g, fg);
    let mut h = step.max(1e-4);
    loop {
        let b = if (g + dir * h - end) * dir >= 0.0 { end } else { g + dir * h };
        let fb = f(b);
        if fb == 0.0 {
            return b;
        }
        if (fb > 0.0) != (fa > 0.0) {
            return if dir > 0.0 { zeroin(a, b, fa, fb, &f, 1e-4, 1000) } else { zeroin(b, a, fb, fa, &f, 1e-4, 1000) };
        }
        if b == end {
            // no sign change up to the end: the root is the end, as R returns it
            return end;
        }
        (a, fa) = (b, fb);
        h *= 4.0;
    }
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
    let mut ties = 0.0;
    let mut i = 0;
    while let Some(&x) = v.get(i) {
        let run = v.get(i..).map_or(0, |r| r.iter().take_while(|&&y| y == x).count()).max(1);
        let t = run as f64;
        ties += t * t * t - t;
        i += run;
    }
    ties
}

/// One branch-free merge of `xs[i..end]` (shifted by `-d`) into `ys[j..]`: adds, per `x`, the
/// control values below `x - d`; notes whether one equals it. Returns the positions reached.
#[derive(Debug, Clone, Copy)]
struct Lane {
    i: usize,
    end: usize,
    j: usize,
    below: u64,
    equal: bool,
}

impl Lane {
    /// One step; `false` when the lane is done (its values used up, or the control's).
    #[inline(always)]
    fn step(&mut self, xs: &[f64], ys: &[f64], d: f64) -> bool {
        let (Some(&x), Some(&y)) = (xs.get(self.i).filter(|_| self.i < self.end), ys.get(self.j)) else {
            return false;
        };
        let v = x - d;
        let lt = y < v;
        self.equal |= y == v;
        self.j += usize::from(lt);
        self.i += usize::from(!lt);
        self.below += if lt { 0 } else { self.j as u64 };
        true
    }

    /// Runs the lane out; experiment values left when the control is used up are above all of
    /// it.
    fn finish(&mut self, xs: &[f64], ys: &[f64], d: f64) {
        while self.step(xs, ys, d) {}
        if self.i < self.end {
            self.below += (self.end - self.i) as u64 * ys.len() as u64;
            self.i = self.end;
        }
    }
}

/// `sum over x of #{y < x - d}`, and whether some control value equals some `x - d`: four
/// merges over quarters of the experiment, run side by side (one merge is a chain of
/// dependent loads and compares; four independent chains keep the processor busy), each lane
/// starting where the single merge would be.
fn below_count(xs: &[f64], ys: &[f64], d: f64) -> (u64, bool) {
    const LANES: usize = 4;
    let n = xs.len();
    let quarter = n.div_ceil(LANES).max(1);
    let mut lanes = [Lane { i: 0, end: 0, j: 0, below: 0, equal: false }; LANES];
    for (k, lane) in lanes.iter_mut().enumerate() {
        let start = (k * quarter).min(n);
        let j = xs.get(start).map_or(ys.len(), |&x| ys.partition_point(|&y| y < x - d));
        *lane = Lane { i: start, end: ((k + 1) * quarter).min(n), j, below: 0, equal: false };
    }
    let [mut a, mut b, mut c, mut e] = lanes;
    loop {
        let (sa, sb, sc, se) = (a.step(xs, ys, d), b.step(xs, ys, d), c.step(xs, ys, d), e.step(xs, ys, d));
        if !(sa && sb && sc && se) {
            break;
        }
    }
    let mut below = 0;
    let mut equal = false;
    for lane in [&mut a, &mut b, &mut c, &mut e] {
        lane.finish(xs, ys, d);
        below += lane.below;
        equal |= lane.equal;
    }
    (below, equal)
}

/// `W` of `x - d` against `y` and the tie term `sum(t^3 - t)` of the pooled sample, by one
/// two-pointer pass over the sorted samples. The tie term is the two samples' own (`x_ties`,
/// `y_ties`, which do not depend on `d`) plus, for a value shared by `a` shifted experiment
/// values and `b` control values, the cross term `3ab(a + b)`.
fn w_and_ties(xs: &[f64], ys: &[f64], d: f64, x_ties: f64, y_ties: f64) -> (f64, f64) {
    // the common case, no shifted experiment value equal to a control value: branch-free
    // merges (the comparisons of interleaved samples are unpredictable, branches mispredict)
    let (below, equal) = below_count(xs, ys, d);
    if !equal {
        return (below as f64, x_ties + y_ties);
    }
    let mut j = 0usize;
    let mut w = 0.0;
    let mut cross = 0.0;
    let mut i = 0usize;
    while let Some(&x) = xs.get(i) {
        let v = x - d;
        while ys.get(j).is_some_and(|&y| y < v) {
            j += 1;
        }
        if ys.get(j).is_some_and(|&y| y == v) {
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

/// How the shift estimate and the interval ends are searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootSearch {
    /// R's way: Brent's method over the whole range of differences, from the smallest to the
    /// largest. Reproduces R's iterates, so its results equal R's to far below the tolerance.
    FullRange,
    /// Brent's method in a bracket grown around a guess (the difference of the medians, and
    /// that plus or minus the normal-theory half-width from the interquartile ranges). The
    /// same roots to the same tolerance of 1e-4, in a handful of evaluations instead of a
    /// few dozen; the answer can differ from R's by up to that tolerance (R's own error).
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
    radsort::sort(&mut xs);
    radsort::sort(&mut ys);
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
    let (x_ties, y_ties) = (self_ties(xs), self_ties(ys));
    let (nx, ny) = (xs.len() as f64, ys.len() as f64);
    let n = nx + ny;
    let sigma_of = |ties: f64| ((nx * ny / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0)))).max(0.0).sqrt();
    // the standardised statistic of x - d against y, continuity-corrected toward zero
    let z_of = |d: f64| {
        let (w, ties) = w_and_ties(xs, ys, d, x_ties, y_ties);
        let dz = w - nx * ny / 2.0;
        let sigma = sigma_of(ties);
        (dz - 0.5 * dz.signum() * f64::from(u8::from(dz != 0.0)), sigma)
    };
    let (w, ties) = w_and_ties(xs, ys, 0.0, x_ties, y_ties);
    let sigma = sigma_of(ties);
    if sigma == 0.0 || !sigma.is_finite() {
        return Err(TestError::AllTied);
    }
    let dz = w - nx * ny / 2.0;
    let z = (dz - 0.5 * dz.signum() * f64::from(u8::from(dz != 0.0))) / sigma;
    let p_value = (2.0 * normal_cdf(-z.abs())).min(1.0);
    let first = |v: &[f64]| v.first().copied().unwrap_or(0.0);
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let (mumin, mumax) = (first(xs) - last(ys), last(xs) - first(ys));
    let against = |(num, s): (f64, f64), zq: f64| if s == 0.0 { -zq } else { num / s - zq };
    let wdiff = |d: f64, zq: f64| against(z_of(d), zq);
    // the statistic at the two ends of the range, which every root of the full-range search
    // checks first: computed once, when first needed
    let (at_min, at_max) = (std::cell::OnceCell::new(), std::cell::OnceCell::new());
    // a scale for the local search: the normal-theory standard error of the difference, with
    // robust spreads (interquartile range / 1.349)
    let spread =
        |v: &[f64]| (faultlens_core::quantile_sorted(v, 0.75) - faultlens_core::quantile_sorted(v, 0.25)) / 1.349;
    let se = ((spread(xs).powi(2) / nx) + (spread(ys).powi(2) / ny)).sqrt();
    let se = if se > 0.0 && se.is_finite() { se } else { (mumax - mumin) / 4.0 };
    let alpha = 1.0 - confidence;
    let center = faultlens_core::quantile_sorted(xs, 0.5) - faultlens_core::quantile_sorted(ys, 0.5);
    let root = |zq: f64, guess: f64| {
        if search == RootSearch::Local {
            return root_near(|d| wdiff(d, zq), guess, 0.5 * se, mumin, mumax);
        }
        let f_lower = against(*at_min.get_or_init(|| z_of(mumin)), zq);
        if f_lower <= 0.0 {
            return mumin;
        }
        let f_upper = against(*at_max.get_or_init(|| z_of(mumax)), zq);
        if f_upper >= 0.0 {
            return mumax;
        }
        zeroin(mumin, mumax, f_lower, f_upper, |d| wdiff(d, zq), 1e-4, 1000)
    };
    let estimate = root(0.0, center);
    let zq = normal_quantile(1.0 - alpha / 2.0);
    let lower = root(zq, estimate - zq * se);
    let upper = root(-zq, estimate + zq * se);
    Ok(MannWhitney { n_x: xs.len(), n_y: ys.len(), w, p_value, estimate, lower, upper, confidence })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            mut x in proptest::collection::vec(0i32..8, 1..30),
            mut y in proptest::collection::vec(0i32..8, 1..30),
            d in -3i32..3,
        ) {
            x.sort_unstable();
            y.sort_unstable();
            let xf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
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
            scale in proptest::sample::select(vec![0.01, 1.0, 1000.0]),
            integers in proptest::bool::ANY,
        ) {
            use rand::SeedableRng;
            use rand_distr::Distribution;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let dist = rand_distr::LogNormal::new(0.0, 0.5).unwrap();
            let mut draw = |n: usize, s: f64| -> Vec<f64> {
                let mut v: Vec<f64> = (0..n)
                    .map(|_| {
                        let x = scale * (dist.sample(&mut rng) + s);
                        if integers { (x / scale * 4.0).round() } else { x }
                    })
                    .collect();
                v.sort_unstable_by(f64::total_cmp);
                v
            };
            let (x, y) = (draw(nx, shift), draw(ny, 0.0));
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
            mut x in proptest::collection::vec(-50i32..50, 0..200),
            mut y in proptest::collection::vec(-50i32..50, 0..200),
            scale in proptest::sample::select(vec![1.0, 0.37, 1e-3]),
            d in -60i32..60,
        ) {
            x.sort_unstable();
            y.sort_unstable();
            let xf: Vec<f64> = x.iter().map(|&v| f64::from(v) * scale).collect();
            let yf: Vec<f64> = y.iter().map(|&v| f64::from(v) * scale).collect();
            let d = f64::from(d) * scale;
            let (below, equal) = below_count(&xf, &yf, d);
            let brute = xf.iter().map(|a| yf.iter().filter(|&&b| b < a - d).count() as u64).sum::<u64>();
            let brute_equal = xf.iter().any(|a| yf.iter().any(|&b| b == a - d));
            proptest::prop_assert_eq!(below, brute);
            proptest::prop_assert_eq!(equal, brute_equal);
        }
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert_eq!(mann_whitney(&[], &[1.0], 0.98), Err(TestError::EmptySample));
        assert_eq!(mann_whitney(&[2.0, 2.0], &[2.0], 0.98), Err(TestError::AllTied));
        assert!(matches!(mann_whitney(&[1.0], &[2.0], 1.0), Err(TestError::BadConfidence(_))));
    }
}
