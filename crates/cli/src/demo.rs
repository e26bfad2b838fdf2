//! `faultlens demo`: the pipeline on the demo incident, summarised for a person.
//!
//! Today the pipeline is: load and verify the bundle, decode every source, then summarise the
//! incident, its alert, the changes around it, the anomalies the streaming detector finds in
//! the incident window (by service, in order of onset), the log anomaly signals (new templates,
//! rate and error surges) and the alerting service's blast radius.
//! Then the ranked root-cause hypotheses of `faultlens analyze`, with their strongest evidence,
//! counter-evidence, what they rule out, the next check and the runbook sections they cite.

use std::path::{Path, PathBuf};

use faultlens::core::{Bundle, IncidentData, LoadOptions};
use faultlens::detect::logs::{LogSignal, SignalConfig, log_signals, signal_window};
use faultlens::detect::metrics;
use faultlens::sim::{Scenario, SimConfig, generate};
use serde::Serialize;

use crate::output::{json, num, offset};
use crate::{Failure, Format};

/// The demo incident's generator settings; `examples/bundles/bad-deploy` is this, written out.
pub(crate) fn demo_config() -> SimConfig {
    SimConfig::default().with_seed(1).with_scenario(Scenario::BadDeploy)
}

/// One service's anomalous series in the incident window.
#[derive(Debug, Serialize)]
struct ServiceAnomalies {
    service: String,
    first_onset: faultlens::core::Timestamp,
    series: Vec<faultlens::detect::metrics::RankedSeries>,
    strongest: Option<faultlens::detect::metrics::AnomalyWindow>,
}

#[derive(Debug, Serialize)]
struct Summary {
    bundle: PathBuf,
    incident: faultlens::core::Incident,
    alerts: Vec<faultlens::core::Alert>,
    changes: Vec<faultlens::core::ChangeEvent>,
    anomalies: Vec<ServiceAnomalies>,
    log_signals: Vec<LogSignal>,
    blast_radius: Vec<faultlens::core::Reached>,
    hypotheses: Option<Vec<faultlens::core::Hypothesis>>,
}

/// Significant anomalies (family-wise, over every point of every series in the window) found by
/// the streaming detector on per-service series, grouped by service in order of first onset.
fn anomalies(data: &IncidentData) -> Vec<ServiceAnomalies> {
    // one continuous series per metric and service, whatever the pod churn
    let series = metrics::aggregate_by(&data.series, &["service"]);
    let analyses = metrics::detect_many(&series, &[], &metrics::DetectConfig::default());
    let ranked: Vec<_> = metrics::rank_in_window(&series, &analyses, data.incident.window)
        .into_iter()
        .filter(|r| r.significant)
        .collect();
    metrics::group_by_service(&ranked)
        .into_iter()
        .filter_map(|(service, series)| {
            let first_onset = series.iter().map(|r| r.onset).min()?;
            let strongest = series
                .first()
                .and_then(|r| analyses.get(r.index)?.windows.iter().find(|w| w.onset == r.onset).cloned());
            Some(ServiceAnomalies { service, first_onset, series, strongest })
        })
        .collect()
}

/// The strongest log anomaly signals from half an hour before the alert on.
fn log_signals_of(data: &IncidentData) -> Result<Vec<LogSignal>, Failure> {
    let window = signal_window(data.incident.window, data.incident.detected_at, 30)?;
    let mut signals = log_signals(&data.logs, window, &SignalConfig::default()).signals;
    signals.truncate(8);
    Ok(signals)
}

fn locate(bundle: Option<PathBuf>, scratch: &Path) -> Result<PathBuf, Failure> {
    if let Some(b) = bundle {
        return Ok(b);
    }
    let shipped = PathBuf::from("examples/bundles/bad-deploy");
    if shipped.join("bundle.yaml").is_file() {
        return Ok(shipped);
    }
    generate(&demo_config())?.write(scratch)?;
    Ok(scratch.to_path_buf())
}

