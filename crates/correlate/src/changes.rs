//! Change correlation: is a change a plausible cause of the anomaly it precedes?
//!
//! A change is scored on three things:
//! - **timing**: it must come before its service's main anomaly (that of its strongest series)
//!   began (within a tolerance of two
//!   samples, as sampling blurs the onset); a change within five minutes of the onset scores
//!   1, older ones fade as `1 / (1 + ((lag - 5 min) / horizon)^2)` (one horizon past the first
//!   five minutes weighs half, three weigh a tenth), and one after the onset or after detection
//!   is ruled out;
//! - **location**: its service is anomalous and not explained by a dependency, or the change came
//!   promptly (timing at least 0.9), in which case it explains the anomaly better than the
//!   dependency (1), unless the anomaly is mostly more incoming traffic sent by a caller's surge
//!   with no errors of the service's own (a change sends its service requests only through
//!   retries of its failures); anomalous but explained (0.5); not anomalous but a dependency of anomalous
//!   services, whose own telemetry may be missing (0.5); or none of these (ruled out);
//! - **rollback**: a later rollback of the same service after which the anomaly ended supports it;
//! - **version split** ([`crate::split`]): when the deployed version ran beside older pods, an
//!   anomaly on the new version's pods only makes the change's location certain and raises its
//!   score by 0.25; one shared by the older pods (or on them alone) halves its location.
//!
//! Several changes in the window with one guilty is the normal case: every change is scored on
//! its own and the ranking picks between them.

use faultlens_core::{ChangeEvent, ChangeKind, ContentHash, Evidence, IncidentData, TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::AnalyzeConfig;
use crate::rank::ServiceScore;
use crate::shift::{MetricKind, Periods, SeriesShift};
use crate::split::{SplitVerdict, VersionSplit, version_split};

/// What a new-version-only split adds to a change's score.
const SPLIT_BONUS: f64 = 0.25;

/// Lag from change to onset that still scores full timing weight.
const FULL_WEIGHT_MS: f64 = 5.0 * 60_000.0;

/// Timing factor from which a change counts as prompt: it then explains its service's anomaly
/// better than an anomalous dependency does.
pub(crate) const PROMPT_TIMING: f64 = 0.9;

/// Whether a service's anomaly is load a caller sent it and nothing of its own: more incoming
/// traffic as its strongest signal, explained by a caller's surge, and no error anomaly (errors
/// would make the extra traffic retries, which a change can cause).
fn surge_only(s: &ServiceScore, min_strength: f64) -> bool {
    s.by_load && s.kind == MetricKind::Traffic && s.by_kind.get(&MetricKind::Errors).is_none_or(|&e| e < min_strength)
}

/// A change's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeVerdict {
    /// Timing and location fit.
    Suspect,
    /// Fits, but weakly (old, or its service is explained by a dependency).
    Possible,
    /// Cannot have caused it.
    RuledOut,
}

/// A change event with its correlation score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredChange {
    /// The event.
    pub change: ChangeEvent,
    /// Plausibility in `[0, 1]`: timing times location, rollback-supported changes raised.
    pub score: f64,
    /// Timing factor.
    pub timing: f64,
    /// Location factor.
    pub location: f64,
    /// Time from the change to the anomaly onset it is compared with, in milliseconds
    /// (negative when the change came after it).
    pub lag_ms: Option<i64>,
    /// The verdict.
    pub verdict: ChangeVerdict,
    /// Why, in plain words.
    pub reasons: Vec<String>,
    /// Evidence: the change record, with the hash of its canonical JSON.
    pub evidence: Evidence,
    /// The new version's pods against the others' while both ran, when the metrics allow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_split: Option<VersionSplit>,
}

/// Evidence citing one change record.
pub(crate) fn change_evidence(data: &IncidentData, index: usize, c: &ChangeEvent) -> Evidence {
    let source = data.change_source(index).map_or_else(|| "changes".to_string(), |s| s.path.clone());
    let bytes = serde_json::to_vec(c).unwrap_or_default();
    let what = match (&c.from, &c.to) {
        (Some(f), Some(t)) => format!(" {f} -> {t}"),
        (None, Some(t)) => format!(" to {t}"),
        _ => String::new(),
    };
    Evidence::new(
        source,
        c.id.clone(),
        ContentHash::of(&bytes),
        format!("{} of {} at {}{what}", c.kind.as_str(), c.service, c.at),
    )
    .with_range(TimeRange::instant(c.at))
}

