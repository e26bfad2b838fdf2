//! Post-change verification: after a deploy (or any change), is the service healthy enough to
//! promote the change, should it be held, or rolled back?
//!
//! Two comparisons, each judged by the canary judge ([`crate::canary`]):
//! - **before and after**: every metric of the changed service, averaged over its pods per
//!   sample, in the window before the change against the same length after it;
//! - **canary and baseline**, when the change names the version it deployed and the service's
//!   series carry version labels (`version`, `app_kubernetes_io_version`,
//!   `app.kubernetes.io/version`) with pods of the new and of other versions running side by
//!   side after the change: the new version's pods against the others' over the same span.
//!
//! Each metric's direction and tolerance come from its name: errors may not rise (by more than
//! half), latency not by more than 20%, availability and success ratios not fall by more than 2%,
//! throughput not fall by more than 20%, resources not rise by more than half. Errors, latency
//! and availability are critical.
//!
//! The window after the change ends early when a later change touches the service or anything
//! it depends on: from there, what happens is no longer this change's alone.
//!
//! An SLO's burn rate can be folded in with [`fold_slo_burn`]: a paging burn rolls back, a
//! ticket burn or an unjudgeable one holds.
//!
//! The decision fails closed: **Rollback** when a comparison fails, **Hold** when one is marginal
//! or lacks data (too early after the change, no series, too few samples), **Promote** only
//! when every comparison that could be made passes. Each judged metric cites its series with the
//! two windows and the hash of the samples compared.

use std::collections::BTreeMap;

use faultlens_core::{
    ChangeEvent, ContentHasher, Evidence, IncidentData, Labels, MetricSeries, TimeRange, Timestamp, mean_by_time,
};
use serde::{Deserialize, Serialize};

use crate::canary::{
    AnalysisConfigurations, CanaryConfig, CanaryMetric, CanaryResult, CanaryVerdict, Classification, Direction,
    EffectSize, JudgeConfig, JudgeError, MetricAnalysis, MetricSamples, NanStrategy, judge,
};
use crate::slo::{BurnEvaluation, BurnVerdict, BurnWindow, Events, Slo, SloError, evaluate_burn};

/// Settings of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifyConfig {
    /// Length of the windows before and after the change, in milliseconds (30 minutes).
    pub window_ms: i64,
    /// Share of the after window the data must cover before anything is promoted (0.8).
    pub min_coverage: f64,
    /// The judge's settings.
    pub judge: JudgeConfig,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self { window_ms: 30 * 60_000, min_coverage: 0.8, judge: JudgeConfig::default() }
    }
}

impl VerifyConfig {
    /// Sets the window length.
    #[must_use]
    pub fn with_window_ms(mut self, ms: i64) -> Self {
        self.window_ms = ms;
        self
    }

    /// Sets the judge's settings.
    #[must_use]
    pub fn with_judge(mut self, judge: JudgeConfig) -> Self {
        self.judge = judge;
        self
    }
}

/// Errors of a verification.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No change with that id in the bundle.
    #[error("no change `{0}` in the incident data")]
    UnknownChange(String),
    /// A setting is out of range.
    #[error("verify setting `{field}`: {message}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The judge refused its input.
    #[error(transparent)]
    Judge(#[from] JudgeError),
    /// The SLO or its events are unusable.
    #[error(transparent)]
    Slo(#[from] SloError),
}

/// What to do with the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Every comparison passed.
    Promote,
    /// Not enough evidence either way yet.
    Hold,
    /// A comparison failed.
    Rollback,
}

/// One comparison and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `before_after` or `canary_baseline`.
    pub kind: String,
    /// The control window.
    pub control: TimeRange,
    /// The experiment window.
    pub experiment: TimeRange,
    /// The judgement.
    pub result: CanaryResult,
}

/// A verified change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeVerification {
    /// The change.
    pub change: ChangeEvent,
    /// The decision.
    pub decision: Decision,
    /// Why, in plain words.
    pub reasons: Vec<String>,
    /// The comparisons made.
    pub comparisons: Vec<Comparison>,
    /// Every series judged, with both windows and the hash of the samples.
    pub evidence: Vec<Evidence>,
    /// The SLO's burn-rate evaluation at the end of the window after the change, when one was
    /// folded in ([`fold_slo_burn`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_burn: Option<BurnEvaluation>,
}

