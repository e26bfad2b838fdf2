//! Per-series shift scoring: how far the incident period of a series moved away from its own
//! baseline, in robust units, and when it started.
//!
//! Each metric is first averaged over the pods of a service (one continuous history per
//! service, whatever the pod churn), then scored against the baseline period before the
//! incident: `z = |x - median| / scale`, where `scale` is the baseline's interquartile range
//! over 1.349 (the normal standard deviation for Gaussian data), floored at 1% of the series'
//! largest magnitude so that a flat baseline does not turn a tiny wobble into an infinite score
//! (a series can then reach a robust z of about 100, a rise from nothing included). A metric
//! that is bad when it falls (availability, success ratio) lives near its ceiling, so its
//! magnitude is its largest shortfall below its own top: the error share it stands for. An
//! availability that drops from a steady 100% to 97.7% is 2.3% of requests failing, not a
//! wobble of 2.3% of the value. The series' strength is the third largest
//! `z` of the incident period (the largest when it has fewer than ten points), so one stray
//! sample cannot make a series anomalous; it is reported as `ln(1 + z)`, which keeps the order
//! and compresses the range.

use std::collections::BTreeMap;

use faultlens_core::{
    ContentHasher, Evidence, IncidentData, Labels, MetricSeries, TimeRange, Timestamp, mean_by_time, quantile_sorted,
};
use serde::{Deserialize, Serialize};

use crate::config::AnalyzeConfig;

/// What a metric measures, from its name; it decides which way an anomaly propagates along the
/// call graph (errors and latency travel to callers, traffic to callees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Request or message rates and counts.
    Traffic,
    /// Error counts, error ratios, availability.
    Errors,
    /// Latency and durations.
    Latency,
    /// CPU, memory, disk, file descriptors, threads, restarts.
    Resource,
    /// Anything else.
    Other,
}

impl MetricKind {
    /// Classifies a metric name (`http_request_duration_p99_seconds` is latency,
    /// `container_cpu_usage_cores` a resource).
    #[must_use]
    pub fn of(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
        if has(&["error", "fail", "5xx", "availability", "unavailable", "exception", "fault"]) {
            Self::Errors
        } else if has(&["latency", "duration", "response_time", "_p50", "_p90", "_p95", "_p99", "_seconds"]) {
            Self::Latency
        } else if has(&["cpu", "memory", "mem_", "_mem", "disk", "fd", "thread", "restart", "oom", "heap", "gc_"]) {
            Self::Resource
        } else if has(&["request", "rps", "qps", "throughput", "traffic", "messages", "calls"]) {
            Self::Traffic
        } else {
            Self::Other
        }
    }

    /// The direction in which a metric of this name gets worse: `1` up (errors, latency),
    /// `-1` down (availability, success ratios, apdex), `0` either way (traffic, resources).
    #[must_use]
    pub fn bad_direction(name: &str) -> i8 {
        let n = name.to_ascii_lowercase();
        if ["availability", "success", "uptime", "apdex", "healthy"].iter().any(|w| n.contains(w)) {
            -1
        } else {
            match Self::of(name) {
                Self::Errors | Self::Latency => 1,
                _ => 0,
            }
        }
    }

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Traffic => "traffic",
            Self::Errors => "errors",
            Self::Latency => "latency",
            Self::Resource => "resource",
            Self::Other => "other",
        }
    }
}

/// The two periods every series is compared over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periods {
    /// From the window's start to the split.
    pub baseline: TimeRange,
    /// From the split to the window's end.
    pub incident: TimeRange,
}

impl Periods {
    /// Splits the incident window `lead` before detection: the lead is a share of the time
    /// before detection ([`AnalyzeConfig::lead_fraction`]) capped at
    /// [`AnalyzeConfig::max_lead_ms`], so an incident that began shortly before the alert fired
    /// is not taken as normal.
    #[must_use]
    pub fn of(data: &IncidentData, config: &AnalyzeConfig) -> Self {
        let w = data.incident.window;
        let det = data.incident.detected_at.as_millis().clamp(w.start.as_millis(), w.end.as_millis());
        let before = det - w.start.as_millis();
        // f64 -> i64 saturates; the product is bounded by `before`
        let lead = ((before as f64 * config.lead_fraction) as i64).clamp(0, config.max_lead_ms.max(0));
        let split = Timestamp::from_millis(det - lead);
        Self { baseline: TimeRange { start: w.start, end: split }, incident: TimeRange { start: split, end: w.end } }
    }
}

