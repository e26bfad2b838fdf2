//! The batch ensemble: the whole series at once.
//!
//! 1. Seasonality detection: candidate periods (a day and a week at the series' step, plus the
//!    strongest autocorrelation peak) are kept when their autocorrelation on the detrended series
//!    is clearly positive.
//! 2. Decomposition: a robust trend (running median of one period) and per-phase medians of the
//!    detrended series for each kept period. It is O(n) and, on a year of 5-minute points, far
//!    faster than STL; [`Decomposition::Mstl`] runs augurs' MSTL instead when the `mstl` feature
//!    is on.
//! 3. Robust residual scoring: residuals over their median absolute deviation, turned into tail
//!    probabilities against the series' own residual distribution, so scores are comparable
//!    across series.
//! 4. Seasonal Hybrid ESD on the residuals (generalised ESD with median and MAD); its outliers
//!    are reported, and scored by the same calibrated residual tail as every other point.
//! 5. Level shifts by binary segmentation of the deseasonalised series.
//! 6. Alarm handling: points are grouped into windows, each reported once at its onset.

use serde::{Deserialize, Serialize};

use super::tail::RarityHistogram;
use super::windows::AnomalyKind;

/// How the batch ensemble decomposes a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decomposition {
    /// Running-median trend plus per-phase medians (fast, robust; the default).
    #[default]
    RobustPhase,
    /// augurs MSTL (needs the `mstl` feature; falls back to `robust_phase` without it).
    Mstl,
}

/// Settings of the batch ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Decomposition method.
    pub decomposition: Decomposition,
    /// Minimum autocorrelation for a candidate period to be kept.
    pub min_seasonal_acf: f64,
    /// Largest share of points Seasonal Hybrid ESD may flag.
    pub esd_max_fraction: f64,
    /// Significance level of the ESD test.
    pub esd_alpha: f64,
    /// Smallest segment, in points, between two level shifts.
    pub min_segment: usize,
    /// Smallest level shift reported, in robust standard deviations of the residuals.
    pub min_shift_sigmas: f64,
    /// Score given by a tail probability of `10^-score_decades` is 1 (as in streaming).
    pub score_decades: f64,
    /// Alarm handling.
    pub events: super::events::EventConfig,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            decomposition: Decomposition::RobustPhase,
            min_seasonal_acf: 0.3,
            esd_max_fraction: 0.02,
            esd_alpha: 0.05,
            min_segment: 12,
            min_shift_sigmas: 3.0,
            score_decades: 6.0,
            events: super::events::EventConfig::default(),
        }
    }
}

/// The batch ensemble's view of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// Score per input point, in `[0, 1]` (0 for skipped points).
    pub scores: Vec<f64>,
    /// Expected value per point (trend plus seasonal; NaN for skipped points).
    pub expected: Vec<f64>,
    /// Robust residual scale (1.4826 x MAD), in the series' units.
    pub scale: f64,
    /// Seasonal periods kept, in points.
    pub periods: Vec<usize>,
    /// Indices flagged by Seasonal Hybrid ESD.
    pub esd_outliers: Vec<usize>,
    /// Indices where a level shift starts.
    pub level_shifts: Vec<usize>,
    /// The test that gave each point its score: [`AnomalyKind::Shift`] at a level shift's onset
    /// when the shift is the rarer finding there, [`AnomalyKind::Residual`] elsewhere; `None`
    /// for skipped points and series too short to score.
    pub kinds: Vec<Option<AnomalyKind>>,
}