/// Folds an SLO's burn rate into a verification, evaluated at the end of the window after the
/// change (or at the last event before it): a paging burn rolls the change back; a ticket burn,
/// or a burn that cannot be judged for lack of data, holds a change that would have been
/// promoted. A verification never gets less strict.
///
/// # Errors
/// [`VerifyError::Slo`] for an invalid SLO or inconsistent events.
pub fn fold_slo_burn(
    mut v: ChangeVerification,
    slo: &Slo,
    events: &Events,
    config: &VerifyConfig,
) -> Result<ChangeVerification, VerifyError> {
    let end =
        v.comparisons.first().map_or(v.change.at.as_millis() + config.window_ms, |c| c.experiment.end.as_millis());
    let at = events.timestamps_ms.iter().copied().filter(|&t| t <= end).max().unwrap_or(end);
    let burn = evaluate_burn(slo, events, &BurnWindow::defaults(), at)?;
    let firing: Vec<String> = burn
        .checks
        .iter()
        .filter(|c| c.firing)
        .map(|c| format!("{} burn over {}", c.window.severity.as_str(), c.window.factor))
        .collect();
    match burn.verdict {
        BurnVerdict::Page => {
            v.reasons.push(format!("SLO {} is burning its error budget: {}", slo.id(), firing.join(", ")));
            v.decision = Decision::Rollback;
        }
        BurnVerdict::Ticket => {
            v.reasons.push(format!("SLO {} is burning its error budget: {}", slo.id(), firing.join(", ")));
            if v.decision == Decision::Promote {
                v.decision = Decision::Hold;
            }
        }
        BurnVerdict::Insufficient => {
            v.reasons.push(format!("SLO {}: not enough data to judge its burn rate", slo.id()));
            if v.decision == Decision::Promote {
                v.decision = Decision::Hold;
            }
        }
        BurnVerdict::Ok => v.reasons.push(format!("SLO {}: burn rates within every window pair", slo.id())),
    }
    v.slo_burn = Some(burn);
    Ok(v)
}

/// Direction, tolerance and criticality of a metric, from its name.
fn analysis_for(name: &str) -> MetricAnalysis {
    let n = name.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| n.contains(x));
    let (direction, inc, dec, critical) = if has(&["availability", "success", "apdex", "uptime"]) {
        (Direction::Decrease, None, Some(0.98), true)
    } else if has(&["error", "fail", "5xx", "exception", "fault"]) {
        (Direction::Increase, Some(1.5), None, true)
    } else if has(&["latency", "duration", "_seconds", "_p50", "_p90", "_p95", "_p99", "response_time"]) {
        (Direction::Increase, Some(1.2), None, true)
    } else if has(&["request", "rps", "qps", "throughput", "traffic"]) {
        (Direction::Decrease, None, Some(0.8), false)
    } else {
        (Direction::Increase, Some(1.5), None, false)
    };
    MetricAnalysis {
        direction,
        nan_strategy: NanStrategy::Remove,
        critical,
        must_have_data: false,
        effect_size: EffectSize { allowed_increase: inc, allowed_decrease: dec, ..EffectSize::default() },
        ..MetricAnalysis::default()
    }
}

/// One metric of a service over a window: the pod series used and their per-sample mean.
struct WindowSamples {
    series: Vec<usize>,
    points: Vec<(i64, f64)>,
}

impl WindowSamples {
    fn values(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.1).collect()
    }

    /// The samples in `range` (start inclusive, end exclusive).
    fn within(&self, range: TimeRange) -> Self {
        let (lo, hi) = (range.start.as_millis(), range.end.as_millis());
        let points = self.points.iter().copied().filter(|&(t, _)| t >= lo && t < hi).collect();
        Self { series: self.series.clone(), points }
    }
}

