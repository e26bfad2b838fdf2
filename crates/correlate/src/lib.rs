//! Change correlation and root-cause ranking for faultlens.
//!
//! [`analyze`] takes a decoded incident ([`IncidentData`]) and returns a [`Report`]: every
//! service-level metric scored against its baseline, log anomaly signals, every change in the
//! window scored for timing and location, and ranked root-cause hypotheses
//! ([`faultlens_core::Hypothesis`]), each with its evidence, counter-evidence, what it rules
//! out, the checks that would confirm it and the knowledge sections (runbooks, postmortems)
//! that match it.
//!
//! ```no_run
//! use faultlens_core::Bundle;
//! use faultlens_correlate::{AnalyzeConfig, analyze};
//!
//! let data = Bundle::load("examples/bundles/bad-deploy")?.decode()?;
//! let report = analyze(&data, &AnalyzeConfig::default())?;
//! for h in &report.hypotheses {
//!     println!("{}. {} ({:.2})", h.rank, h.summary, h.confidence.get());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The analysis is deterministic and offline: the same input gives the same report, byte for
//! byte.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod changes;
mod config;
pub mod knowledge;
mod rank;
mod report;
mod shift;
pub mod split;

pub use changes::{ChangeVerdict, ScoredChange};
pub use config::AnalyzeConfig;
pub use faultlens_core as core;
use faultlens_core::IncidentData;
use faultlens_detect::logs::{SignalConfig, log_signals, signal_window};
pub use knowledge::{KnowledgeIndex, RetrievalConfig};
pub use rank::ServiceScore;
pub use report::{REPORT_FORMAT, Report, ReportIncident, ReportInput};
pub use shift::{MetricKind, Periods, SeriesShift, score_series};

/// What can go wrong in an analysis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of range.
    #[error("invalid analysis setting `{field}`: {message}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The incident itself is malformed.
    #[error(transparent)]
    Core(#[from] faultlens_core::Error),
    /// The report could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Serialize(String),
    /// A knowledge index could not be built or searched.
    #[error("knowledge index: {0}")]
    Knowledge(String),
}

/// Minutes before detection from which log lines count as the incident's (earlier lines are
/// the logs' baseline).
const LOG_LEAD_MINUTES: u32 = 30;

/// Analyses an incident: see the crate docs.
///
/// # Errors
/// [`Error::Config`] for settings out of range; [`Error::Core`] for a malformed incident window.
pub fn analyze(data: &IncidentData, config: &AnalyzeConfig) -> Result<Report, Error> {
    config.validate()?;
    let mut notes = Vec::new();
    let periods = Periods::of(data, config);
    let shifts = score_series(data, &periods, config);
    if data.series.is_empty() {
        notes.push("no metric series: hypotheses rest on logs and changes only".to_string());
    }
    let logs = if config.use_logs && !data.logs.is_empty() {
        let window = signal_window(data.incident.window, data.incident.detected_at, LOG_LEAD_MINUTES)?;
        let found = log_signals(&data.logs, window, &SignalConfig::default());
        if found.baseline.is_none() {
            notes.push("no log lines before the incident period: no log baseline".to_string());
        }
        found.signals
    } else {
        Vec::new()
    };
    if data.topology.services().next().is_none() {
        notes.push("no topology: anomalies cannot be traced along calls".to_string());
    }
    // onsets closer than two samples cannot be ordered
    let tolerance_ms = 2 * typical_step_ms(data).max(30_000);
    let mut services = rank::score_services(data, &shifts, &logs, tolerance_ms, config);
    services.sort_by(|a, b| b.root.total_cmp(&a.root).then_with(|| a.service.cmp(&b.service)));
    let incident_onset = services.iter().find(|s| s.anomalous).and_then(|s| s.onset);
    let changes = if config.use_changes {
        changes::score_changes(data, &services, &shifts, &periods, incident_onset, tolerance_ms, config)
    } else {
        if !data.changes.is_empty() {
            notes.push(format!("{} change events left out by configuration", data.changes.len()));
        }
        Vec::new()
    };
    rank::apply_changes(&mut services, &changes, config);
    let mut hypotheses = rank::hypotheses(&rank::Inputs {
        data,
        services: &services,
        shifts: &shifts,
        logs: &logs,
        changes: &changes,
        config,
    });
    if !data.knowledge.is_empty() && config.citations_per_hypothesis > 0 {
        let index = KnowledgeIndex::build(&data.knowledge, &RetrievalConfig::default())?;
        for h in &mut hypotheses {
            h.citations = index.cite(h, &services, &shifts, &logs, config);
        }
    }
    number_evidence(&mut hypotheses);
    let min_strength = config.min_z.ln_1p();
    let i = &data.incident;
    Ok(Report {
        format: REPORT_FORMAT.to_string(),
        incident: ReportIncident {
            id: i.id.clone(),
            title: i.title.clone(),
            detected_at: i.detected_at,
            window: i.window,
            services: i.services.clone(),
        },
        hypotheses,
        periods,
        services,
        anomalies: shifts.into_iter().filter(|s| s.strength >= min_strength).collect(),
        log_patterns: logs,
        changes,
        notes,
        inputs: data
            .sources
            .iter()
            .map(|s| ReportInput { path: s.path.clone(), sha256: s.sha256, records: s.report.records })
            .collect(),
    })
}

/// Gives every evidence item of every hypothesis an id (`ev-1`, `ev-2`, ...), in report order.
fn number_evidence(hypotheses: &mut [faultlens_core::Hypothesis]) {
    let mut n = 0usize;
    let mut next = || {
        n += 1;
        format!("ev-{n}")
    };
    for h in hypotheses {
        for e in h.evidence.iter_mut() {
            e.id = next();
        }
        for e in &mut h.counter_evidence {
            e.id = next();
        }
        for r in &mut h.ruled_out {
            for e in &mut r.evidence {
                e.id = next();
            }
        }
    }
}

/// The median sampling step over the series (0 when there are none).
fn typical_step_ms(data: &IncidentData) -> i64 {
    let mut steps: Vec<i64> =
        data.series.iter().filter(|s| s.len() >= 2).map(|s| faultlens_core::median_step(s.timestamps_ms())).collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied().unwrap_or(0)
}

/// A number in four significant digits.
pub(crate) use faultlens_core::format_number as num;

/// A duration in whole minutes (seconds below one minute).
pub(crate) fn minutes(ms: i64) -> String {
    if ms < 60_000 { format!("{} s", ms / 1000) } else { format!("{} min", ms / 60_000) }
}
