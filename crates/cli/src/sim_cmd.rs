//! `faultlens sim` and `faultlens sim suite`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use faultlens::sim::{Scenario, SimConfig, generate, write_suite};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{human_bytes, json};
use crate::{Failure, Format};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct SimArgs {
    #[command(subcommand)]
    suite: Option<SimSub>,
    /// RNG seed; the same seed and settings give byte-identical bundles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fault to inject: bad-deploy, bad-deploy-latency, config-change, cpu-exhaustion,
    /// memory-leak, dependency-outage, traffic-surge, innocent-latest-change.
    #[arg(long, default_value = "bad-deploy")]
    scenario: String,
    /// Output directory (created).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of services (5 to 500).
    #[arg(long, default_value_t = 8)]
    services: usize,
    /// Pods per service.
    #[arg(long, default_value_t = 2)]
    pods: usize,
    /// Hours of history before detection.
    #[arg(long, default_value_t = 6)]
    history_hours: u32,
    /// Minutes of data after detection.
    #[arg(long, default_value_t = 30)]
    after_minutes: u32,
    /// Metric step in seconds.
    #[arg(long, default_value_t = 30)]
    step_secs: u32,
    /// Minutes of logs before detection.
    #[arg(long, default_value_t = 60)]
    log_minutes: u32,
    /// Log lines per second per pod at normal load.
    #[arg(long, default_value_t = 0.05)]
    log_rate: f64,
    /// Leave out runbooks, postmortems and policies.
    #[arg(long)]
    no_knowledge: bool,
}

#[derive(Debug, Subcommand)]
enum SimSub {
    /// Write a labelled suite of incidents cycling through every fault kind.
    Suite {
        /// Number of incidents.
        #[arg(long, default_value_t = 200)]
        count: usize,
        /// Base seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory (created).
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(a: SimArgs, format: Format) -> Result<(), Failure> {
    if let Some(SimSub::Suite { count, seed, out }) = a.suite {
        std::fs::create_dir_all(&out).map_err(|e| Failure {
            reported: false,
            code: 3,
            message: format!("{}: {e}", out.display()),
        })?;
        let bar = ProgressBar::new(count as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} bundles {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let entries = write_suite(&out, seed, count, |n| bar.set_position(n as u64))?;
        bar.finish_and_clear();
        return match format {
            Format::Json => json(&serde_json::json!({"ok": true, "out": out, "count": entries.len()})),
            Format::Text | Format::Markdown => {
                println!("wrote {} bundles and suite.json to {}", entries.len(), out.display());
                Ok(())
            }
        };
    }
    let out = a.out.ok_or_else(|| Failure { reported: false, code: 2, message: "--out DIR is required".into() })?;
    let config = SimConfig::default()
        .with_seed(a.seed)
        .with_scenario(Scenario::parse(&a.scenario)?)
        .with_services(a.services)
        .with_pods_per_service(a.pods)
        .with_history_hours(a.history_hours)
        .with_after_minutes(a.after_minutes)
        .with_step_secs(a.step_secs)
        .with_log_minutes_before(a.log_minutes)
        .with_log_rate(a.log_rate)
        .with_knowledge(!a.no_knowledge);
    let inc = generate(&config)?;
    let b = inc.write(&out)?;
    match format {
        Format::Json => {
            json(&serde_json::json!({"ok": true, "out": out, "incident": b.incident().id, "truth": inc.truth}))
        }
        Format::Text | Format::Markdown => {
            println!(
                "wrote {} ({}, {} files) to {}",
                b.incident().id,
                human_bytes(inc.size_bytes() as u64),
                inc.files.len(),
                out.display()
            );
            println!("ground truth: {} ({})", inc.truth.root_cause_service, a.scenario);
            Ok(())
        }
    }
}
