//! `faultlens demo`: the pipeline on the demo incident, summarised for a person.
//!
//! Today the pipeline is: load and verify the bundle, decode every source, then summarise the
//! incident, its alert, the changes around it, the signals that moved most between the
//! baseline and the incident, error-log surges and the alerting service's blast radius.
//! Root-cause ranking is reported as not yet available until faultlens-correlate provides it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultlens::core::{Bundle, IncidentData};
use faultlens::sim::{Scenario, SimConfig, generate};
use serde::Serialize;

use crate::output::{json, num, offset};
use crate::{Failure, Format};

/// The demo incident's generator settings; `examples/bundles/bad-deploy` is this, written out.
pub(crate) fn demo_config() -> SimConfig {
    SimConfig::default().with_seed(1).with_scenario(Scenario::BadDeploy)
}

#[derive(Debug, Serialize)]
struct Shift {
    service: String,
    metric: String,
    baseline_median: f64,
    recent_median: f64,
    robust_z: f64,
}

#[derive(Debug, Serialize)]
struct LogSurge {
    service: String,
    errors_before: usize,
    errors_recent: usize,
}

#[derive(Debug, Serialize)]
struct Summary {
    bundle: PathBuf,
    incident: faultlens::core::Incident,
    alerts: Vec<faultlens::core::Alert>,
    changes: Vec<faultlens::core::ChangeEvent>,
    shifts: Vec<Shift>,
    log_surges: Vec<LogSurge>,
    blast_radius: Vec<faultlens::core::Reached>,
    hypotheses: Option<Vec<faultlens::core::Hypothesis>>,
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return None;
    }
    let a = *v.get((n - 1) / 2)?;
    let b = *v.get(n / 2)?;
    Some(0.5 * (a + b))
}

/// Per service and metric (pods averaged per timestamp), how far the median of the recent
/// window moved from the baseline median, in robust standard deviations (1.4826 x MAD).
fn shifts(data: &IncidentData) -> Vec<Shift> {
    let det = data.incident.detected_at.as_millis();
    let recent = (det - 20 * 60_000, det + 5 * 60_000);
    let mut grouped: BTreeMap<(String, String), BTreeMap<i64, (f64, u32)>> = BTreeMap::new();
    for s in &data.series {
        let service = s.service(None).unwrap_or("?").to_string();
        let g = grouped.entry((service, s.name().to_string())).or_default();
        for (&t, &v) in s.timestamps_ms().iter().zip(s.values()) {
            if v.is_finite() {
                let e = g.entry(t).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    let mut out = Vec::new();
    for ((service, metric), points) in grouped {
        let (mut base, mut rec) = (Vec::new(), Vec::new());
        for (t, (sum, n)) in points {
            let v = sum / f64::from(n);
            if t < recent.0 {
                base.push(v);
            } else if t <= recent.1 {
                rec.push(v);
            }
        }
        if base.len() < 10 || rec.len() < 3 {
            continue;
        }
        let (Some(bm), Some(rm)) = (median(&mut base), median(&mut rec)) else {
            continue;
        };
        let mut dev: Vec<f64> = base.iter().map(|v| (v - bm).abs()).collect();
        let mad = median(&mut dev).unwrap_or(0.0) * 1.4826;
        let z = (rm - bm) / mad.max(bm.abs() * 0.01).max(1e-9);
        if z.abs() >= 3.0 {
            out.push(Shift { service, metric, baseline_median: bm, recent_median: rm, robust_z: z });
        }
    }
    out.sort_by(|a, b| b.robust_z.abs().total_cmp(&a.robust_z.abs()).then_with(|| a.service.cmp(&b.service)));
    out.truncate(8);
    out
}

fn log_surges(data: &IncidentData) -> Vec<LogSurge> {
    let det = data.incident.detected_at.as_millis();
    let len = 20 * 60_000;
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for l in data.logs.iter().filter(|l| l.level.is_some_and(|s| s.is_error())) {
        let (Some(t), Some(svc)) = (l.timestamp, &l.service) else {
            continue;
        };
        let t = t.as_millis();
        let e = counts.entry(svc.to_string()).or_default();
        if (det - 2 * len..det - len).contains(&t) {
            e.0 += 1;
        } else if (det - len..det + 5 * 60_000).contains(&t) {
            e.1 += 1;
        }
    }
    let mut v: Vec<LogSurge> = counts
        .into_iter()
        .filter(|(_, (b, r))| *r >= 5 && *r > 3 * (*b).max(1))
        .map(|(service, (b, r))| LogSurge { service, errors_before: b, errors_recent: r })
        .collect();
    v.sort_by(|a, b| b.errors_recent.cmp(&a.errors_recent).then_with(|| a.service.cmp(&b.service)));
    v
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
    let b = Bundle::load(&dir)?;
    let data = b.decode()?;
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
        shifts: shifts(&data),
        log_surges: log_surges(&data),
        blast_radius: alerting.as_deref().map(|s| data.topology.dependencies(s, 8)).unwrap_or_default(),
        hypotheses: None,
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
    println!("LARGEST METRIC SHIFTS (median of the last 20 minutes vs the baseline, robust z)");
    if summary.shifts.is_empty() {
        println!("  none above 3 robust standard deviations");
    }
    for s in &summary.shifts {
        println!(
            "  {:<16} {:<36} {:>9} -> {:<9} z={:+.1}",
            s.service,
            s.metric,
            num(s.baseline_median),
            num(s.recent_median),
            s.robust_z
        );
    }
    println!();
    println!("ERROR LOG SURGES (error lines, 20 minutes before vs the last 25 minutes)");
    if summary.log_surges.is_empty() {
        println!("  none");
    }
    for l in &summary.log_surges {
        println!("  {:<16} {:>5} -> {}", l.service, l.errors_before, l.errors_recent);
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
    println!("RANKED HYPOTHESES");
    println!("  not available yet: root-cause ranking comes with faultlens-correlate (see the issues).");
    Ok(())
}
