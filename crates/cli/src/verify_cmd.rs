//! `faultlens verify BUNDLE --change ID [--slo SLOS.json --events E.csv]`: post-change
//! verification, optionally with an SLO's burn rate folded in (exit 0 promote, 1 roll back, 2 hold).

use std::path::PathBuf;

use clap::Args;
use faultlens::core::{Bundle, LoadOptions};
use faultlens::verify::postchange::{
    ChangeVerification, Decision, VerifyConfig, VerifyError, fold_slo_burn, verify_change,
};

use crate::{Failure, Format};

/// Arguments of `faultlens verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The bundle directory.
    bundle: PathBuf,
    /// The change to verify (its id in the bundle's change sources).
    #[arg(long)]
    change: String,
    /// Minutes compared before and after the change.
    #[arg(long, default_value_t = 30)]
    window_min: i64,
    /// Fold in an SLO's burn rate.
    #[command(flatten)]
    slo: crate::slo_cmd::SloInput,
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        let code = if matches!(e, VerifyError::UnknownChange(_)) { 2 } else { 3 };
        Self { reported: false, code, message: e.to_string() }
    }
}

pub(crate) fn run(a: VerifyArgs, format: Format) -> Result<(), Failure> {
    let data = Bundle::load_decoded(&a.bundle, LoadOptions::default())?.1;
    let config = VerifyConfig::default().with_window_ms(a.window_min.saturating_mul(60_000));
    let mut v = verify_change(&data, &a.change, &config)?;
    if let Some(i) = a.slo.load()? {
        v = fold_slo_burn(v, &i.slo, &i.events, &config)?;
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Format::Text | Format::Markdown => print!("{}", text(&v)),
    }
    match v.decision {
        Decision::Promote => Ok(()),
        Decision::Rollback => Err(Failure::verdict(1, "roll back")),
        Decision::Hold => Err(Failure::verdict(2, "hold")),
    }
}

fn text(v: &ChangeVerification) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let word = match v.decision {
        Decision::Promote => "promote",
        Decision::Hold => "hold",
        Decision::Rollback => "roll back",
    };
    let _ =
        writeln!(o, "{} ({} of {} at {}): {word}", v.change.id, v.change.kind.as_str(), v.change.service, v.change.at);
    for r in &v.reasons {
        let _ = writeln!(o, "  {r}");
    }
    for c in &v.comparisons {
        let _ = writeln!(o, "{}:", c.kind);
        for m in &c.result.metrics {
            let class = serde_json::to_value(m.classification)
                .ok()
                .and_then(|x| x.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(o, "  {:<36} {class:<12} {}", m.name, m.explanation);
        }
    }
    let _ = writeln!(o, "evidence: {} series windows cited with their sha256", v.evidence.len());
    o
}
