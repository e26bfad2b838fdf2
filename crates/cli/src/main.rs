//! The `faultlens` command-line tool.
//!
//! Exit codes: 0 success; 1 the command ran and found a problem (an invalid bundle, an
//! integrity mismatch); 2 usage error; 3 the command could not run (I/O, decoding).

mod analyze_cmd;
mod approve_cmd;
mod audit_cmd;
mod bundle_cmd;
mod demo;
mod detect_cmd;
mod dora_cmd;
mod judge_cmd;
mod logs_cmd;
mod output;
mod plan_cmd;
mod preflight_cmd;
mod report_cmd;
mod run_cmd;
mod sim_cmd;
mod slo_cmd;
mod verify_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Output format for commands that print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Format {
    /// Readable text.
    #[default]
    Text,
    /// JSON, for machines.
    Json,
    /// Markdown (`analyze`; other commands print text).
    Markdown,
}

const EXIT_CODES: &str = "Exit codes: 0 success; 1 a problem was found (invalid bundle, integrity mismatch); \
2 usage error; 3 the command could not run (I/O or decoding error).";

#[derive(Debug, Parser)]
#[command(name = "faultlens", version, about = "Evidence-cited root-cause analysis for incidents", after_help = EXIT_CODES)]
struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate, inspect or seal an incident bundle.
    Bundle {
        #[command(subcommand)]
        action: bundle_cmd::BundleAction,
    },
    /// Detect anomalies in metric series.
    Detect {
        #[command(subcommand)]
        action: detect_cmd::DetectAction,
    },
    /// Mine log templates.
    Logs {
        #[command(subcommand)]
        action: logs_cmd::LogsAction,
    },
    /// Analyse an incident bundle: ranked root-cause hypotheses with evidence, counter-evidence,
    /// what was ruled out, next checks and runbook citations (`--format json|markdown`).
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Judge a canary against its baseline with a Kayenta canary config (exit 0 pass, 1 marginal
    /// or fail, 2 insufficient data).
    Judge(judge_cmd::JudgeArgs),
    /// Verify a change of a bundle: before against after, new version against old (exit 0
    /// promote, 1 roll back, 2 hold).
    Verify(verify_cmd::VerifyArgs),
    /// Write the analysis of a bundle as an incident report (self-contained HTML with SVG
    /// timelines, Markdown and/or PDF).
    Report(report_cmd::ReportArgs),
    /// DORA's four keys from deployments and incidents, with their tiers.
    Dora(dora_cmd::DoraArgs),
    /// SLOs: Prometheus rules in Sloth's naming, error budget, burn-rate alerts.
    Slo {
        #[command(subcommand)]
        action: slo_cmd::SloAction,
    },
    /// Fix plans for the top hypotheses of a bundle: steps with dry-run, apply, rollback and
    /// verification commands, risk and blast radius (JSON and shell scripts).
    Plan(plan_cmd::PlanArgs),
    /// Preflight gates of a plan: policies, dry run, error budget, change windows, blast radius
    /// (exit 0 pass, 1 block, 2 insufficient evidence).
    Preflight(preflight_cmd::PreflightArgs),
    /// Rego policies: conftest-style tests of files, Gatekeeper suite verification.
    Policy {
        #[command(subcommand)]
        action: preflight_cmd::PolicyAction,
    },
    /// Approve a plan: a signed approval bound to the plan's content hash.
    Approve(approve_cmd::ApproveArgs),
    /// Check a plan's approvals against an approval policy (exit 0 approved, 1 not).
    Approvals(approve_cmd::ApprovalsArgs),
    /// The signed, hash-chained audit log: make a key, append an entry, verify a log (exit 0
    /// intact, 1 tampered, naming the first bad entry).
    Audit {
        #[command(subcommand)]
        action: audit_cmd::AuditAction,
    },
    /// Execute an approved plan: dry run by default, `--apply` to change; every command is
    /// audited (exit 0 succeeded, 1 refused or failed).
    Run(run_cmd::RunArgs),
    /// GitOps patches: a branch, a commit and the pull-request payload.
    Gitops {
        #[command(subcommand)]
        action: plan_cmd::GitopsAction,
    },
    /// Generate simulated incident bundles with ground truth.
    Sim(sim_cmd::SimArgs),
    /// Run the analysis on the bundled demo incident and print a readable summary.
    Demo {
        /// The bundle to analyse (default: examples/bundles/bad-deploy, or a freshly simulated
        /// copy of it when run outside the repository).
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
}

/// An error that carries its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    /// The command already printed its result (a verdict carried by the exit code): the
    /// message goes to standard error only, so JSON output stays one document.
    pub(crate) reported: bool,
}

