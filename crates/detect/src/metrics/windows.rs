//! Anomaly windows: runs of high scores reported once, at their onset, with evidence.

use faultlens_core::{ContentHasher, Evidence, TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

/// Which way the series moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Above the expected band.
    Up,
    /// Below the expected band.
    Down,
}

/// Which of the detector's tests gave a point its tail probability: what kind of departure
/// from the series' own history it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The point's own residual: its distance from the expected value.
    Residual,
    /// A residual that persisted: the residual smoothed over a few dozen points in streaming
    /// mode, a level shift's onset in batch mode.
    Shift,
    /// The value lies beyond the range the series has occupied, further than the series' own
    /// tail reaches.
    OutOfRange,
    /// The mean of the last stretch of points (six blocks of 25 by default) against the means of
    /// the series' past stretches (streaming mode).
    Stretch,
}

impl AnomalyKind {
    /// The kind's name as it is serialised (`residual`, `shift`, `out_of_range`, `stretch`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Residual => "residual",
            Self::Shift => "shift",
            Self::OutOfRange => "out_of_range",
            Self::Stretch => "stretch",
        }
    }

    /// A short phrase for reports: what the test looks for.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Residual => "the point's distance from the expected value",
            Self::Shift => "a sustained shift from the expected value",
            Self::OutOfRange => "a value beyond the range the series has occupied",
            Self::Stretch => "a stretch whose mean is unlike the series' past stretches",
        }
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// One anomalous excursion of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyWindow {
    /// First anomalous point.
    pub onset: Timestamp,
    /// Last anomalous point.
    pub end: Timestamp,
    /// Index of the onset in the input.
    pub onset_index: usize,
    /// Index of the end in the input.
    pub end_index: usize,
    /// Direction of the excursion at its peak.
    pub direction: Direction,
    /// Highest score in the window.
    pub peak_score: f64,
    /// The test that gave the window's highest-scoring point its tail probability (`None` when
    /// the scorer did not say, as when the caller passes no kinds to [`windows`]).
    pub kind: Option<AnomalyKind>,
    /// Largest distance from the expected value, in the series' units.
    pub magnitude: f64,
    /// The same distance in robust standard deviations.
    pub magnitude_sigmas: f64,
    /// Expected value at the onset.
    pub expected: f64,
    /// Lower edge of the expected band at the onset (expected - 3 scale).
    pub band_low: f64,
    /// Upper edge of the expected band at the onset (expected + 3 scale).
    pub band_high: f64,
    /// Observed value at the onset.
    pub observed: f64,
    /// Evidence: the series, the window, and the hash of its samples.
    pub evidence: Evidence,
}

/// Where the scored series came from, for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeriesRef {
    /// Bundle-relative source file (or any name).
    pub source: String,
    /// PromQL selector of the series.
    pub selector: String,
}

/// How scores become windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Score at or above which a point is anomalous (0.5 is a tail probability of 1e-3).
    pub threshold: f64,
    /// Points below the threshold that may separate two parts of one window.
    pub merge_gap: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self { threshold: 0.5, merge_gap: 5 }
    }
}