fn median_of(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

pub use faultlens_core::median_step;

/// Running median over a centred window of `w` points, computed on a stride and interpolated,
/// so the cost stays linear.
fn running_median(y: &[f64], w: usize) -> Vec<f64> {
    let n = y.len();
    if n == 0 {
        return Vec::new();
    }
    let w = w.clamp(3, n.max(3));
    let stride = (w / 8).max(1);
    let mut knots = Vec::new();
    let mut buf = Vec::with_capacity(w);
    let mut i = 0;
    while i < n {
        let lo = i.saturating_sub(w / 2);
        let hi = (i + w / 2 + 1).min(n);
        buf.clear();
        buf.extend_from_slice(y.get(lo..hi).unwrap_or_default());
        knots.push((i, median_of(&mut buf)));
        if i == n - 1 {
            break;
        }
        i = (i + stride).min(n - 1);
    }
    let mut out = vec![0.0; n];
    for pair in knots.windows(2) {
        if let [(i0, v0), (i1, v1)] = pair {
            for (k, o) in out.iter_mut().enumerate().take(*i1 + 1).skip(*i0) {
                let f = (k - i0) as f64 / (*i1 - *i0).max(1) as f64;
                *o = v0 + (v1 - v0) * f;
            }
        }
    }
    if let (1, Some(&(_, v))) = (knots.len(), knots.first()) {
        out.fill(v);
    }
    out
}

fn autocorrelation(y: &[f64], lag: usize) -> f64 {
    let n = y.len();
    if lag == 0 || lag * 2 >= n {
        return 0.0;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let var: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    if var <= 0.0 {
        return 0.0;
    }
    let cov: f64 = y.iter().zip(y.iter().skip(lag)).map(|(a, b)| (a - mean) * (b - mean)).sum();
    cov / var
}

/// Seasonal periods (in points) worth removing from `detrended`.
fn detect_periods(detrended: &[f64], step_ms: i64, min_acf: f64) -> Vec<usize> {
    let n = detrended.len();
    let mut cands: Vec<usize> = Vec::new();
    if step_ms > 0 {
        for span in [86_400_000i64, 7 * 86_400_000] {
            let p = (span / step_ms) as usize;
            if p >= 4 && p * 2 < n && span % step_ms == 0 {
                cands.push(p);
            }
        }
    }
    // the strongest autocorrelation peak among short lags, on a subsample for speed
    let max_lag = (n / 3).min(1000);
    let sub: Vec<f64> = detrended.iter().step_by((n / 20_000).max(1)).copied().collect();
    let ratio = n.div_ceil(sub.len().max(1)).max(1);
    let mut best = (0usize, 0.0f64);
    let mut prev = 1.0;
    let mut rising = false;
    for lag in 2..(max_lag / ratio).max(2) {
        let r = autocorrelation(&sub, lag);
        if r > prev {
            rising = true;
        } else if rising && prev > best.1 {
            best = (lag - 1, prev);
            rising = false;
        }
        prev = r;
    }
    if best.1 > min_acf {
        cands.push(best.0 * ratio);
    }
    // calendar periods come first; a later candidate close to a kept one is the same period
    let mut keep: Vec<usize> = Vec::new();
    for p in cands {
        let near = keep.iter().any(|&q| p.abs_diff(q) * 20 <= q);
        if !near && autocorrelation(detrended, p) > min_acf {
            keep.push(p);
        }
    }
    keep.sort_unstable();
    keep.dedup();
    // drop a period that a kept multiple already explains
    let snapshot = keep.clone();
    keep.retain(|&p| !snapshot.iter().any(|&q| q > p && q % p == 0 && q < 2 * p));
    keep
}

/// Per-phase medians of `y` for period `p`, centred.
fn phase_medians(y: &[f64], p: usize) -> Vec<f64> {
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); p];
    for (i, &v) in y.iter().enumerate() {
        if let Some(b) = buckets.get_mut(i % p) {
            b.push(v);
        }
    }
    let mut m: Vec<f64> = buckets.iter_mut().map(|b| median_of(b)).collect();
    let c = m.iter().sum::<f64>() / p.max(1) as f64;
    for v in &mut m {
        *v -= c;
    }
    m
}

/// Trend and summed seasonal components from augurs' MSTL.
#[cfg(feature = "mstl")]
pub(crate) fn mstl(y: &[f64], periods: &[usize]) -> Option<(Vec<f64>, Vec<f64>)> {
    use augurs_core::Fit;
    let fitted = augurs_mstl::MSTLModel::naive(periods.to_vec()).fit(y).ok()?;
    let res = fitted.fit();
    let trend: Vec<f64> = res.trend().iter().map(|&v| f64::from(v)).collect();
    let mut seasonal = vec![0.0; y.len()];
    for comp in res.seasonal() {
        for (s, &v) in seasonal.iter_mut().zip(comp.iter()) {
            *s += f64::from(v);
        }
    }
    Some((trend, seasonal))
}