/// One metric of one service, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesShift {
    /// The service (empty when the series names none).
    pub service: String,
    /// The metric name.
    pub metric: String,
    /// What it measures.
    pub kind: MetricKind,
    /// PromQL selector of the service-level series (`metric{service="x"}`).
    pub selector: String,
    /// Bundle-relative source file.
    pub source: String,
    /// Number of pod series averaged into it.
    pub members: usize,
    /// Baseline median.
    pub baseline_median: f64,
    /// Baseline robust scale (floored).
    pub baseline_scale: f64,
    /// Value at the peak of the incident period.
    pub peak_value: f64,
    /// Robust z of the peak (signed: positive when above the baseline).
    pub z: f64,
    /// Strength `ln(1 + |z|)` of the third largest excursion (see the module docs); only
    /// excursions in the direction that hurts count ([`MetricKind::bad_direction`]).
    pub strength: f64,
    /// First sample of the incident period whose excursion reached half the peak's (none when
    /// the peak is below [`AnalyzeConfig::min_z`]).
    pub onset: Option<Timestamp>,
    /// Last sample of the incident period whose excursion reached half the peak's, when the
    /// series came back afterwards (at least two samples below it before the window's end).
    pub ended: Option<Timestamp>,
    /// Evidence: the series over both periods, with the hash of its samples.
    pub evidence: Evidence,
}

/// A service-level series: the mean over pods of one metric of one service.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSeries {
    pub(crate) service: String,
    pub(crate) metric: String,
    pub(crate) source: String,
    pub(crate) members: usize,
    pub(crate) ts: Vec<i64>,
    pub(crate) vs: Vec<f64>,
}

/// Groups series by (source, metric, service) and averages the finite samples per timestamp;
/// `filter` picks the pod series to include (all of them, or one version's).
pub(crate) fn service_series(data: &IncidentData, filter: impl Fn(&Labels) -> bool) -> Vec<ServiceSeries> {
    // (source, metric, service) -> member series
    let mut groups: BTreeMap<(String, String, String), Vec<&MetricSeries>> = BTreeMap::new();
    for (i, s) in data.series.iter().enumerate() {
        if !filter(s.labels()) {
            continue;
        }
        let source = data.series_source(i).map(|x| x.path.clone()).unwrap_or_default();
        let service = s.service(None).unwrap_or_default().to_string();
        groups.entry((source, s.name().to_string(), service)).or_default().push(s);
    }
    groups
        .into_iter()
        .map(|((source, metric, service), members)| {
            let (ts, vs) = mean_by_time(&members);
            ServiceSeries { service, metric, source, members: members.len(), ts, vs }
        })
        .collect()
}

/// Median and quartiles of a non-empty slice (sorted in place).
fn quartiles(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (quantile_sorted(v, 0.25), quantile_sorted(v, 0.5), quantile_sorted(v, 0.75))
}

/// How far a robust `z` goes in the direction that hurts, for a metric whose bad direction is
/// `bad` ([`MetricKind::bad_direction`]; 0 counts both ways).
pub(crate) fn harm(bad: f64, z: f64) -> f64 {
    if bad == 0.0 { z.abs() } else { (bad * z).max(0.0) }
}

/// The rank of the excursion that stands for a period of `n` samples (0 is the largest): the
/// third largest from ten samples on, so that one stray sample cannot carry it.
pub(crate) fn typical_rank(n: usize) -> usize {
    if n >= 10 { 2 } else { 0 }
}

