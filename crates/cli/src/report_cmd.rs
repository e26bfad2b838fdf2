//! `faultlens report BUNDLE --html OUT.html --markdown OUT.md --pdf OUT.pdf`: the analysis as an incident
//! report, with metric timelines of the top hypotheses' services.

use std::path::PathBuf;

use clap::Args;
use faultlens::core::{Bundle, ContentHasher, IncidentData, LoadOptions, MetricSeries, TimeRange, mean_by_time};
use faultlens::correlate::{AnalyzeConfig, Report, analyze};
use faultlens::verify::dora::{read_deployments_csv, read_incidents_csv};
use faultlens::verify::report::{DoraPanel, IncidentReport, ReportError, SloPanel, Timeline};

use crate::dora_cmd::TierArgs;
use crate::slo_cmd::SloInput;

use crate::{Failure, Format};

/// Arguments of `faultlens report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The bundle directory.
    bundle: PathBuf,
    /// Write a self-contained HTML page here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write Markdown here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write a PDF document here.
    #[arg(long)]
    pdf: Option<PathBuf>,
    /// Add an SLO panel (budget, burn-rate pairs, burn-rate chart).
    #[command(flatten)]
    slo: SloInput,
    /// Add a DORA panel (four keys, tiers, deployments per day): deployments CSV.
    #[arg(long, requires = "incidents")]
    deployments: Option<PathBuf>,
    /// The incidents CSV of the DORA panel.
    #[arg(long, requires = "deployments")]
    incidents: Option<PathBuf>,
    #[command(flatten)]
    table: TierArgs,
}

impl From<ReportError> for Failure {
    fn from(e: ReportError) -> Self {
        Self { reported: false, code: 1, message: e.to_string() }
    }
}

/// The pod-averaged points of one metric of one service from one source.
fn points(data: &IncidentData, service: &str, metric: &str, source: &str) -> Vec<(i64, f64)> {
    let members: Vec<&MetricSeries> = data
        .series
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            s.name() == metric
                && s.service(None) == Some(service)
                && data.series_source(*i).is_some_and(|x| x.path == source)
        })
        .map(|(_, s)| s)
        .collect();
    let (ts, vs) = mean_by_time(&members);
    ts.into_iter().zip(vs).collect()
}

/// The report of an analysis: hypotheses, and the two strongest anomalous series of each of the
/// top three hypotheses' services as timelines.
pub(crate) fn build(data: &IncidentData, r: &Report) -> IncidentReport {
    let mut timelines = Vec::new();
    for h in r.hypotheses.iter().take(3) {
        let Some(svc) = h.service.as_deref() else { continue };
        for a in r.anomalies.iter().filter(|a| a.service == svc).take(2) {
            let start = a.onset.unwrap_or(r.periods.incident.start);
            let end = a.ended.unwrap_or(r.periods.incident.end);
            timelines.push(Timeline {
                title: format!("{svc}: {}", a.metric),
                selector: a.selector.clone(),
                points: points(data, svc, &a.metric, &a.source),
                anomaly: TimeRange::new(start, end.max(start)).ok(),
            });
        }
    }
    IncidentReport {
        incident: data.incident.clone(),
        hypotheses: r.hypotheses.clone(),
        timelines,
        changes: r.changes.iter().map(|c| c.change.clone()).collect(),
        slos: Vec::new(),
        dora: None,
        notes: r.notes.clone(),
    }
}

pub(crate) fn run(a: ReportArgs, _format: Format) -> Result<(), Failure> {
    if a.html.is_none() && a.markdown.is_none() && a.pdf.is_none() {
        return Err(Failure { reported: false, code: 2, message: "give --html, --markdown and/or --pdf OUT".into() });
    }
    let data = Bundle::load_decoded(&a.bundle, LoadOptions::default())?.1;
    let mut report = build(&data, &analyze(&data, &AnalyzeConfig::default())?);
    if let Some(i) = a.slo.load()? {
        report.slos.push(SloPanel::new(&i.slo, &i.events, None, i.source, i.sha256)?);
    }
    if let (Some(d), Some(i)) = (&a.deployments, &a.incidents) {
        let (db, ib) = (crate::read_input(d)?, crate::read_input(i)?);
        let (ds, is) = (d.display().to_string(), i.display().to_string());
        let deployments = read_deployments_csv(&ds, &db)?;
        let incidents = read_incidents_csv(&is, &ib)?;
        let mut h = ContentHasher::new();
        h.part(&db).part(&ib);
        report.dora =
            Some(DoraPanel::new(&deployments, &incidents, None, a.table.table()?, format!("{ds}, {is}"), h.finish()));
    }
    let write = |path: &PathBuf, bytes: Vec<u8>| {
        std::fs::write(path, bytes).map_err(|e| Failure {
            reported: false,
            code: 3,
            message: format!("{}: {e}", path.display()),
        })
    };
    if let Some(p) = &a.html {
        write(p, report.to_html()?.into_bytes())?;
    }
    if let Some(p) = &a.markdown {
        write(p, report.to_markdown()?.into_bytes())?;
    }
    if let Some(p) = &a.pdf {
        write(p, report.to_pdf()?)?;
    }
    Ok(())
}
