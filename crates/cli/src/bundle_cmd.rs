//! `faultlens bundle validate|inspect|seal`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use faultlens::core::{Bundle, IncidentData, LoadOptions};
use serde::Serialize;

use crate::output::{human_bytes, json};
use crate::{Failure, Format};

#[derive(Debug, Subcommand)]
pub(crate) enum BundleAction {
    /// Check the manifest, every path and hash, and decode every source.
    Validate {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// Print what a bundle holds.
    Inspect {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// Write the sha256 of every source into the manifest.
    Seal {
        /// The bundle directory.
        dir: PathBuf,
    },
}

#[derive(Serialize)]
struct SourceLine {
    path: String,
    format: &'static str,
    sha256: String,
    records: u64,
    skipped: u64,
    normalized: u64,
    warnings: Vec<String>,
}

fn source_lines(data: &IncidentData) -> Vec<SourceLine> {
    data.sources
        .iter()
        .map(|s| SourceLine {
            path: s.path.clone(),
            format: s.format.as_str(),
            sha256: s.sha256.to_string(),
            records: s.report.records,
            skipped: s.report.skipped,
            normalized: s.report.normalized,
            warnings: s.report.warnings.clone(),
        })
        .collect()
}

pub(crate) fn run(action: BundleAction, format: Format) -> Result<(), Failure> {
    match action {
        BundleAction::Validate { dir } => validate(dir, format),
        BundleAction::Inspect { dir } => inspect(dir, format),
        BundleAction::Seal { dir } => {
            let mut b = Bundle::load_with(&dir, LoadOptions::default().with_verify_hashes(false))?;
            b.seal()?;
            match format {
                Format::Json => json(&serde_json::json!({"ok": true, "sealed": b.manifest().sources.len()})),
                Format::Text | Format::Markdown => {
                    println!("sealed {} sources in {}", b.manifest().sources.len(), b.manifest_path().display());
                    Ok(())
                }
            }
        }
    }
}

fn validate(dir: PathBuf, format: Format) -> Result<(), Failure> {
    let (b, data) = Bundle::load_decoded(&dir, LoadOptions::default())?;
    let unsealed: Vec<String> =
        b.manifest().sources.iter().filter(|s| s.sha256.is_none()).map(|s| s.path.clone()).collect();
    let lines = source_lines(&data);
    match format {
        Format::Json => json(
            &serde_json::json!({"ok": true, "bundle": dir, "incident": data.incident.id, "unsealed": unsealed, "sources": lines}),
        ),
        Format::Text | Format::Markdown => {
            println!("{}: valid faultlens.bundle/v1, incident {}", dir.display(), data.incident.id);
            for l in &lines {
                let extra = if l.skipped + l.normalized > 0 {
                    format!(" ({} skipped, {} normalised)", l.skipped, l.normalized)
                } else {
                    String::new()
                };
                println!("  {:<28} {:<22} {:>8} records{extra}", l.path, l.format, l.records);
                for w in &l.warnings {
                    println!("      {w}");
                }
            }
            if !unsealed.is_empty() {
                println!("  not sealed: {} (run `faultlens bundle seal`)", unsealed.join(", "));
            }
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct Inspection {
    incident: faultlens::core::Incident,
    services: Vec<String>,
    metrics: BTreeMap<String, usize>,
    samples: usize,
    log_lines: usize,
    log_levels: BTreeMap<String, usize>,
    changes: Vec<faultlens::core::ChangeEvent>,
    alerts: Vec<faultlens::core::Alert>,
    knowledge: Vec<String>,
    policies: Vec<String>,
    bytes: u64,
    sources: Vec<SourceLine>,
}

fn inspect(dir: PathBuf, format: Format) -> Result<(), Failure> {
    let (b, data) = Bundle::load_decoded(&dir, LoadOptions::default())?;
    let mut metrics = BTreeMap::new();
    for s in &data.series {
        *metrics.entry(s.name().to_string()).or_insert(0) += 1;
    }
    let mut log_levels = BTreeMap::new();
    for l in &data.logs {
        let k = l.level.map_or("unknown".to_string(), |v| format!("{v:?}").to_lowercase());
        *log_levels.entry(k).or_insert(0) += 1;
    }
    let bytes = b
        .manifest()
        .sources
        .iter()
        .filter_map(|s| std::fs::metadata(b.dir().join(&s.path)).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let insp = Inspection {
        incident: data.incident.clone(),
        services: data.topology.services().map(str::to_string).collect(),
        metrics,
        samples: data.series.iter().map(|s| s.len()).sum(),
        log_lines: data.logs.len(),
        log_levels,
        changes: data.changes.clone(),
        alerts: data.alerts.clone(),
        knowledge: data.knowledge.iter().map(|k| format!("{} ({} sections)", k.path, k.sections.len())).collect(),
        policies: data.policies.iter().map(|p| format!("{} (package {})", p.path, p.package)).collect(),
        bytes,
        sources: source_lines(&data),
    };
    if format == Format::Json {
        return json(&insp);
    }
    let i = &insp.incident;
    println!("incident   {}{}", i.id, i.title.as_deref().map(|t| format!(": {t}")).unwrap_or_default());
    println!("detected   {}   window {}", i.detected_at, i.window);
    println!("services   {} ({})", insp.services.len(), insp.services.join(", "));
    println!(
        "metrics    {} series, {} samples: {}",
        data.series.len(),
        insp.samples,
        insp.metrics.iter().map(|(k, v)| format!("{k} x{v}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "logs       {} lines: {}",
        insp.log_lines,
        insp.log_levels.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    println!("changes    {}", insp.changes.len());
    for c in &insp.changes {
        println!("  {}  {:<8} {:<16} {}  {}", c.at, c.kind.as_str(), c.service, c.id, c.to.as_deref().unwrap_or(""));
    }
    println!("alerts     {}", insp.alerts.len());
    for a in &insp.alerts {
        println!(
            "  {}  {} {} {}",
            a.started_at,
            a.name,
            a.service.as_deref().unwrap_or("-"),
            a.summary.as_deref().unwrap_or("")
        );
    }
    println!("knowledge  {}", insp.knowledge.join(", "));
    println!("policies   {}", insp.policies.join(", "));
    println!("size       {}", human_bytes(insp.bytes));
    Ok(())
}