/// Scores one service-level series over the two periods; `None` when either period has no
/// samples.
pub(crate) fn score(s: &ServiceSeries, periods: &Periods, config: &AnalyzeConfig) -> Option<SeriesShift> {
    let b_lo = s.ts.partition_point(|&t| t < periods.baseline.start.as_millis());
    let split = s.ts.partition_point(|&t| t < periods.incident.start.as_millis());
    let i_hi = s.ts.partition_point(|&t| t <= periods.incident.end.as_millis());
    let base = s.vs.get(b_lo..split)?;
    let inc = s.vs.get(split..i_hi.max(split))?;
    if base.is_empty() || inc.is_empty() {
        return None;
    }
    let mut sorted = base.to_vec();
    let (q1, median, q3) = quartiles(&mut sorted);
    // only moves in the direction that hurts count (availability rising is not an incident)
    let bad = f64::from(MetricKind::bad_direction(&s.metric));
    let magnitude = if bad < 0.0 {
        // a metric that is bad when it falls (availability, success ratio) sits near its ceiling;
        // its size is that of its shortfall, the error share it stands for
        let top = s.vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        s.vs.iter().fold(0.0_f64, |m, v| m.max(top - v))
    } else {
        s.vs.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
    };
    let floor = (config.scale_floor * magnitude).max(f64::MIN_POSITIVE);
    let scale = ((q3 - q1) / 1.349).max(floor);
    let z = |v: f64| (v - median) / scale;
    let harm = |v: f64| harm(bad, z(v));
    let mut excursions: Vec<(f64, usize)> = inc.iter().enumerate().map(|(i, &v)| (harm(v), i)).collect();
    excursions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let k = typical_rank(inc.len());
    let mut typical = excursions.get(k.min(excursions.len() - 1)).map_or(0.0, |e| e.0);
    // a baseline without spread (constant, or a handful of samples) says little about what is
    // rare: its excursions count at most `degenerate_cap` robust units
    if q3 - q1 <= 0.0 || base.len() < 5 {
        typical = typical.min(config.degenerate_cap);
    }
    let (peak_abs, peak_i) = excursions.first().copied().unwrap_or((0.0, 0));
    let peak_value = inc.get(peak_i).copied().unwrap_or(median);
    // onset: first sample from the split on whose excursion reaches half the peak's
    let half = 0.5 * peak_abs;
    let at = |i: usize| s.ts.get(split + i).map(|&t| Timestamp::from_millis(t));
    let (onset, ended) = if peak_abs >= config.min_z {
        let first = inc.iter().position(|&v| harm(v) >= half);
        let last = inc.iter().rposition(|&v| harm(v) >= half);
        (first.and_then(at), last.filter(|&l| l + 2 < inc.len()).and_then(at))
    } else {
        (None, None)
    };
    let selector = if s.service.is_empty() {
        s.metric.clone()
    } else {
        Labels::from_pairs([("service", s.service.as_str())]).selector(&s.metric)
    };
    let mut h = ContentHasher::new();
    for (t, v) in
        s.ts.get(b_lo..i_hi.max(b_lo))
            .unwrap_or_default()
            .iter()
            .zip(s.vs.get(b_lo..i_hi.max(b_lo)).unwrap_or_default())
    {
        h.part(&t.to_le_bytes()).part(&v.to_bits().to_le_bytes());
    }
    let range = TimeRange { start: periods.baseline.start, end: periods.incident.end };
    let detail = format!(
        "mean over {} series: peak {} vs baseline median {} (robust z {:+.1}), baseline {}..{}",
        s.members,
        crate::num(peak_value),
        crate::num(median),
        z(peak_value),
        periods.baseline.start,
        periods.baseline.end,
    );
    let evidence = Evidence::new(s.source.clone(), selector.clone(), h.finish(), detail).with_range(range);
    Some(SeriesShift {
        service: s.service.clone(),
        metric: s.metric.clone(),
        kind: MetricKind::of(&s.metric),
        selector,
        source: s.source.clone(),
        members: s.members,
        baseline_median: median,
        baseline_scale: scale,
        peak_value,
        z: z(peak_value),
        strength: typical.ln_1p(),
        onset,
        ended,
        evidence,
    })
}

/// Scores every service-level series of the incident, strongest first (ties by selector).
#[must_use]
pub fn score_series(data: &IncidentData, periods: &Periods, config: &AnalyzeConfig) -> Vec<SeriesShift> {
    let mut out: Vec<SeriesShift> =
        service_series(data, |_| true).iter().filter_map(|s| score(s, periods, config)).collect();
    out.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then_with(|| a.selector.cmp(&b.selector))
            .then_with(|| a.source.cmp(&b.source))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn periods() -> Periods {
        Periods {
            baseline: TimeRange::new(Timestamp::from_millis(0), Timestamp::from_millis(20 * 60_000)).unwrap(),
            incident: TimeRange::new(Timestamp::from_millis(20 * 60_000), Timestamp::from_millis(30 * 60_000)).unwrap(),
        }
    }

    fn strength(metric: &str, vs: Vec<f64>) -> f64 {
        let ts = (0..vs.len() as i64).map(|m| m * 60_000).collect();
        let s =
            ServiceSeries { service: "svc".into(), metric: metric.into(), source: "m.json".into(), members: 1, ts, vs };
        score(&s, &periods(), &AnalyzeConfig::default()).unwrap().strength
    }

    #[test]
    fn an_availability_drop_is_measured_by_the_share_that_fails() {
        let min = AnalyzeConfig::default().min_z.ln_1p();
        // a steady 100% that falls to about 97.7% for the incident: 2.3% of requests fail
        let mut vs = vec![100.0; 21];
        vs.extend([99.5, 98.4, 97.7, 97.9, 98.1, 97.8, 98.0, 98.2, 97.9, 98.0]);
        assert!(strength("availability_average_percent", vs.clone()) >= min);
        // mirrored, the same drop is a rise: a 2% wobble of the value for a metric that is bad
        // when it rises, and no incident for availability
        let mirrored: Vec<f64> = vs.iter().map(|v| 200.0 - v).collect();
        assert!(strength("queue_depth", mirrored.clone()) < min);
        assert_eq!(strength("availability_average_percent", mirrored), 0.0);
    }
}
