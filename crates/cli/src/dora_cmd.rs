//! `faultlens dora DEPLOYMENTS.csv INCIDENTS.csv`: DORA's four keys and their tiers.

use std::path::PathBuf;

use clap::Args;
use faultlens::core::TimeRange;
use faultlens::verify::dora::{DoraReport, TierTable, dora, read_deployments_csv, read_incidents_csv};
use faultlens::verify::samples::InputError;

use crate::{Failure, Format};

/// Arguments of `faultlens dora`.
#[derive(Debug, Args)]
pub(crate) struct DoraArgs {
    /// Deployments: CSV with `id,deployed_at` and optionally `service,commit_at,failed`.
    deployments: PathBuf,
    /// Incidents: CSV with `id,started_at` and optionally `resolved_at,change_id`.
    incidents: PathBuf,
    #[command(flatten)]
    table: TierArgs,
    /// Start of the period (default: the first deployment).
    #[arg(long)]
    from: Option<String>,
    /// End of the period (default: the last deployment).
    #[arg(long)]
    to: Option<String>,
}

/// Which DORA tier table to use.
#[derive(Debug, Args)]
pub(crate) struct TierArgs {
    /// Tier table by report year (built in: 2021, 2022, 2023, 2024; default the latest).
    #[arg(long)]
    tiers: Option<u16>,
    /// Tier tables from a JSON file (one table or an array, in the form of the built-in
    /// `crates/verify/data/dora-tiers.json`); `--tiers` picks one when it holds several.
    #[arg(long, value_name = "FILE")]
    tiers_file: Option<PathBuf>,
}

impl TierArgs {
    /// The chosen table.
    pub(crate) fn table(&self) -> Result<TierTable, Failure> {
        let (tables, origin) = match &self.tiers_file {
            Some(path) => (
                TierTable::from_json(&path.display().to_string(), &crate::read_input(path)?)?,
                path.display().to_string(),
            ),
            None => (TierTable::builtin(), "built in".to_string()),
        };
        let chosen = match self.tiers {
            Some(year) => tables.iter().find(|t| t.year == year),
            None => tables.iter().max_by_key(|t| t.year),
        };
        chosen.cloned().ok_or_else(|| Failure {
            reported: false,
            code: 2,
            message: format!(
                "no tier table for {} ({origin}: {})",
                self.tiers.map_or_else(|| "any year".into(), |y| y.to_string()),
                tables.iter().map(|t| t.year.to_string()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        Self { reported: false, code: 3, message: e.to_string() }
    }
}

pub(crate) fn run(a: DoraArgs, format: Format) -> Result<(), Failure> {
    let deployments = read_deployments_csv(&a.deployments.display().to_string(), &crate::read_input(&a.deployments)?)?;
    let incidents = read_incidents_csv(&a.incidents.display().to_string(), &crate::read_input(&a.incidents)?)?;
    let table = a.table.table()?;
    let period = match (&a.from, &a.to) {
        (None, None) => None,
        (from, to) => {
            let start = from.as_deref().map(|s| crate::time_flag("from", s)).transpose()?;
            let end = to.as_deref().map(|s| crate::time_flag("to", s)).transpose()?;
            let first = deployments.iter().map(|d| d.deployed_at).min();
            let last = deployments.iter().map(|d| d.deployed_at).max();
            let (Some(start), Some(end)) = (start.or(first), end.or(last)) else {
                return Err(Failure {
                    reported: false,
                    code: 2,
                    message: "no deployments to take the period from".into(),
                });
            };
            Some(TimeRange::new(start, end).map_err(|e| Failure {
                reported: false,
                code: 2,
                message: e.to_string(),
            })?)
        }
    };
    let r = dora(&deployments, &incidents, period, Some(&table));
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
        Format::Text | Format::Markdown => print!("{}", text(&r, &table)),
    }
    Ok(())
}

fn text(r: &DoraReport, table: &TierTable) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "period {} to {}: {} deployments", r.period.start, r.period.end, r.deployments);
    let year = r.tiers.as_ref().map_or(0, |t| t.table_year);
    let _ = writeln!(o, "{:<24} {:>18}  tier ({year} table)", "metric", "value");
    for k in r.key_rows() {
        let value = match (k.value, k.unit) {
            (None, _) => "unknown".to_string(),
            (Some(v), "ratio") => format!("{:.2} %", 100.0 * v),
            (Some(v), unit) => format!("{v:.2} {unit}"),
        };
        let tier = match (k.tier.as_deref(), k.published(table)) {
            (None, _) => "-".to_string(),
            (Some(name), None) => name.to_string(),
            (Some(name), Some(words)) => format!("{name} ({words})"),
        };
        let _ = writeln!(o, "{:<24} {value:>18}  {tier}", k.label);
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}
