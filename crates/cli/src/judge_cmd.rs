//! `faultlens judge --config CANARY.json --baseline B.csv --canary C.csv`: Kayenta-style canary
//! judgement. Exit code 0 on pass, 1 on marginal or fail, 2 when the data is insufficient.

use std::path::PathBuf;

use clap::Args;
use faultlens::verify::canary::{CanaryConfig, CanaryResult, CanaryVerdict, JudgeConfig, JudgeError, judge};
use faultlens::verify::samples::{pair, read_csv};

use crate::{Failure, Format};

/// Arguments of `faultlens judge`.
#[derive(Debug, Args)]
pub(crate) struct JudgeArgs {
    /// A Kayenta canary config (JSON).
    #[arg(long)]
    config: PathBuf,
    /// Baseline (control) samples: CSV, long (`metric,value`) or wide (a column per metric).
    #[arg(long)]
    baseline: PathBuf,
    /// Canary (experiment) samples, in the same layouts.
    #[arg(long)]
    canary: PathBuf,
    /// Judge settings as JSON (`JudgeConfig`; missing fields keep their defaults).
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Kayenta's rule alone: no power, counter or tail checks.
    #[arg(long)]
    kayenta: bool,
    /// Confidence level of the shift intervals.
    #[arg(long)]
    confidence: Option<f64>,
    /// Score from which the canary passes.
    #[arg(long)]
    pass: Option<f64>,
    /// Score from which it is marginal rather than failed.
    #[arg(long)]
    marginal: Option<f64>,
}

impl From<JudgeError> for Failure {
    fn from(e: JudgeError) -> Self {
        Self { reported: false, code: 3, message: e.to_string() }
    }
}

fn json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, Failure> {
    serde_json::from_slice(&crate::read_input(path)?).map_err(|e| Failure {
        reported: false,
        code: 3,
        message: format!("{}: {e}", path.display()),
    })
}

pub(crate) fn run(a: JudgeArgs, format: Format) -> Result<(), Failure> {
    let config: CanaryConfig = json(&a.config)?;
    let mut settings = match &a.settings {
        Some(p) => json::<JudgeConfig>(p)?,
        None if a.kayenta => JudgeConfig::kayenta(),
        None => JudgeConfig::default(),
    };
    if let Some(c) = a.confidence {
        settings = settings.with_confidence(c);
    }
    if let Some(p) = a.pass {
        settings.thresholds.pass = p;
    }
    if let Some(m) = a.marginal {
        settings.thresholds.marginal = m;
    }
    let baseline = read_csv(&a.baseline.display().to_string(), &crate::read_input(&a.baseline)?)?;
    let canary = read_csv(&a.canary.display().to_string(), &crate::read_input(&a.canary)?)?;
    let result = judge(&config, &pair(baseline, canary), &settings)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default()),
        Format::Text | Format::Markdown => print!("{}", text(&result)),
    }
    match result.verdict {
        CanaryVerdict::Pass => Ok(()),
        CanaryVerdict::Marginal | CanaryVerdict::Fail => {
            Err(Failure::verdict(1, format!("canary {}", verdict_word(result.verdict))))
        }
        CanaryVerdict::Insufficient => Err(Failure::verdict(2, "canary data insufficient")),
    }
}

fn verdict_word(v: CanaryVerdict) -> &'static str {
    match v {
        CanaryVerdict::Pass => "pass",
        CanaryVerdict::Marginal => "marginal",
        CanaryVerdict::Fail => "fail",
        CanaryVerdict::Insufficient => "insufficient data",
    }
}

/// A readable summary: the verdict, then one line per metric.
fn text(r: &CanaryResult) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let score = r.score.map_or_else(|| "none".to_string(), |s| format!("{s:.1}"));
    let _ = writeln!(
        o,
        "verdict: {} (score {score}; pass {}, marginal {})",
        verdict_word(r.verdict),
        r.thresholds.pass,
        r.thresholds.marginal
    );
    for reason in &r.reasons {
        let _ = writeln!(o, "  {reason}");
    }
    for m in &r.metrics {
        let class = serde_json::to_value(m.classification)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let crit = if m.critical_failure { " CRITICAL" } else { "" };
        let _ = writeln!(o, "{:<24} {class:<12}{crit} {}", m.name, m.explanation);
    }
    o
}