impl Failure {
    /// A verdict whose result is already printed.
    pub(crate) fn verdict(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), reported: true }
    }
}

/// The wall-clock time, for records of actions (approvals, audit entries); analysis never
/// reads the clock.
pub(crate) fn now() -> faultlens::core::Timestamp {
    faultlens::core::Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    )
}

/// The time given to `--flag` (RFC 3339, `YYYY-MM-DD HH:MM:SS` or a Unix number); anything
/// else is a usage error (exit 2).
pub(crate) fn time_flag(flag: &str, s: &str) -> Result<faultlens::core::Timestamp, Failure> {
    faultlens::core::Timestamp::parse_lenient(s).ok_or_else(|| Failure {
        reported: false,
        code: 2,
        message: format!("--{flag}: `{s}` is not a time"),
    })
}

/// Reads an input file; failing to is an input error (exit 3) naming the file.
pub(crate) fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| file_error(path, e))
}

/// An input or output error (exit 3) naming the file.
pub(crate) fn file_error(path: &std::path::Path, e: impl std::fmt::Display) -> Failure {
    Failure { reported: false, code: 3, message: format!("{}: {e}", path.display()) }
}

impl From<faultlens::core::Error> for Failure {
    fn from(e: faultlens::core::Error) -> Self {
        use faultlens::core::ErrorKind;
        let code = match e.kind() {
            ErrorKind::InvalidManifest | ErrorKind::InvalidSource | ErrorKind::IntegrityMismatch => 1,
            _ => 3,
        };
        Self { reported: false, code, message: e.to_string() }
    }
}

impl From<faultlens::sim::Error> for Failure {
    fn from(e: faultlens::sim::Error) -> Self {
        match e {
            faultlens::sim::Error::InvalidConfig { .. } => Self { reported: false, code: 2, message: e.to_string() },
            faultlens::sim::Error::Bundle(b) => b.into(),
            other => Self { reported: false, code: 3, message: other.to_string() },
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bundle { action } => bundle_cmd::run(action, cli.format),
        Command::Detect { action } => detect_cmd::run(action, cli.format),
        Command::Logs { action } => logs_cmd::run(action, cli.format),
        Command::Analyze(args) => analyze_cmd::run(args, cli.format),
        Command::Judge(args) => judge_cmd::run(args, cli.format),
        Command::Slo { action } => slo_cmd::run(action, cli.format),
        Command::Dora(args) => dora_cmd::run(args, cli.format),
        Command::Report(args) => report_cmd::run(args, cli.format),
        Command::Verify(args) => verify_cmd::run(args, cli.format),
        Command::Sim(args) => sim_cmd::run(args, cli.format),
        Command::Audit { action } => audit_cmd::run(action, cli.format),
        Command::Approve(args) => approve_cmd::approve(args),
        Command::Plan(args) => plan_cmd::run(args, cli.format),
        Command::Preflight(args) => preflight_cmd::preflight_run(args),
        Command::Policy { action } => preflight_cmd::policy(action, cli.format),
        Command::Run(args) => run_cmd::run_plan(args, cli.format),
        Command::Gitops { action } => plan_cmd::gitops(action),
        Command::Approvals(args) => approve_cmd::check(args, cli.format),
        Command::Demo { bundle } => demo::run(bundle, cli.format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if cli.format == Format::Json && !f.reported {
                println!("{}", serde_json::json!({"ok": false, "exit_code": f.code, "error": f.message}));
            } else {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
