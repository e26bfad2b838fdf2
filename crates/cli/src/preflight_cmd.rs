//! `faultlens preflight PLAN`: the gates a plan must pass before it may run (exit 0 pass,
//! 1 block, 2 insufficient evidence), and `faultlens policy test|verify`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use faultlens::remediate::plan::Risk;
use faultlens::remediate::policy::conftest::{Conftest, ConftestConfig, Severity};
use faultlens::remediate::policy::gatekeeper::verify_path;
use faultlens::remediate::policy::{Document, PolicySet, read_documents};
use faultlens::remediate::preflight::{
    BudgetInput, DryRunInput, FreezeWindow, Gate, OutputFormat, PreflightConfig, PreflightInputs, preflight,
};
use faultlens::verify::slo::{BurnWindow, error_budget, evaluate_burn};

use crate::slo_cmd::SloInput;
use crate::{Failure, Format};

/// Arguments of `faultlens preflight`.
#[derive(Debug, Args)]
pub(crate) struct PreflightArgs {
    /// The plan (JSON, from `faultlens plan`).
    plan: PathBuf,
    /// Policy files or directories: `.rego` (conftest conventions) and Gatekeeper
    /// ConstraintTemplates with their Constraints (YAML). Repeatable.
    #[arg(long)]
    policy: Vec<PathBuf>,
    /// conftest namespaces to query (default: every package with deny, violation or warn rules).
    #[arg(long)]
    namespace: Vec<String>,
    /// Manifests to check with the policies too: Kubernetes YAML (multi-document),
    /// Helm-rendered manifests, Terraform plan JSON. Repeatable.
    #[arg(long)]
    manifest: Vec<PathBuf>,
    /// Dry-run results: `kubectl diff` or `--dry-run=server` output, `terraform show -json`.
    /// Repeatable.
    #[arg(long)]
    dry_run: Vec<PathBuf>,
    /// The error budget as JSON `{"remaining": 0.4, "burn_rate": 1.2}` (instead of --slo/--events).
    #[arg(long, conflicts_with = "slo")]
    budget: Option<PathBuf>,
    #[command(flatten)]
    slo: SloInput,
    /// Change windows: JSON array of `{"start", "end", "reason", "services"}`.
    #[arg(long)]
    freeze: Option<PathBuf>,
    /// Evaluate at this time (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Leave a gate out (repeatable; the report lists it as skipped).
    #[arg(long, value_enum)]
    skip: Vec<GateArg>,
    /// Least share of the error budget left to proceed.
    #[arg(long, default_value_t = 0.0)]
    min_budget: f64,
    /// Highest burn rate to proceed.
    #[arg(long, default_value_t = 14.4)]
    max_burn_rate: f64,
    /// Most services the plan may affect.
    #[arg(long, default_value_t = 10)]
    max_blast_radius: usize,
    /// Highest plan risk allowed.
    #[arg(long, value_enum, default_value_t = RiskArg::High)]
    max_risk: RiskArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputArg::Text)]
    output: OutputArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GateArg {
    Policy,
    DryRun,
    Budget,
    Freeze,
    BlastRadius,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RiskArg {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputArg {
    Text,
    Json,
    Junit,
    Github,
    Sarif,
    Tap,
}

/// `faultlens policy` actions.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyAction {
    /// Test files with Rego policies, conftest-style (exit 1 on failures).
    Test(PolicyTestArgs),
    /// Run Gatekeeper `gator verify` suites (a suite file or a directory of `suite.yaml`);
    /// prints `N passed, M failed` (exit 1 on failures).
    Verify {
        /// The suite file or directory.
        suite: PathBuf,
    },
}

/// Arguments of `faultlens policy test`.
#[derive(Debug, Args)]
pub(crate) struct PolicyTestArgs {
    /// Files to test (YAML, multi-document, or JSON).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Policy files or directories (default `policy`, as conftest).
    #[arg(long, default_value = "policy")]
    policy: Vec<PathBuf>,
    /// Namespaces to query (default `main`).
    #[arg(long)]
    namespace: Vec<String>,
    /// Query every namespace.
    #[arg(long)]
    all_namespaces: bool,
    /// Test all documents as one input.
    #[arg(long)]
    combine: bool,
}

fn conftest_config(namespaces: &[String], all: bool) -> ConftestConfig {
    if namespaces.is_empty() {
        ConftestConfig::default().with_all_namespaces(all)
    } else {
        ConftestConfig::default().with_namespaces(namespaces.to_vec())
    }
}

pub(crate) fn preflight_run(a: PreflightArgs) -> Result<(), Failure> {
    let (plan, _) = crate::plan_cmd::load_plan(&a.plan)?;
    let at = match &a.at {
        Some(t) => crate::time_flag("at", t)?,
        None => crate::now(),
    };
    let policies = (!a.policy.is_empty())
        .then(|| PolicySet::load(&a.policy, &conftest_config(&a.namespace, true)).map_err(|e| e.to_string()));
    let mut manifests: Vec<Document> = Vec::new();
    for m in &a.manifest {
        manifests.extend(read_documents(m).map_err(|e| crate::file_error(m, e))?);
    }
    let mut dry_runs = Vec::new();
    for d in &a.dry_run {
        let text = String::from_utf8_lossy(&crate::read_input(d)?).into_owned();
        dry_runs.push(DryRunInput { path: d.display().to_string(), text });
    }
    let budget = match (&a.budget, a.slo.load()?) {
        (Some(p), _) => {
            Some(serde_json::from_slice::<BudgetInput>(&crate::read_input(p)?).map_err(|e| crate::file_error(p, e))?)
        }
        (None, Some(loaded)) => {
            let at_ms = at.as_millis();
            let b = error_budget(&loaded.slo, &loaded.events, at_ms)?;
            let burn = evaluate_burn(&loaded.slo, &loaded.events, &BurnWindow::defaults(), at_ms)?;
            let rate = burn.checks.first().and_then(|c| c.long_rate);
            // Data that does not cover the period, or no rate, is not a number to pass on.
            let remaining = b.remaining.filter(|_| b.covered).unwrap_or(f64::NAN);
            Some(BudgetInput { remaining, burn_rate: rate.unwrap_or(f64::NAN) })
        }
        (None, None) => None,
    };
    let freezes = match &a.freeze {
        Some(p) => Some(
            serde_json::from_slice::<Vec<FreezeWindow>>(&crate::read_input(p)?).map_err(|e| crate::file_error(p, e))?,
        ),
        None => None,
    };
    let skip = a
        .skip
        .iter()
        .map(|g| match g {
            GateArg::Policy => Gate::Policy,
            GateArg::DryRun => Gate::DryRun,
            GateArg::Budget => Gate::Budget,
            GateArg::Freeze => Gate::Freeze,
            GateArg::BlastRadius => Gate::BlastRadius,
        })
        .collect();
    let max_risk = match a.max_risk {
        RiskArg::Low => Risk::Low,
        RiskArg::Medium => Risk::Medium,
        RiskArg::High => Risk::High,
    };
    let config = PreflightConfig::default()
        .with_skip(skip)
        .with_budget_limits(a.min_budget, a.max_burn_rate)
        .with_max_blast_radius(a.max_blast_radius)
        .with_max_risk(max_risk);
    let inputs = PreflightInputs { policies, manifests, dry_runs, budget, freezes };
    let report = preflight(&plan, &inputs, &config, at);
    let format = match a.output {
        OutputArg::Text => OutputFormat::Text,
        OutputArg::Json => OutputFormat::Json,
        OutputArg::Junit => OutputFormat::Junit,
        OutputArg::Github => OutputFormat::Github,
        OutputArg::Sarif => OutputFormat::Sarif,
        OutputArg::Tap => OutputFormat::Tap,
    };
    print!("{}", report.render(format));
    match report.verdict.exit_code() {
        0 => Ok(()),
        code => {
            Err(Failure::verdict(u8::try_from(code).unwrap_or(1), format!("preflight: {}", report.verdict.as_str())))
        }
    }
}

pub(crate) fn policy(action: PolicyAction, format: Format) -> Result<(), Failure> {
    match action {
        PolicyAction::Verify { suite } => {
            let report = verify_path(&suite).map_err(|e| crate::file_error(&suite, e))?;
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                for c in report.cases.iter().filter(|c| !c.passed) {
                    println!("FAIL {} / {} / {}", c.suite.display(), c.test, c.case);
                    for f in &c.failures {
                        println!("  {f}");
                    }
                }
            }
            println!("{} passed, {} failed", report.passed(), report.failed());
            if report.failed() > 0 { Err(Failure::verdict(1, "policy suites failed")) } else { Ok(()) }
        }
        PolicyAction::Test(a) => {
            let c = Conftest::load(&a.policy, &conftest_config(&a.namespace, a.all_namespaces).with_combine(a.combine))
                .map_err(|e| Failure { reported: false, code: 1, message: e.to_string() })?;
            let mut docs = Vec::new();
            for p in &a.paths {
                docs.extend(read_documents(p).map_err(|e| crate::file_error(p, e))?);
            }
            let findings = c.test(&docs).map_err(|e| Failure { reported: false, code: 1, message: e.to_string() })?;
            let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
            let (failures, warnings, exceptions) =
                (count(Severity::Failure), count(Severity::Warning), count(Severity::Exception));
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&findings).unwrap_or_default());
            } else {
                for f in &findings {
                    let tag = match f.severity {
                        Severity::Failure => "FAIL",
                        Severity::Warning => "WARN",
                        Severity::Exception => "EXCP",
                    };
                    println!("{tag} - {} - {} - {}", f.input, f.namespace.trim_start_matches("data."), f.msg);
                }
                let rules: usize = c.namespaces().iter().map(|n| n.rules.len()).sum();
                let tests = if a.combine { rules } else { rules * docs.len() };
                println!(
                    "\n{tests} tests, {} passed, {warnings} warnings, {failures} failures, {exceptions} exceptions",
                    tests.saturating_sub(failures + warnings + exceptions)
                );
            }
            if failures > 0 { Err(Failure::verdict(1, format!("{failures} failures"))) } else { Ok(()) }
        }
    }
}
