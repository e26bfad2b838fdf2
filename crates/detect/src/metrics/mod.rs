//! Anomaly detection in metric series.
//!
//! - [`StreamingDetector`] scores one point at a time, causally, with a bounded state per
//!   series that serialises; [`score_streaming`] runs it over a whole series.
//! - [`score_batch`] runs the batch ensemble (seasonality detection, robust decomposition,
//!   robust residual scoring, Seasonal Hybrid ESD, level shifts) over a whole series.
//! - [`Ensemble`] puts both behind the [`SeriesDetector`] trait; [`detect_many`] scores
//!   thousands of series in parallel, [`rank_in_window`] and [`group_by_service`] read the result.
//!
//! Scores are calibrated across series: a score `s` means the point's statistic has a tail
//! probability of about `10^(-6 s)` against that series' own history (0.5 is one in a thousand,
//! 0.9 about four in a million), whatever the series' units, noise or quantisation. In streaming
//! mode, a point whose last few values trace a shape the series drew a few hours before scores
//! 0.8 of that ([`StreamConfig::shape_damping`]): a familiar burst is less news than its rarity.
//! And a series that keeps raising alarms is believed less at each new one: its scores drop by
//! `log10(1 + alarms / 10) / 6`, with `alarms` the decayed count of its past alarms
//! ([`StreamConfig::fatigue_memory`]). A value that only grazes the edge of the range the series
//! has occupied is judged in proportion to how far past it lies ([`StreamConfig::range_margin`]):
//! a bounded series brushing its own limits is not news.

mod batch;
mod events;
mod range;
mod repeats;
mod season;
mod shapes;
mod stream;
mod stretch;
mod tail;
mod windows;

/// Seeded uniform noise in `[-0.5, 0.5)` (xorshift64), for the unit tests.
#[cfg(test)]
pub(crate) fn test_noise(seed: u64) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

pub use batch::{BatchConfig, BatchResult, Decomposition, median_step, score_batch};
pub use events::EventConfig;
pub use stream::{PointScore, StreamConfig, StreamState};
pub use windows::{AnomalyKind, AnomalyWindow, Direction, SeriesRef, WindowConfig, windows};

/// The layout of a saved [`StreamingDetector`]. It changes whenever the state's fields do, so
/// a state saved by another build is refused with a clear error rather than misread.
/// Snapshots without the field (format 0) come from builds before the layout was numbered.
pub const STATE_FORMAT: u32 = 4;

/// A streaming detector for one series: its configuration and its state.
///
/// It serialises (with its [`STATE_FORMAT`]), so a process can save its detectors and resume
/// them after a restart without relearning: [`SeriesStream::snapshot`] saves,
/// [`StreamingDetector::restore`] (or [`Ensemble`]'s [`SeriesDetector::resume_stream`]) loads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamingDetector {
    /// [`STATE_FORMAT`] of the build that saved it.
    #[serde(default)]
    format: u32,
    config: StreamConfig,
    state: StreamState,
}

impl StreamingDetector {
    /// A detector with the given configuration.
    #[must_use]
    pub fn new(config: StreamConfig) -> Self {
        let state = StreamState::new(&config);
        Self { format: STATE_FORMAT, config, state }
    }

    /// Loads a detector saved by [`SeriesStream::snapshot`] (or serialised to JSON).
    ///
    /// # Errors
    /// When the snapshot was saved by a build with another [`STATE_FORMAT`] (the message gives
    /// both), or is not a saved detector (the message names the field at fault).
    pub fn restore(snapshot: serde_json::Value) -> faultlens_core::Result<Self> {
        let format = match snapshot.get("format") {
            None => 0,
            Some(v) => v.as_u64().and_then(|f| u32::try_from(f).ok()).ok_or_else(|| {
                faultlens_core::Error::invalid("detector state", format!("field `format` is {v}, not a format number"))
            })?,
        };
        if format != STATE_FORMAT {
            return Err(faultlens_core::Error::invalid(
                "detector state",
                format!(
                    "saved in state format {format}{}, this build reads format {STATE_FORMAT}; start the series \
                     afresh (it relearns within a few hundred points)",
                    if format == 0 { " (before formats were numbered)" } else { "" }
                ),
            ));
        }
        serde_json::from_value(snapshot).map_err(|e| faultlens_core::Error::invalid("detector state", e.to_string()))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Scores one point (see [`StreamState::update`]).
    pub fn update(&mut self, t_ms: i64, value: f64) -> PointScore {
        self.state.update(&self.config, t_ms, value)
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> &StreamState {
        &self.state
    }
}

impl Default for StreamingDetector {
    fn default() -> Self {
        Self::new(StreamConfig::default())
    }
}

/// Scores a whole series causally, point by point.
#[must_use]
pub fn score_streaming(timestamps_ms: &[i64], values: &[f64], config: &StreamConfig) -> Vec<PointScore> {
    let mut d = StreamingDetector::new(config.clone());
    timestamps_ms.iter().zip(values).map(|(&t, &v)| d.update(t, v)).collect()
}

use std::collections::BTreeMap;

use faultlens_core::{MetricSeries, SeriesDetector, SeriesStream, TimeRange};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

impl SeriesStream for StreamingDetector {
    fn update(&mut self, t_ms: i64, value: f64) -> f64 {
        StreamingDetector::update(self, t_ms, value).score
    }

    fn snapshot(&self) -> faultlens_core::Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| faultlens_core::Error::invalid("detector state", e.to_string()))
    }
}