/// Scores every change from the window's start to detection; later ones are listed as ruled
/// out. `services` are the service scores; `incident_onset` the earliest onset of a strong
/// anomaly, used for services with no onset of their own; `tolerance_ms` two samples.
pub(crate) fn score_changes(
    data: &IncidentData,
    services: &[ServiceScore],
    shifts: &[SeriesShift],
    periods: &Periods,
    incident_onset: Option<Timestamp>,
    tolerance_ms: i64,
    config: &AnalyzeConfig,
) -> Vec<ScoredChange> {
    let w = data.incident.window;
    let det = data.incident.detected_at;
    let find = |s: &str| services.iter().find(|x| x.service == s);
    let anomalous_callers = |s: &str| {
        data.topology
            .blast_radius(s, 8)
            .into_iter()
            .filter(|r| find(&r.service).is_some_and(|x| x.anomalous))
            .map(|r| r.service)
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    for (i, c) in data.changes.iter().enumerate() {
        if c.at < w.start || c.at > w.end {
            continue;
        }
        let svc = find(&c.service);
        let mut reasons = Vec::new();
        let onset = svc.and_then(|s| s.main_onset).or(incident_onset);
        let lag = onset.map(|o| o.as_millis() - c.at.as_millis());
        let timing = if c.at > det {
            reasons.push(format!("it came after detection ({det})"));
            0.0
        } else if c.kind == ChangeKind::Rollback {
            reasons.push("a rollback restores a version that ran before".to_string());
            0.2
        } else {
            match lag {
                Some(l) if l < -tolerance_ms => {
                    reasons.push(format!("it came {} after the anomaly began", crate::minutes(-l)));
                    0.0
                }
                Some(l) => {
                    let h = config.change_horizon_ms as f64;
                    let x = (l as f64 - FULL_WEIGHT_MS).max(0.0) / h;
                    let f = 1.0 / (1.0 + x * x);
                    reasons.push(format!("it came {} before the anomaly began", crate::minutes(l.max(0))));
                    f
                }
                None => {
                    reasons.push("no anomaly onset to compare it with".to_string());
                    0.3
                }
            }
        };
        let location = match svc {
            Some(s) if s.anomalous && s.explained_by.is_none() => {
                reasons.push(format!("{} is anomalous and no dependency explains it", c.service));
                1.0
            }
            // a change sends its service more requests only through retries of its own
            // failures: an anomaly that is mostly more incoming traffic, sent by a caller's
            // surge, with no errors of the service's own, stays the caller's however prompt the
            // change
            Some(s) if s.anomalous && timing >= PROMPT_TIMING && !surge_only(s, config.min_z.ln_1p()) => {
                reasons.push(format!(
                    "{} is anomalous right after it; that explains the anomaly better than {}'s",
                    c.service,
                    s.explained_by.as_deref().unwrap_or("a dependency")
                ));
                1.0
            }
            Some(s) if s.anomalous => {
                reasons.push(format!(
                    "{} is anomalous, but {} explains it",
                    c.service,
                    s.explained_by.as_deref().unwrap_or("a dependency")
                ));
                0.5
            }
            _ => {
                let callers = anomalous_callers(&c.service);
                if callers.is_empty() {
                    reasons.push(format!("{} shows no anomaly and nothing that calls it does", c.service));
                    0.0
                } else {
                    reasons.push(format!(
                        "{} shows no anomaly itself, but its callers {} do",
                        c.service,
                        callers.join(", ")
                    ));
                    0.5
                }
            }
        };
        let split = version_split(data, c, shifts, periods, config);
        let mut location = location;
        let mut bonus = 0.0;
        if let Some(sp) = &split {
            let (v, n, o) = (&sp.version, sp.new_z, sp.other_z);
            match sp.verdict {
                SplitVerdict::NewOnly => {
                    reasons.push(format!(
                        "{} is anomalous on version {v}'s pods only (robust z {n:.1} against {o:.1} on the others while \
                         both ran)",
                        sp.metric
                    ));
                    location = 1.0;
                    bonus = SPLIT_BONUS;
                }
                SplitVerdict::Both => {
                    reasons.push(format!(
                        "{} is anomalous on the other versions' pods too (robust z {o:.1}; {n:.1} on version {v}'s)",
                        sp.metric
                    ));
                    location *= 0.5;
                }
                SplitVerdict::OldOnly => {
                    reasons.push(format!(
                        "{} is anomalous on the other versions' pods only (robust z {o:.1}; {n:.1} on version {v}'s)",
                        sp.metric
                    ));
                    location *= 0.5;
                }
                SplitVerdict::Neither => {}
            }
        }
        let mut score = timing * location;
        if score > 0.0 {
            score = (score + bonus).min(1.0);
        }
        // a later rollback of the same service after which the anomaly ended
        if let Some(rb) =
            data.changes.iter().find(|r| r.kind == ChangeKind::Rollback && r.service == c.service && r.at > c.at)
            && svc.is_some_and(|s| s.ended.is_some_and(|e| e >= rb.at))
            && score > 0.0
        {
            reasons.push(format!("the anomaly ended after the rollback {}", rb.id));
            score = (score + 0.5).min(1.0);
        }
        let verdict = if score >= 0.5 {
            ChangeVerdict::Suspect
        } else if score > 0.0 {
            ChangeVerdict::Possible
        } else {
            ChangeVerdict::RuledOut
        };
        out.push(ScoredChange {
            change: c.clone(),
            score,
            timing,
            location,
            lag_ms: lag,
            verdict,
            reasons,
            evidence: change_evidence(data, i, c),
            version_split: split,
        });
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.change.at.cmp(&a.change.at))
            .then_with(|| a.change.id.cmp(&b.change.id))
    });
    out
}