/// Per metric, the pod-averaged history of the service's series that `keep` accepts.
fn service_means(
    data: &IncidentData,
    service: &str,
    keep: &dyn Fn(&Labels) -> bool,
) -> BTreeMap<String, WindowSamples> {
    let mut by_metric: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in data.series.iter().enumerate() {
        if s.service(None) == Some(service) && keep(s.labels()) {
            by_metric.entry(s.name().to_string()).or_default().push(i);
        }
    }
    by_metric
        .into_iter()
        .map(|(name, series)| {
            let members: Vec<&MetricSeries> = series.iter().filter_map(|&i| data.series.get(i)).collect();
            let (ts, vs) = mean_by_time(&members);
            (name, WindowSamples { series, points: ts.into_iter().zip(vs).collect() })
        })
        .collect()
}

/// [`service_means`] restricted to `range`.
fn samples_in(
    data: &IncidentData,
    service: &str,
    range: TimeRange,
    keep: &dyn Fn(&Labels) -> bool,
) -> BTreeMap<String, WindowSamples> {
    service_means(data, service, keep).into_iter().map(|(name, w)| (name, w.within(range))).collect()
}

/// Verifies the change `change_id` with the incident data's metrics.
///
/// # Errors
/// [`VerifyError::UnknownChange`], [`VerifyError::InvalidConfig`] for a window that is not
/// positive or a coverage outside `[0, 1]`, [`VerifyError::Judge`] for judge settings out of
/// range.
pub fn verify_change(
    data: &IncidentData,
    change_id: &str,
    config: &VerifyConfig,
) -> Result<ChangeVerification, VerifyError> {
    if config.window_ms <= 0 {
        return Err(VerifyError::InvalidConfig { field: "window_ms", message: "must be positive".into() });
    }
    if !(0.0..=1.0).contains(&config.min_coverage) {
        return Err(VerifyError::InvalidConfig { field: "min_coverage", message: "must be in [0, 1]".into() });
    }
    let change =
        data.changes.iter().find(|c| c.id == change_id).ok_or_else(|| VerifyError::UnknownChange(change_id.into()))?;
    let at = change.at.as_millis();
    let svc = change.service.as_str();
    let mut reasons = Vec::new();
    // the after window stops where a later change to the service or to anything it depends on
    // begins: from there, what happens is no longer this change's alone
    let deps: Vec<String> = data.topology.dependencies(svc, 16).into_iter().map(|r| r.service).collect();
    let next = data
        .changes
        .iter()
        .filter(|c| c.at > change.at && c.at.as_millis() < at + config.window_ms)
        .filter(|c| c.service == svc || deps.contains(&c.service))
        .min_by_key(|c| c.at);
    let end = next.map_or(at + config.window_ms, |c| c.at.as_millis());
    if let Some(c) = next {
        reasons.push(format!(
            "the window after the change stops at {}, when {} changed {}",
            c.at,
            c.id,
            if c.service == svc { "the service itself".to_string() } else { format!("its dependency {}", c.service) }
        ));
    }
    let before = TimeRange { start: Timestamp::from_millis(at - config.window_ms), end: change.at };
    let after = TimeRange { start: change.at, end: Timestamp::from_millis(end) };
    let mut evidence = Vec::new();
    let mut comparisons = Vec::new();

    // coverage of the after window by the service's data
    let last = data
        .series
        .iter()
        .filter(|s| s.service(None) == Some(svc))
        .filter_map(|s| s.timestamps_ms().last().copied())
        .max();
    let covered = last.map_or(0.0, |l| ((l.min(end) - at) as f64 / config.window_ms as f64).clamp(0.0, 1.0));
    let cite = |kind: &str, name: &str, idx: &[usize], pts: &[(i64, f64)], range: TimeRange, ev: &mut Vec<Evidence>| {
        let mut h = ContentHasher::new();
        for (t, v) in pts {
            h.part(&t.to_le_bytes()).part(&v.to_bits().to_le_bytes());
        }
        let source = idx.first().and_then(|&i| data.series_source(i)).map_or_else(String::new, |s| s.path.clone());
        let query = Labels::from_pairs([("service", svc)]).selector(name);
        ev.push(
            Evidence::new(
                source,
                query,
                h.finish(),
                format!("{kind}: {} samples of {} pod series", pts.len(), idx.len()),
            )
            .with_range(range),
        );
    };

    // before and after
    let all = |_: &Labels| true;
    // the service's history is averaged once and cut into both windows
    let means = service_means(data, svc, &all);
    let b: BTreeMap<String, WindowSamples> = means.iter().map(|(n, w)| (n.clone(), w.within(before))).collect();
    let a: BTreeMap<String, WindowSamples> = means.iter().map(|(n, w)| (n.clone(), w.within(after))).collect();
    let mut samples = BTreeMap::new();
    let mut metrics = Vec::new();
    for (name, w_after) in &a {
        let Some(w_before) = b.get(name) else { continue };
        cite("before", name, &w_before.series, &w_before.points, before, &mut evidence);
        cite("after", name, &w_after.series, &w_after.points, after, &mut evidence);
        samples.insert(name.clone(), MetricSamples { control: w_before.values(), experiment: w_after.values() });
        metrics.push(CanaryMetric {
            name: name.clone(),
            groups: vec![name.clone()],
            analysis_configurations: AnalysisConfigurations { canary: analysis_for(name) },
            query: None,
            scope_name: None,
        });
    }
    if metrics.is_empty() {
        reasons.push(format!("{svc} has no metric with samples both before and after the change"));
    } else {
        let config_ba =
            CanaryConfig { name: Some("before-after".into()), metrics: metrics.clone(), ..CanaryConfig::default() };
        let result = judge(&config_ba, &samples, &config.judge)?;
        comparisons.push(Comparison { kind: "before_after".into(), control: before, experiment: after, result });
    }

    // canary and baseline, when versions ran side by side
    if let Some(version) = change.to.as_deref() {
        let new = samples_in(data, svc, after, &|l: &Labels| l.version() == Some(version));
        let old = samples_in(data, svc, after, &|l: &Labels| l.version().is_some_and(|v| v != version));
        let mut cs = BTreeMap::new();
        let mut cm = Vec::new();
        for (name, w_new) in &new {
            let Some(w_old) = old.get(name) else { continue };
            if w_new.points.is_empty() || w_old.points.is_empty() {
                continue;
            }
            cite(&format!("version {version}"), name, &w_new.series, &w_new.points, after, &mut evidence);
            cite("other versions", name, &w_old.series, &w_old.points, after, &mut evidence);
            cs.insert(name.clone(), MetricSamples { control: w_old.values(), experiment: w_new.values() });
            if let Some(m) = metrics.iter().find(|m| &m.name == name) {
                cm.push(m.clone());
            }
        }
        if !cm.is_empty() {
            let config_cb =
                CanaryConfig { name: Some("canary-baseline".into()), metrics: cm, ..CanaryConfig::default() };
            let result = judge(&config_cb, &cs, &config.judge)?;
            comparisons.push(Comparison { kind: "canary_baseline".into(), control: after, experiment: after, result });
        }
    }

    for c in &comparisons {
        let failing: Vec<String> = c
            .result
            .metrics
            .iter()
            .filter(|m| {
                matches!(m.classification, Classification::High | Classification::Low | Classification::NodataFail)
            })
            .map(|m| format!("{} ({})", m.name, m.explanation))
            .collect();
        let what = if c.kind == "before_after" {
            "after the change against before it"
        } else {
            "the new version's pods against the others'"
        };
        reasons.push(format!("{what}: {}", c.result.reasons.join("; ")));
        if !failing.is_empty() {
            reasons.push(format!("failing: {}", failing.join("; ")));
        }
    }
    let verdicts: Vec<CanaryVerdict> = comparisons.iter().map(|c| c.result.verdict).collect();
    let decision = if verdicts.contains(&CanaryVerdict::Fail) {
        Decision::Rollback
    } else if verdicts.is_empty()
        || verdicts.iter().any(|v| matches!(v, CanaryVerdict::Marginal | CanaryVerdict::Insufficient))
    {
        Decision::Hold
    } else if covered < config.min_coverage {
        reasons.push(format!(
            "the data covers {:.0}% of the {}-minute window after the change; promotion waits for {:.0}%",
            100.0 * covered,
            config.window_ms / 60_000,
            100.0 * config.min_coverage
        ));
        Decision::Hold
    } else {
        Decision::Promote
    };
    Ok(ChangeVerification { change: change.clone(), decision, reasons, comparisons, evidence, slo_burn: None })
}