/// Streaming (causal) or batch scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Point by point, causally.
    #[default]
    Stream,
    /// The whole series at once.
    Batch,
}

/// Settings of the default ensemble. `DetectConfig::default()` needs no tuning.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Streaming or batch.
    pub mode: Mode,
    /// Streaming settings.
    pub stream: StreamConfig,
    /// Batch settings.
    pub batch: BatchConfig,
    /// How scores become windows.
    pub windows: WindowConfig,
}

impl DetectConfig {
    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

/// The default detector: streaming or batch ensemble behind [`SeriesDetector`].
#[derive(Debug, Clone, Default)]
pub struct Ensemble {
    config: DetectConfig,
}

impl Ensemble {
    /// An ensemble with these settings.
    #[must_use]
    pub fn new(config: DetectConfig) -> Self {
        Self { config }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &DetectConfig {
        &self.config
    }

    /// Scores a series and groups its anomalous points into windows with evidence.
    #[must_use]
    pub fn analyse(&self, series: &SeriesRef, timestamps_ms: &[i64], values: &[f64]) -> SeriesAnalysis {
        let (scores, expected, scale, kinds) = match self.config.mode {
            Mode::Stream => {
                let pts = score_streaming(timestamps_ms, values, &self.config.stream);
                let scores = pts.iter().map(|p| p.score).collect::<Vec<_>>();
                let expected = pts.iter().map(|p| p.expected).collect();
                let scale = pts.iter().map(|p| p.scale).collect();
                let kinds = pts.iter().map(|p| p.kind).collect();
                (scores, expected, scale, kinds)
            }
            Mode::Batch => {
                let r = score_batch(timestamps_ms, values, &self.config.batch);
                let scale = vec![r.scale; r.scores.len()];
                (r.scores, r.expected, scale, r.kinds)
            }
        };
        let windows = windows(series, timestamps_ms, values, &scores, &expected, &scale, &kinds, &self.config.windows);
        SeriesAnalysis {
            series: series.clone(),
            max_score: scores.iter().copied().fold(0.0, f64::max),
            scores,
            windows,
        }
    }
}

impl SeriesDetector for Ensemble {
    fn name(&self) -> &str {
        match self.config.mode {
            Mode::Stream => "ensemble-stream",
            Mode::Batch => "ensemble-batch",
        }
    }

    fn score_batch(&self, timestamps_ms: &[i64], values: &[f64]) -> faultlens_core::Result<Vec<f64>> {
        if timestamps_ms.len() != values.len() {
            return Err(faultlens_core::Error::invalid(
                "series",
                format!("{} timestamps but {} values", timestamps_ms.len(), values.len()),
            ));
        }
        Ok(match self.config.mode {
            Mode::Stream => {
                score_streaming(timestamps_ms, values, &self.config.stream).into_iter().map(|p| p.score).collect()
            }
            Mode::Batch => score_batch(timestamps_ms, values, &self.config.batch).scores,
        })
    }

    fn start_stream(&self) -> Box<dyn SeriesStream> {
        Box::new(StreamingDetector::new(self.config.stream.clone()))
    }

    /// Resumes a stream saved by [`SeriesStream::snapshot`]; it must have been saved with this
    /// ensemble's streaming settings, since its state was learned under them.
    fn resume_stream(&self, snapshot: serde_json::Value) -> faultlens_core::Result<Box<dyn SeriesStream>> {
        let d = StreamingDetector::restore(snapshot)?;
        if d.config != self.config.stream {
            return Err(faultlens_core::Error::invalid(
                "detector state",
                "saved with other streaming settings than this detector's; resume it with a detector built \
                 from its own settings (StreamingDetector::restore keeps them)",
            ));
        }
        Ok(Box::new(d))
    }
}

/// One series' scores and windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesAnalysis {
    /// Which series.
    pub series: SeriesRef,
    /// Score per point.
    pub scores: Vec<f64>,
    /// Highest score.
    pub max_score: f64,
    /// Anomalous windows, in time order.
    pub windows: Vec<AnomalyWindow>,
}

impl SeriesAnalysis {
    /// The strongest window whose onset lies within `range`: its peak score and onset (the
    /// earliest, among equally strong windows).
    #[must_use]
    pub fn strength_in(&self, range: TimeRange) -> Option<(f64, faultlens_core::Timestamp)> {
        self.windows.iter().filter(|w| range.contains(w.onset)).fold(
            None,
            |best: Option<(f64, faultlens_core::Timestamp)>, w| match best {
                Some((p, _)) if p >= w.peak_score => best,
                _ => Some((w.peak_score, w.onset)),
            },
        )
    }
}

/// Scores many series in parallel (rayon). `sources[i]` names the source file of `series[i]`
/// (pass an empty slice when there is none).
#[must_use]
pub fn detect_many(series: &[MetricSeries], sources: &[String], config: &DetectConfig) -> Vec<SeriesAnalysis> {
    let ensemble = Ensemble::new(config.clone());
    series
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let r = SeriesRef { source: sources.get(i).cloned().unwrap_or_default(), selector: s.selector() };
            ensemble.analyse(&r, s.timestamps_ms(), s.values())
        })
        .collect()
}