/// Generalised ESD with median and MAD (Seasonal Hybrid ESD on deseasonalised residuals).
///
/// The median and MAD are recomputed only after every one percent of points removed: they are
/// robust, so removing a few extreme points barely moves them, and the test costs
/// O(n log n) instead of O(k n).
fn hybrid_esd(resid: &[f64], max_fraction: f64, alpha: f64) -> Vec<usize> {
    let n = resid.len();
    let k = ((n as f64) * max_fraction) as usize;
    if n < 16 || k == 0 {
        return Vec::new();
    }
    let refresh_every = (n / 100).max(1);
    let mut alive = vec![true; n];
    let mut removed = Vec::with_capacity(k);
    let mut last_significant = 0;
    let mut order: Vec<usize> = Vec::new();
    let mut cursor = 0;
    let (mut med, mut mad) = (0.0, 0.0);
    for i in 1..=k {
        if (i - 1) % refresh_every == 0 {
            let mut vals: Vec<f64> = resid.iter().zip(&alive).filter(|(_, a)| **a).map(|(v, _)| *v).collect();
            med = median_of(&mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - med).abs()).collect();
            mad = median_of(&mut dev) * 1.4826;
            if mad <= 0.0 {
                break;
            }
            order = (0..n).filter(|&j| alive.get(j).copied().unwrap_or(false)).collect();
            let key = |j: &usize| (resid.get(*j).copied().unwrap_or(med) - med).abs();
            let cmp = |a: &usize, b: &usize| key(b).total_cmp(&key(a)).then(a.cmp(b));
            // only the next `refresh_every` candidates are needed before the next refresh
            if order.len() > refresh_every {
                order.select_nth_unstable_by(refresh_every, cmp);
                order.truncate(refresh_every);
            }
            order.sort_by(cmp);
            cursor = 0;
        }
        let Some(&j) = order.get(cursor) else { break };
        cursor += 1;
        let r = (resid.get(j).copied().unwrap_or(med) - med).abs() / mad;
        let m = (n - i + 1) as f64;
        let p = 1.0 - alpha / (2.0 * m);
        let t = student_t_quantile(p, m - 2.0);
        let lambda = (m - 1.0) * t / ((m - 2.0 + t * t) * m).sqrt();
        if let Some(a) = alive.get_mut(j) {
            *a = false;
        }
        removed.push(j);
        if r > lambda {
            last_significant = i;
        }
    }
    removed.truncate(last_significant);
    removed.sort_unstable();
    removed
}

/// Quantile of Student's t with `df` degrees of freedom (Cornish-Fisher from the normal
/// quantile; accurate to a few parts in a thousand for `df >= 10`, plenty for ESD).
fn student_t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    z + g1 / df + g2 / (df * df)
}

/// Inverse of the standard normal CDF (Acklam's rational approximation).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let a = [
        -3.96968302866538e+01,
        2.20946098424520e+02,
        -2.75928510446969e+02,
        1.38357751867269e+02,
        -3.06647980661472e+01,
        2.50662827745924,
    ];
    let b = [
        -5.44760987982241e+01,
        1.61585836858041e+02,
        -1.55698979859887e+02,
        6.68013118877197e+01,
        -1.32806815528857e+01,
    ];
    let c = [
        -7.78489400243029e-03,
        -3.22396458041136e-01,
        -2.40075827716184,
        -2.54973253934373,
        4.37466414146497,
        2.93816398269878,
    ];
    let d = [7.78469570904146e-03, 3.22467129070040e-01, 2.445134137143, 3.75440866190742];
    let poly = |coef: &[f64], x: f64| coef.iter().fold(0.0, |acc, &k| acc * x + k);
    if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        poly(&c, q) / (poly(&d, q) * q + 1.0)
    } else if p > 1.0 - 0.02425 {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -poly(&c, q) / (poly(&d, q) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&a, r) * q / (poly(&b, r) * r + 1.0)
    }
}

/// Level shifts by binary segmentation on `y`: a split is kept when the difference of the two
/// segments' medians exceeds `min_sigmas * scale` and each side has at least `min_seg` points.
fn level_shifts(y: &[f64], scale: f64, min_seg: usize, min_sigmas: f64) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![(0usize, y.len())];
    let mut prefix = Vec::with_capacity(y.len() + 1);
    prefix.push(0.0);
    for v in y {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
    }
    let mean = |a: usize, b: usize| {
        (prefix.get(b).copied().unwrap_or(0.0) - prefix.get(a).copied().unwrap_or(0.0)) / (b - a).max(1) as f64
    };
    while let Some((a, b)) = stack.pop() {
        if b - a < 2 * min_seg || out.len() > 64 {
            continue;
        }
        // the split maximising the weighted mean difference (CUSUM)
        let mut best = (0usize, 0.0f64);
        for k in (a + min_seg)..=(b - min_seg) {
            let (n1, n2) = ((k - a) as f64, (b - k) as f64);
            let stat = (mean(a, k) - mean(k, b)).abs() * (n1 * n2 / (n1 + n2)).sqrt();
            if stat > best.1 {
                best = (k, stat);
            }
        }
        let k = best.0;
        if k == 0 {
            continue;
        }
        // confirm with medians so a few spikes cannot fake a shift
        let mut left: Vec<f64> = y.get(a..k).unwrap_or_default().to_vec();
        let mut right: Vec<f64> = y.get(k..b).unwrap_or_default().to_vec();
        let shift = (median_of(&mut right) - median_of(&mut left)).abs();
        if shift > min_sigmas * scale && best.1 > 4.0 * scale * 3.0 {
            out.push(k);
            stack.push((a, k));
            stack.push((k, b));
        }
    }
    out.sort_unstable();
    out
}

