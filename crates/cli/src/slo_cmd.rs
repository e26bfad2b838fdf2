//! `faultlens slo rules|budget|burn`: Prometheus rules in Sloth's naming, the error budget and
//! the multi-window burn-rate evaluation of SLOs defined in JSON.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use faultlens::verify::slo::{
    BurnVerdict, BurnWindow, Events, Slo, SloError, error_budget, evaluate_burn, prometheus_rules, read_events_csv,
    window_name,
};

use crate::{Failure, Format};

/// `faultlens slo` actions.
#[derive(Debug, Subcommand)]
pub(crate) enum SloAction {
    /// Write Prometheus recording and alerting rules (Sloth naming) for every SLO in the file.
    Rules {
        /// SLO definitions: a JSON object, or an array of them.
        slos: PathBuf,
        /// Write the rules here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The error budget over the SLO's period (exit 1 when it is spent, 2 without data).
    Budget(EventsArgs),
    /// Multi-window multi-burn-rate evaluation (exit 0 ok, 1 page or ticket, 2 insufficient).
    Burn(EventsArgs),
}

/// An SLO and its events.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// SLO definitions: a JSON object, or an array of them.
    slos: PathBuf,
    /// Event counts: CSV with `timestamp,total,bad`.
    #[arg(long)]
    events: PathBuf,
    /// The SLO to evaluate when the file holds several (by name).
    #[arg(long)]
    slo: Option<String>,
    /// Evaluate at this time (default: the last event).
    #[arg(long)]
    at: Option<String>,
}

impl From<SloError> for Failure {
    fn from(e: SloError) -> Self {
        Self { reported: false, code: 3, message: e.to_string() }
    }
}

/// An SLO and its events, optional (for `verify` and `report`).
#[derive(Debug, Args)]
pub(crate) struct SloInput {
    /// SLO definitions (JSON object or array).
    #[arg(long, requires = "events")]
    slo: Option<PathBuf>,
    /// The SLO's event counts (CSV `timestamp,total,bad`).
    #[arg(long, requires = "slo")]
    events: Option<PathBuf>,
    /// The SLO to use when the file holds several (by name).
    #[arg(long)]
    slo_name: Option<String>,
}

/// A loaded [`SloInput`], with its events' file and hash for citation.
pub(crate) struct LoadedSlo {
    pub(crate) slo: Slo,
    pub(crate) events: Events,
    pub(crate) source: String,
    pub(crate) sha256: faultlens::core::ContentHash,
}

impl SloInput {
    /// The SLO and its events, when given.
    pub(crate) fn load(&self) -> Result<Option<LoadedSlo>, Failure> {
        let (Some(slos), Some(events)) = (&self.slo, &self.events) else { return Ok(None) };
        LoadedSlo::read(slos, events, self.slo_name.as_deref()).map(Some)
    }
}

impl LoadedSlo {
    /// The SLO named `name` (or the only one) of the definitions file, and the events file.
    fn read(slos: &PathBuf, events: &std::path::Path, name: Option<&str>) -> Result<Self, Failure> {
        let slo = pick(load_slos(slos)?, name)?;
        let bytes = crate::read_input(events)?;
        let source = events.display().to_string();
        let events = read_events_csv(&source, &bytes)?;
        Ok(Self { slo, events, source, sha256: faultlens::core::ContentHash::of(&bytes) })
    }
}

pub(crate) fn load_slos(path: &PathBuf) -> Result<Vec<Slo>, Failure> {
    let io = |e: String| crate::file_error(path, e);
    let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(e.to_string()))?;
    let slos =
        if value.is_array() { serde_json::from_value(value) } else { serde_json::from_value(value).map(|s| vec![s]) };
    slos.map_err(|e| io(e.to_string()))
}

pub(crate) fn pick(slos: Vec<Slo>, name: Option<&str>) -> Result<Slo, Failure> {
    let n = slos.len();
    let found = match name {
        Some(name) => slos.into_iter().find(|s| s.name == name),
        None if n == 1 => slos.into_iter().next(),
        None => None,
    };
    found.ok_or_else(|| Failure {
        reported: false,
        code: 3,
        message: format!("{n} SLOs in the file: name one with --slo"),
    })
}

fn events_of(a: &EventsArgs) -> Result<(Slo, Events, i64), Failure> {
    let LoadedSlo { slo, events, .. } = LoadedSlo::read(&a.slos, &a.events, a.slo.as_deref())?;
    let at = match &a.at {
        Some(t) => crate::time_flag("at", t)?.as_millis(),
        None => events.timestamps_ms.last().copied().ok_or_else(|| Failure {
            reported: false,
            code: 2,
            message: "no events".into(),
        })?,
    };
    Ok((slo, events, at))
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) fn run(action: SloAction, format: Format) -> Result<(), Failure> {
    match action {
        SloAction::Rules { slos, output } => {
            let text = prometheus_rules(&load_slos(&slos)?)?;
            match output {
                Some(p) => std::fs::write(&p, text).map_err(|e| Failure {
                    reported: false,
                    code: 3,
                    message: format!("{}: {e}", p.display()),
                }),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        SloAction::Budget(a) => {
            let (slo, events, at) = events_of(&a)?;
            let b = error_budget(&slo, &events, at)?;
            match format {
                Format::Json => print_json(&b),
                _ => {
                    let pct =
                        |v: Option<f64>| v.map_or_else(|| "unknown".to_string(), |v| format!("{:.1}%", 100.0 * v));
                    println!(
                        "{}: {} of the error budget remaining ({} bad of {} events over {} days{})",
                        slo.id(),
                        pct(b.remaining),
                        b.bad,
                        b.total,
                        slo.period_days,
                        if b.covered { "" } else { "; the data does not cover the whole period" }
                    );
                }
            }
            match b.remaining {
                None => Err(Failure::verdict(2, "no events in the period")),
                Some(r) if r <= 0.0 => Err(Failure::verdict(1, "error budget spent")),
                Some(_) if !b.covered => Err(Failure::verdict(2, "the data does not cover the period")),
                Some(_) => Ok(()),
            }
        }
        SloAction::Burn(a) => {
            let (slo, events, at) = events_of(&a)?;
            let ev = evaluate_burn(&slo, &events, &BurnWindow::defaults(), at)?;
            match format {
                Format::Json => print_json(&ev),
                _ => {
                    println!("{}: {:?}", slo.id(), ev.verdict);
                    for c in &ev.checks {
                        let r = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| format!("{v:.2}"));
                        println!(
                            "  {:<6} long {:>5} short {:>5} over {:>4}: burn {} / {}{}{}",
                            c.window.severity.as_str(),
                            window_name(c.window.long_ms),
                            window_name(c.window.short_ms),
                            c.window.factor,
                            r(c.long_rate),
                            r(c.short_rate),
                            if c.firing { "  FIRING" } else { "" },
                            if c.covered { "" } else { "  (not covered by the data)" }
                        );
                    }
                }
            }
            match ev.verdict {
                BurnVerdict::Ok => Ok(()),
                BurnVerdict::Page | BurnVerdict::Ticket => {
                    Err(Failure::verdict(1, format!("burn rate alert: {:?}", ev.verdict)))
                }
                BurnVerdict::Insufficient => Err(Failure::verdict(2, "not enough data to judge")),
            }
        }
    }
}