/// A series ranked by how anomalous it is in an incident window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedSeries {
    /// Index into the analyses given.
    pub index: usize,
    /// The series.
    pub selector: String,
    /// Its service, when its labels name one.
    pub service: Option<String>,
    /// Highest window score in the range.
    pub score: f64,
    /// Onset of the strongest window in the range.
    pub onset: faultlens_core::Timestamp,
    /// Whether the score clears the family-wise threshold for all the series and points
    /// examined (see [`family_threshold`]): the anomalies worth a person's attention.
    pub significant: bool,
}

/// The score a point must reach to be significant when `tests` points are examined together
/// (for example every point of every series in an incident window), at family-wise error
/// `alpha`: a Bonferroni bound on the calibrated tail probability, `alpha / tests`, as a score.
/// Never below 0.5.
#[must_use]
pub fn family_threshold(tests: usize, alpha: f64) -> f64 {
    let tests = tests.max(1) as f64;
    ((tests / alpha.clamp(1e-12, 1.0)).log10() / 6.0).clamp(0.5, 1.0)
}

/// Series with a window whose onset lies in `range`, strongest first, then earliest onset,
/// then selector (deterministic). `significant` marks those above the family-wise threshold for
/// all the points of all the series in the range, at a 5% family-wise error.
#[must_use]
pub fn rank_in_window(series: &[MetricSeries], analyses: &[SeriesAnalysis], range: TimeRange) -> Vec<RankedSeries> {
    let tests: usize = series
        .iter()
        .map(|s| {
            s.timestamps_ms().iter().filter(|&&t| range.contains(faultlens_core::Timestamp::from_millis(t))).count()
        })
        .sum();
    let threshold = family_threshold(tests, 0.05);
    let mut out: Vec<RankedSeries> = analyses
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let (score, onset) = a.strength_in(range)?;
            Some(RankedSeries {
                index: i,
                selector: a.series.selector.clone(),
                service: series.get(i).and_then(|s| s.service(None)).map(str::to_string),
                score,
                onset,
                significant: score >= threshold,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.onset.cmp(&b.onset)).then_with(|| a.selector.cmp(&b.selector))
    });
    out
}

/// Co-anomalous series grouped by service (series without a service go under `""`), each group
/// in ranking order; groups ordered by their earliest onset.
#[must_use]
pub fn group_by_service(ranked: &[RankedSeries]) -> Vec<(String, Vec<RankedSeries>)> {
    let mut groups: BTreeMap<String, Vec<RankedSeries>> = BTreeMap::new();
    for r in ranked {
        groups.entry(r.service.clone().unwrap_or_default()).or_default().push(r.clone());
    }
    let mut out: Vec<(String, Vec<RankedSeries>)> = groups.into_iter().collect();
    out.sort_by_key(|(name, g)| (g.iter().map(|r| r.onset).min(), name.clone()));
    out
}

/// Merges series that share a metric name and the values of `keep` labels (for example
/// `["service"]`), averaging the members at each timestamp. Pods come and go with every deploy;
/// the per-service mean keeps one continuous history, so a regression on new pods is compared
/// with the old pods' baseline instead of starting a series with no history. The mean keeps the
/// shape of rates, ratios and latencies alike, which is what detection needs.
#[must_use]
pub fn aggregate_by(series: &[MetricSeries], keep: &[&str]) -> Vec<MetricSeries> {
    let mut groups: BTreeMap<(String, faultlens_core::Labels), BTreeMap<i64, (f64, u32)>> = BTreeMap::new();
    for s in series {
        let labels: faultlens_core::Labels = keep.iter().filter_map(|k| s.labels().get(k).map(|v| (*k, v))).collect();
        let g = groups.entry((s.name().to_string(), labels)).or_default();
        for (&t, &v) in s.timestamps_ms().iter().zip(s.values()) {
            if v.is_finite() {
                let e = g.entry(t).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|((name, labels), points)| {
            let (ts, vs): (Vec<i64>, Vec<f64>) =
                points.into_iter().map(|(t, (sum, n))| (t, sum / f64::from(n))).unzip();
            MetricSeries::new(name, labels, ts, vs).ok()
        })
        .collect()
}