/// Runs the batch ensemble. Points with non-finite values or timestamps out of order are
/// skipped (score 0); the rest are scored together.
#[must_use]
pub fn score_batch(timestamps_ms: &[i64], values: &[f64], config: &BatchConfig) -> BatchResult {
    let n = values.len().min(timestamps_ms.len());
    let mut keep: Vec<usize> = Vec::with_capacity(n);
    let mut last = i64::MIN;
    for i in 0..n {
        let (Some(&t), Some(&v)) = (timestamps_ms.get(i), values.get(i)) else { continue };
        if v.is_finite() && t > last {
            keep.push(i);
            last = t;
        }
    }
    let y: Vec<f64> = keep.iter().filter_map(|&i| values.get(i).copied()).collect();
    let ts: Vec<i64> = keep.iter().filter_map(|&i| timestamps_ms.get(i).copied()).collect();
    let mut result = BatchResult {
        scores: vec![0.0; n],
        expected: vec![f64::NAN; n],
        scale: 0.0,
        periods: Vec::new(),
        esd_outliers: Vec::new(),
        level_shifts: Vec::new(),
        kinds: vec![None; n],
    };
    if y.len() < 8 {
        for (&i, &v) in keep.iter().zip(&y) {
            if let Some(e) = result.expected.get_mut(i) {
                *e = v;
            }
        }
        return result;
    }
    let step = median_step(&ts);
    // first pass: trend over a day (or a tenth of the series), periods from the detrended series
    let w0 = if step > 0 { ((86_400_000 / step) as usize).clamp(5, y.len() / 2 + 1) } else { 25 };
    let trend0 = running_median(&y, w0.min(y.len() / 10 + 5));
    let detrended: Vec<f64> = y.iter().zip(&trend0).map(|(a, b)| a - b).collect();
    let periods = detect_periods(&detrended, step, config.min_seasonal_acf);
    // decomposition
    let longest = periods.iter().copied().max().unwrap_or(w0.min(y.len() / 10 + 5));
    let trend = running_median(&y, longest);
    let mut seasonal = vec![0.0; y.len()];
    let mut work: Vec<f64> = y.iter().zip(&trend).map(|(a, b)| a - b).collect();
    for &p in &periods {
        let m = phase_medians(&work, p);
        for (i, (s, w)) in seasonal.iter_mut().zip(work.iter_mut()).enumerate() {
            let v = m.get(i % p).copied().unwrap_or(0.0);
            *s += v;
            *w -= v;
        }
    }
    #[cfg(feature = "mstl")]
    let (trend, seasonal) = if config.decomposition == Decomposition::Mstl && !periods.is_empty() {
        mstl(&y, &periods).unwrap_or((trend, seasonal))
    } else {
        (trend, seasonal)
    };
    // residuals below half a percent of the series' interquartile range, or below its quantum,
    // are not anomalies: this keeps noise-free and integer series from exploding
    let spread_floor = {
        let mut sorted = y.clone();
        let mut q = |f: f64| {
            let k = ((sorted.len() - 1) as f64 * f) as usize;
            sorted.select_nth_unstable_by(k, f64::total_cmp).1.to_owned()
        };
        let quantum = y
            .windows(2)
            .filter_map(|w| match w {
                [a, b] if a != b => Some((a - b).abs()),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min);
        (0.005 * (q(0.75) - q(0.25)).abs()).max(if quantum.is_finite() { quantum * 0.5 } else { 0.0 }).max(1e-12)
    };
    let residuals = |trend: &[f64]| -> (Vec<f64>, f64, f64) {
        let resid: Vec<f64> = y.iter().zip(trend).zip(&seasonal).map(|((v, t), s)| v - t - s).collect();
        let mut tmp = resid.clone();
        let med = median_of(&mut tmp);
        let mut dev: Vec<f64> = resid.iter().map(|r| (r - med).abs()).collect();
        let floor = spread_floor;
        let scale = (median_of(&mut dev) * 1.4826).max(floor);
        (resid, med, scale)
    };
    let (_, _, scale0) = residuals(&trend);
    let deseason: Vec<f64> = y.iter().zip(&seasonal).map(|(a, b)| a - b).collect();
    let shifts = level_shifts(&deseason, scale0, config.min_segment, config.min_shift_sigmas);
    // the trend restarts at each level shift, so a shift is one excursion, not a smear
    let mut trend = trend;
    if !shifts.is_empty() {
        let mut bounds = vec![0];
        bounds.extend(&shifts);
        bounds.push(y.len());
        for seg in bounds.windows(2) {
            if let [a, b] = seg {
                let part = running_median(deseason.get(*a..*b).unwrap_or_default(), longest.min(b - a));
                if let Some(dst) = trend.get_mut(*a..*b) {
                    dst.copy_from_slice(&part);
                }
            }
        }
    }
    let (resid, med, scale) = residuals(&trend);
    // tail probabilities against the series' own residual distribution
    let z: Vec<f64> = resid.iter().map(|r| ((r - med) / scale).abs()).collect();
    let mut hist = RarityHistogram::new();
    for &v in &z {
        hist.add(v, 1e12);
    }
    let esd = hybrid_esd(&resid, config.esd_max_fraction, config.esd_alpha);
    let mut p: Vec<f64> = z.iter().map(|&v| hist.tail_probability_leave_one_out(v)).collect();
    let mut kinds = vec![AnomalyKind::Residual; p.len()];
    // a level shift's onset is as rare as its size against the residual scale
    for &k in &shifts {
        let before = deseason.get(k.saturating_sub(config.min_segment)..k).unwrap_or_default();
        let after = deseason.get(k..(k + config.min_segment).min(deseason.len())).unwrap_or_default();
        let mut b = before.to_vec();
        let mut a = after.to_vec();
        let size = (median_of(&mut a) - median_of(&mut b)).abs() / scale;
        if let (Some(pi), Some(kind)) = (p.get_mut(k), kinds.get_mut(k)) {
            let p_shift = hist.tail_probability(size);
            if p_shift < *pi {
                *pi = p_shift;
                *kind = AnomalyKind::Shift;
            }
        }
    }
    // at a shift's onset the expectation is the level before it
    let mut expected_trend = trend.clone();
    for &k in &shifts {
        if let (Some(prev), Some(slot)) =
            (k.checked_sub(1).and_then(|j| trend.get(j)).copied(), expected_trend.get_mut(k))
        {
            *slot = prev;
        }
    }
    // alarm handling: one high score per excursion, at its onset
    super::events::damp_events(&mut p, &config.events);
    for (j, &i) in keep.iter().enumerate() {
        if let (Some(s), Some(e), Some(&pj), Some(t), Some(se)) =
            (result.scores.get_mut(i), result.expected.get_mut(i), p.get(j), expected_trend.get(j), seasonal.get(j))
        {
            *s = super::tail::score_of_ln_p(pj.ln(), config.score_decades);
            *e = t + se + med;
        }
        if let (Some(slot), Some(&kind)) = (result.kinds.get_mut(i), kinds.get(j)) {
            *slot = Some(kind);
        }
    }
    result.scale = scale;
    result.periods = periods;
    result.esd_outliers = esd.iter().filter_map(|&j| keep.get(j).copied()).collect();
    result.level_shifts = shifts.iter().filter_map(|&j| keep.get(j).copied()).collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((student_t_quantile(0.975, 30.0) - 2.042).abs() < 0.01);
    }

    #[test]
    fn finds_daily_period_spike_and_shift() {
        let step = 300_000i64;
        let n = 288 * 14;
        let ts: Vec<i64> = (0..n as i64).map(|i| i * step).collect();
        let mut y: Vec<f64> = (0..n)
            .map(|i| 10.0 + 5.0 * (std::f64::consts::TAU * i as f64 / 288.0).sin() + ((i * 7919) % 13) as f64 * 0.05)
            .collect();
        y[2000] += 20.0;
        for v in y.iter_mut().skip(3000) {
            *v += 8.0;
        }
        let r = score_batch(&ts, &y, &BatchConfig::default());
        assert_eq!(r.periods, vec![288]);
        assert!(r.esd_outliers.contains(&2000), "{:?}", r.esd_outliers);
        assert!(r.level_shifts.iter().any(|&k| (2995..=3005).contains(&k)), "{:?}", r.level_shifts);
        assert!(r.scores[2000] > 0.8, "spike score {} scale {}", r.scores[2000], r.scale);
        let quiet =
            r.scores.iter().enumerate().filter(|(i, s)| **s > 0.8 && *i != 2000 && !(2990..3010).contains(i)).count();
        assert!(quiet < n / 100, "{quiet} high scores elsewhere");
    }
}