/// Groups scores into windows. `expected` and `scale` describe the model's expectation
/// (`scale` per point, or one value repeated); `kinds` says which test scored each point (it
/// may be empty, or shorter than the series: missing kinds are `None`).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn windows(
    series: &SeriesRef,
    timestamps_ms: &[i64],
    values: &[f64],
    scores: &[f64],
    expected: &[f64],
    scale: &[f64],
    kinds: &[Option<AnomalyKind>],
    config: &WindowConfig,
) -> Vec<AnomalyWindow> {
    let n = scores.len().min(timestamps_ms.len()).min(values.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if scores.get(i).copied().unwrap_or(0.0) < config.threshold {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut gap = 0;
        let mut j = i + 1;
        while j < n && gap <= config.merge_gap {
            if scores.get(j).copied().unwrap_or(0.0) >= config.threshold {
                end = j;
                gap = 0;
            } else {
                gap += 1;
            }
            j += 1;
        }
        out.push(build(series, timestamps_ms, values, scores, kinds, expected, scale, start, end));
        i = end + 1;
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn build(
    series: &SeriesRef,
    ts: &[i64],
    values: &[f64],
    scores: &[f64],
    kinds: &[Option<AnomalyKind>],
    expected: &[f64],
    scale: &[f64],
    start: usize,
    end: usize,
) -> AnomalyWindow {
    let at = |v: &[f64], k: usize| v.get(k).or_else(|| v.last()).copied().unwrap_or(f64::NAN);
    let mut peak = (start, 0.0f64, 0.0f64);
    let mut hasher = ContentHasher::new();
    let mut peak_score = 0.0f64;
    let mut kind = None;
    for k in start..=end {
        let (t, v, e) = (ts.get(k).copied().unwrap_or(0), at(values, k), at(expected, k));
        hasher.part(&t.to_le_bytes()).part(&v.to_le_bytes());
        // the first point with the highest score names the window's kind
        if at(scores, k) > peak_score || k == start {
            peak_score = peak_score.max(at(scores, k));
            kind = kinds.get(k).copied().flatten();
        }
        let d = v - e;
        if d.is_finite() && d.abs() > peak.1.abs() {
            peak = (k, d, d / at(scale, k).max(f64::MIN_POSITIVE));
        }
    }
    let onset = Timestamp::from_millis(ts.get(start).copied().unwrap_or(0));
    let end_t = Timestamp::from_millis(ts.get(end).copied().unwrap_or(0));
    let range = TimeRange { start: onset, end: end_t.max(onset) };
    let (exp0, sc0, obs0) = (at(expected, start), at(scale, start), at(values, start));
    let direction = if peak.1 >= 0.0 { Direction::Up } else { Direction::Down };
    let detail = format!(
        "{} {} from {onset} to {end_t}: observed {obs0:.4} vs expected {exp0:.4} (band {:.4}..{:.4}), peak {:+.1} sigma, score {peak_score:.2}{}",
        series.selector,
        if direction == Direction::Up { "rose" } else { "fell" },
        exp0 - 3.0 * sc0,
        exp0 + 3.0 * sc0,
        peak.2,
        kind.map(|k| format!(" (test: {k})")).unwrap_or_default(),
    );
    AnomalyWindow {
        onset,
        end: end_t,
        onset_index: start,
        end_index: end,
        direction,
        peak_score,
        kind,
        magnitude: peak.1.abs(),
        magnitude_sigmas: peak.2.abs(),
        expected: exp0,
        band_low: exp0 - 3.0 * sc0,
        band_high: exp0 + 3.0 * sc0,
        observed: obs0,
        evidence: Evidence::new(series.source.clone(), series.selector.clone(), hasher.finish(), detail)
            .with_range(range),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_named_as_it_is_serialised() {
        for k in [AnomalyKind::Residual, AnomalyKind::Shift, AnomalyKind::OutOfRange, AnomalyKind::Stretch] {
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::Value::from(k.name())));
        }
    }

    #[test]
    fn merges_close_runs_and_reports_onset_once() {
        let ts: Vec<i64> = (0..20).map(|i| i * 1000).collect();
        let values: Vec<f64> = (0..20).map(|i| if (5..12).contains(&i) { 10.0 } else { 0.0 }).collect();
        let mut scores = vec![0.0; 20];
        for i in [5, 6, 9, 11] {
            scores[i] = 0.9;
        }
        scores[18] = 0.7;
        let w = windows(
            &SeriesRef::default(),
            &ts,
            &values,
            &scores,
            &[0.0; 20],
            &[1.0; 20],
            &[],
            &WindowConfig::default(),
        );
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].kind, None);
        assert_eq!((w[0].onset_index, w[0].end_index, w[0].direction), (5, 11, Direction::Up));
        assert_eq!(w[0].magnitude_sigmas, 10.0);
        assert_eq!(w[1].onset_index, 18);
        assert!(w[0].evidence.range.is_some());
    }

    #[test]
    fn a_window_takes_the_kind_of_its_first_highest_point() {
        let ts: Vec<i64> = (0..10).map(|i| i * 1000).collect();
        let values = [0.0, 0.0, 5.0, 9.0, 9.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        let scores = [0.0, 0.0, 0.6, 0.9, 0.9, 0.6, 0.0, 0.0, 0.0, 0.0];
        let kinds = [
            None,
            None,
            Some(AnomalyKind::Residual),
            Some(AnomalyKind::OutOfRange),
            Some(AnomalyKind::Shift),
            Some(AnomalyKind::Shift),
        ];
        let run = |kinds: &[Option<AnomalyKind>]| {
            let config = WindowConfig { threshold: 0.5, merge_gap: 0 };
            windows(&SeriesRef::default(), &ts, &values, &scores, &[0.0; 10], &[1.0; 10], kinds, &config)
        };
        let w = run(&kinds);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].onset_index, w[0].end_index, w[0].peak_score), (2, 5, 0.9));
        assert_eq!(w[0].kind, Some(AnomalyKind::OutOfRange));
        let detail = &w[0].evidence.detail;
        assert!(detail.ends_with("(test: a value beyond the range the series has occupied)"), "{detail}");
        // kinds shorter than the series are missing, not an error
        let short = run(&kinds[..3]);
        assert_eq!(short[0].kind, None);
    }
}
