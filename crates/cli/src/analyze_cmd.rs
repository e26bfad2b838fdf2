//! `faultlens analyze BUNDLE`: the whole pipeline on one bundle, as a report.

use std::path::PathBuf;

use clap::Args;
use faultlens::core::{Bundle, LoadOptions};
use faultlens::correlate::{AnalyzeConfig, Report, analyze};

use crate::{Failure, Format};

/// Arguments of `faultlens analyze`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// The bundle directory (or its manifest).
    bundle: PathBuf,
    /// Leave the change events out (metrics, logs and topology only).
    #[arg(long)]
    no_changes: bool,
    /// Leave the logs out.
    #[arg(long)]
    no_logs: bool,
    /// Analysis settings as JSON (`AnalyzeConfig`; missing fields keep their defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write the report here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

impl From<faultlens::correlate::Error> for Failure {
    fn from(e: faultlens::correlate::Error) -> Self {
        match e {
            faultlens::correlate::Error::Config { .. } => Self { reported: false, code: 2, message: e.to_string() },
            faultlens::correlate::Error::Core(c) => c.into(),
            other => Self { reported: false, code: 3, message: other.to_string() },
        }
    }
}

/// Loads, verifies, decodes and analyses a bundle.
pub(crate) fn report_of(bundle: &std::path::Path, config: &AnalyzeConfig) -> Result<Report, Failure> {
    let data = Bundle::load_decoded(bundle, LoadOptions::default())?.1;
    let report = analyze(&data, config)?;
    // the process ends after printing the report: the decoded records (a million log lines,
    // each with its own allocations) are left to the operating system instead of being freed
    // one by one, which took a tenth of the run
    std::mem::forget(data);
    Ok(report)
}

pub(crate) fn run(a: AnalyzeArgs, format: Format) -> Result<(), Failure> {
    let base = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Failure {
                reported: false,
                code: 3,
                message: format!("{}: {e}", p.display()),
            })?;
            serde_json::from_str::<AnalyzeConfig>(&text).map_err(|e| Failure {
                reported: false,
                code: 2,
                message: format!("{}: {e}", p.display()),
            })?
        }
        None => AnalyzeConfig::default(),
    };
    let config =
        base.clone().with_use_changes(base.use_changes && !a.no_changes).with_use_logs(base.use_logs && !a.no_logs);
    let report = report_of(&a.bundle, &config)?;
    let text = match format {
        Format::Json => report.to_json()?,
        Format::Text | Format::Markdown => report.to_markdown(),
    };
    match a.output {
        Some(path) => std::fs::write(&path, text).map_err(|e| Failure {
            reported: false,
            code: 3,
            message: format!("{}: {e}", path.display()),
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