pub(crate) fn run(bundle: Option<PathBuf>, format: Format) -> Result<(), Failure> {
    let scratch = std::env::temp_dir().join(format!("faultlens-demo-{}", std::process::id()));
    let dir = locate(bundle, &scratch)?;
    let data = Bundle::load_decoded(&dir, LoadOptions::default())?.1;
    let det = data.incident.detected_at;
    let w = data.incident.window;
    let changes: Vec<_> = data.changes.iter().filter(|c| w.contains(c.at)).cloned().collect();
    let alerting =
        data.incident.services.first().cloned().or_else(|| data.alerts.first().and_then(|a| a.service.clone()));
    let summary = Summary {
        bundle: dir.clone(),
        incident: data.incident.clone(),
        alerts: data.alerts.clone(),
        changes,
        anomalies: anomalies(&data),
        log_signals: log_signals_of(&data)?,
        blast_radius: alerting.as_deref().map(|s| data.topology.dependencies(s, 8)).unwrap_or_default(),
        hypotheses: Some(
            faultlens::correlate::analyze(&data, &faultlens::correlate::AnalyzeConfig::default())?.hypotheses,
        ),
    };
    if dir == scratch {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    if format == Format::Json {
        return json(&summary);
    }
    let i = &summary.incident;
    println!("faultlens demo: {}", dir.display());
    println!();
    println!("INCIDENT  {}", i.title.as_deref().unwrap_or(&i.id));
    println!("  id {}, detected {}, window {}", i.id, i.detected_at, i.window);
    for a in &summary.alerts {
        println!(
            "  alert {} on {}: {}",
            a.name,
            a.service.as_deref().unwrap_or("?"),
            a.summary.as_deref().unwrap_or("")
        );
    }
    let srcs: Vec<String> = data.sources.iter().map(|s| format!("{} ({} records)", s.path, s.report.records)).collect();
    println!("  sources verified: {}", srcs.join(", "));
    println!();
    println!("CHANGES IN THE WINDOW ({}), relative to detection", summary.changes.len());
    for c in &summary.changes {
        let ver = match (&c.from, &c.to) {
            (Some(f), Some(t)) => format!("{f} -> {t}"),
            (None, Some(t)) => t.clone(),
            _ => String::new(),
        };
        println!(
            "  {:>7}  {:<8} {:<16} {:<26} {ver}",
            offset(c.at.as_millis() - det.as_millis()),
            c.kind.as_str(),
            c.service,
            c.id
        );
    }
    println!();
    println!(
        "ANOMALIES IN THE WINDOW (streaming detector, significant at 5% family-wise), by service in order of onset"
    );
    if summary.anomalies.is_empty() {
        println!("  none");
    }
    for g in &summary.anomalies {
        println!(
            "  {:>7}  {:<16} {} series",
            offset(g.first_onset.as_millis() - det.as_millis()),
            if g.service.is_empty() { "(no service)" } else { &g.service },
            g.series.len()
        );
        if let Some(w) = &g.strongest {
            let sign = if w.direction == metrics::Direction::Up { 1.0 } else { -1.0 };
            println!(
                "           strongest: {} {:+.1} sigma, {} vs expected {}..{}{}",
                g.series.first().map(|r| r.selector.split('{').next().unwrap_or_default()).unwrap_or_default(),
                sign * w.magnitude_sigmas,
                num(w.observed),
                num(w.band_low),
                num(w.band_high),
                crate::output::kind_suffix(w.kind)
            );
        }
    }
    println!();
    println!("LOG SIGNALS (from 30 minutes before the alert, against the log lines before that)");
    if summary.log_signals.is_empty() {
        println!("  none");
    }
    for s in &summary.log_signals {
        let kind = crate::logs_cmd::kind_label(s.kind);
        println!(
            "  {kind:<6} {:<14} {:>5} -> {:<5} {}",
            s.service.as_deref().unwrap_or("-"),
            s.baseline_count,
            s.window_count,
            s.template
        );
        if let Some(e) = s.examples.first() {
            println!("           e.g. {}:{}", e.source, e.line);
        }
    }
    println!();
    if let Some(a) = &alerting {
        let deps: Vec<String> = summary
            .blast_radius
            .iter()
            .map(|r| format!("{} ({} hop{})", r.service, r.hops, if r.hops == 1 { "" } else { "s" }))
            .collect();
        println!("DEPENDENCIES OF {a}: {}", deps.join(", "));
        println!();
    }
    println!("RANKED HYPOTHESES (faultlens analyze; confidence calibrated on simulated incidents)");
    let hypotheses = summary.hypotheses.as_deref().unwrap_or_default();
    if hypotheses.is_empty() {
        println!("  none: nothing departs from its baseline enough to cite");
    }
    for h in hypotheses.iter().take(3) {
        println!("  {}. [{:.2}] {}", h.rank, h.confidence.get(), h.summary);
        for e in h.evidence.as_slice().iter().take(3) {
            println!("       evidence {} {}: {}", e.source, e.query, e.detail);
        }
        for e in h.counter_evidence.iter().take(1) {
            println!("       against  {} {}: {}", e.source, e.query, e.detail);
        }
        for r in h.ruled_out.iter().take(3) {
            println!("       ruled out {}: {}", r.subject, r.reason);
        }
        if let Some(c) = h.next_checks.first() {
            println!("       next: {c}");
        }
        for c in &h.citations {
            println!("       see {} \u{a7} {} (lines {}-{})", c.path, c.headings.join(" > "), c.line_start, c.line_end);
        }
    }
    // what to do about the top change: verify it against the service's own history
    if let Some(id) = hypotheses.first().and_then(|h| h.change_id.as_deref()) {
        let config = faultlens::verify::postchange::VerifyConfig::default();
        let v = faultlens::verify::postchange::verify_change(&data, id, &config)?;
        println!();
        println!("POST-CHANGE VERIFICATION of {id} (faultlens verify): {:?}", v.decision);
        for r in v.reasons.iter().take(3) {
            println!("  {r}");
        }
    }
    if dir.exists() {
        println!();
        println!("Full report: faultlens analyze {} --format markdown (or json)", dir.display());
        println!("HTML report: faultlens report {} --html report.html", dir.display());
    }
    Ok(())
}
