//! Version split: did the anomaly start on the new version's pods only?
//!
//! During a rolling update or a canary, pods of the new version run beside pods of the old
//! one. When a deploy's service exports its metrics with a version label (`version`,
//! `app_kubernetes_io_version` or `app.kubernetes.io/version`), each metric of the service is
//! split into the pods of the deployed version and the pods of every other version, and both
//! halves are scored over the span after the deploy in which both ran, against the service's
//! own baseline (median and robust scale from [`crate::SeriesShift`]), counting only moves in
//! the direction that hurts.
//!
//! - **New only**: the new version's pods are anomalous (robust z of at least
//!   [`AnalyzeConfig::min_z`]) and the others are not. The release is the strongest suspect
//!   there is: the same traffic, the same dependencies, and only the new code misbehaves.
//! - **Both**: the other versions' pods are anomalous too, so the cause is shared (a
//!   dependency, configuration, load), which argues against the release.
//! - **Old only**: only the other versions' pods are anomalous, which also argues against it.
//! - **Neither**: no half is anomalous over the overlap.
//!
//! A deploy that replaced every pod at once leaves no overlap, and no split is reported.

use faultlens_core::{ChangeEvent, ContentHasher, Evidence, IncidentData, Labels, TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::AnalyzeConfig;
use crate::shift::{MetricKind, Periods, SeriesShift, ServiceSeries, harm, service_series, typical_rank};

/// Labels that carry a workload's version, in order of preference.
pub use faultlens_core::labels::VERSION_LABELS;

/// Fewest samples each half needs over the overlap.
const MIN_OVERLAP_SAMPLES: usize = 3;

/// What the split shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitVerdict {
    /// Only the new version's pods are anomalous.
    NewOnly,
    /// Pods of the new and of other versions are anomalous.
    Both,
    /// Only pods of other versions are anomalous.
    OldOnly,
    /// Neither half is anomalous.
    Neither,
}

/// The new version's pods against the other versions' pods while both ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSplit {
    /// The deployed version.
    pub version: String,
    /// The metric that decided the verdict.
    pub metric: String,
    /// Pod series of the new version.
    pub new_series: usize,
    /// Pod series of other versions.
    pub other_series: usize,
    /// Robust z of the new version's pods (third largest excursion over the overlap).
    pub new_z: f64,
    /// Robust z of the other versions' pods, likewise.
    pub other_z: f64,
    /// The span after the deploy in which both halves reported.
    pub overlap: TimeRange,
    /// The verdict.
    pub verdict: SplitVerdict,
    /// Evidence: both halves over the overlap, with the hash of their samples.
    pub evidence: Evidence,
}

/// The split of `change`'s service around the version it deployed; `None` when the change
/// names no version, the service's series carry no version labels, or the versions never ran
/// side by side after the change.
pub(crate) fn version_split(
    data: &IncidentData,
    change: &ChangeEvent,
    shifts: &[SeriesShift],
    periods: &Periods,
    config: &AnalyzeConfig,
) -> Option<VersionSplit> {
    let version = change.to.as_deref()?;
    let svc = change.service.as_str();
    let on_service = |l: &Labels| l.service(None) == Some(svc);
    let new = service_series(data, |l| on_service(l) && l.version() == Some(version));
    if new.is_empty() {
        return None;
    }
    let old = service_series(data, |l| on_service(l) && l.version().is_some_and(|v| v != version));
    let mut best: Option<VersionSplit> = None;
    for n in &new {
        let Some(o) = old.iter().find(|o| o.metric == n.metric && o.source == n.source) else { continue };
        let Some(shift) = shifts.iter().find(|s| s.service == svc && s.metric == n.metric && s.source == n.source)
        else {
            continue;
        };
        let Some(split) = compare(n, o, shift, change, version, periods, config) else { continue };
        // the most telling metric: a new-only split first, then the widest gap
        let rank = |s: &VersionSplit| (s.verdict == SplitVerdict::NewOnly, (s.new_z - s.other_z).abs());
        if best.as_ref().is_none_or(|b| rank(&split) > rank(b)) {
            best = Some(split);
        }
    }
    best
}

/// The samples of `s` from `start` to `end` (inclusive).
fn span(s: &ServiceSeries, start: i64, end: i64) -> (&[i64], &[f64]) {
    let lo = s.ts.partition_point(|&t| t < start);
    let hi = s.ts.partition_point(|&t| t <= end);
    (s.ts.get(lo..hi).unwrap_or_default(), s.vs.get(lo..hi).unwrap_or_default())
}

/// Scores both halves of one metric over their overlap after the change.
fn compare(
    new: &ServiceSeries,
    old: &ServiceSeries,
    shift: &SeriesShift,
    change: &ChangeEvent,
    version: &str,
    periods: &Periods,
    config: &AnalyzeConfig,
) -> Option<VersionSplit> {
    let from = change.at.as_millis();
    let last = |s: &ServiceSeries| s.ts.last().copied();
    let end = last(new)?.min(last(old)?).min(periods.incident.end.as_millis());
    let first_new = new.ts.iter().copied().find(|&t| t >= from)?;
    let first_old = old.ts.iter().copied().find(|&t| t >= from)?;
    let start = first_new.max(first_old);
    if start > end {
        return None;
    }
    let (nt, nv) = span(new, start, end);
    let (ot, ov) = span(old, start, end);
    if nv.len() < MIN_OVERLAP_SAMPLES || ov.len() < MIN_OVERLAP_SAMPLES {
        return None;
    }
    let bad = f64::from(MetricKind::bad_direction(&new.metric));
    let typical = |vs: &[f64]| {
        let mut h: Vec<f64> =
            vs.iter().map(|&v| harm(bad, (v - shift.baseline_median) / shift.baseline_scale)).collect();
        h.sort_by(|a, b| b.total_cmp(a));
        h.get(typical_rank(h.len())).copied().unwrap_or(0.0)
    };
    let (new_z, other_z) = (typical(nv), typical(ov));
    let verdict = match (new_z >= config.min_z, other_z >= config.min_z) {
        (true, false) => SplitVerdict::NewOnly,
        (true, true) => SplitVerdict::Both,
        (false, true) => SplitVerdict::OldOnly,
        (false, false) => SplitVerdict::Neither,
    };
    let mut h = ContentHasher::new();
    for (ts, vs) in [(nt, nv), (ot, ov)] {
        for (t, v) in ts.iter().zip(vs) {
            h.part(&t.to_le_bytes()).part(&v.to_bits().to_le_bytes());
        }
    }
    let overlap = TimeRange { start: Timestamp::from_millis(start), end: Timestamp::from_millis(end) };
    let selector =
        Labels::from_pairs([("service", change.service.as_str()), ("version", version)]).selector(&new.metric);
    let detail = format!(
        "{} pod series of version {version}: robust z {new_z:.1}; {} pod series of other versions: robust z \
         {other_z:.1}; both running {}..{} (baseline median {}, scale {})",
        new.members,
        old.members,
        overlap.start,
        overlap.end,
        crate::num(shift.baseline_median),
        crate::num(shift.baseline_scale),
    );
    Some(VersionSplit {
        version: version.to_string(),
        metric: new.metric.clone(),
        new_series: new.members,
        other_series: old.members,
        new_z,
        other_z,
        overlap,
        verdict,
        evidence: Evidence::new(new.source.clone(), selector, h.finish(), detail).with_range(overlap),
    })
}
