//! `faultlens run PLAN`: execute an approved plan (dry run by default), audited.

use std::path::PathBuf;

use clap::Args;
use faultlens::remediate::approval::{Approval, ApprovalPolicy};
use faultlens::remediate::audit::AuditLog;
use faultlens::remediate::runner::{ProcessExecutor, RunError, RunMode, RunnerConfig, run};

use crate::{Failure, Format};

/// Arguments of `faultlens run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plan (JSON, from `faultlens plan`).
    plan: PathBuf,
    /// The approvals, one JSON object per line (from `faultlens approve`).
    #[arg(long)]
    approvals: PathBuf,
    /// The approval policy (JSON).
    #[arg(long)]
    approval_policy: PathBuf,
    /// The audit log to append to.
    #[arg(long)]
    audit: PathBuf,
    /// The runner's secret key file, signing its audit entries.
    #[arg(long)]
    key_file: PathBuf,
    /// Make the change (default: dry run only).
    #[arg(long)]
    apply: bool,
    /// Namespaces steps may act in (repeatable; none by default).
    #[arg(long)]
    allow_namespace: Vec<String>,
    /// kubeconfig contexts steps may use (repeatable; default: only the current context).
    #[arg(long)]
    allow_context: Vec<String>,
    /// Programs that may run (repeatable; default kubectl, helm, terraform, ansible-playbook,
    /// ansible, git, faultlens).
    #[arg(long)]
    allow_program: Vec<String>,
    /// Seconds each command may take.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Directory the commands run in (playbooks are written here).
    #[arg(long, default_value = ".")]
    workdir: PathBuf,
    /// Evaluate approvals at this time (default: now).
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn read_approvals(path: &std::path::Path) -> Result<Vec<Approval>, Failure> {
    let text = String::from_utf8_lossy(&crate::read_input(path)?).into_owned();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        out.push(serde_json::from_str(line).map_err(|e| Failure {
            reported: false,
            code: 3,
            message: format!("{}: line {}: {e}", path.display(), i + 1),
        })?);
    }
    Ok(out)
}

pub(crate) fn read_policy(path: &std::path::Path) -> Result<ApprovalPolicy, Failure> {
    serde_json::from_slice(&crate::read_input(path)?).map_err(|e| Failure {
        reported: false,
        code: 3,
        message: format!("{}: {e}", path.display()),
    })
}

pub(crate) fn run_plan(a: RunArgs, format: Format) -> Result<(), Failure> {
    let (plan, _) = crate::plan_cmd::load_plan(&a.plan)?;
    let approvals = read_approvals(&a.approvals)?;
    let policy = read_policy(&a.approval_policy)?;
    let key = crate::audit_cmd::key_file(&a.key_file)?;
    let mut log =
        AuditLog::open(&a.audit, key).map_err(|e| Failure { reported: false, code: 3, message: e.to_string() })?;
    let at = match &a.at {
        Some(t) => crate::time_flag("at", t)?,
        None => crate::now(),
    };
    let mut config = RunnerConfig::default()
        .with_namespaces(a.allow_namespace)
        .with_mode(if a.apply { RunMode::Apply } else { RunMode::DryRun })
        .with_timeout_s(a.timeout)
        .with_workdir(a.workdir);
    if !a.allow_context.is_empty() {
        config = config.with_contexts(a.allow_context);
    }
    if !a.allow_program.is_empty() {
        config = config.with_programs(a.allow_program);
    }
    let report = match run(&plan, &approvals, &policy, &config, &mut log, at, &mut ProcessExecutor) {
        Ok(r) => r,
        Err(e @ (RunError::NotApproved { .. } | RunError::NotAllowed { .. })) => {
            return Err(Failure {
                reported: false,
                code: 1,
                message: format!("{e} (logged in {})", a.audit.display()),
            });
        }
        Err(e) => return Err(Failure { reported: false, code: 3, message: e.to_string() }),
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
        _ => {
            let mode = if a.apply { "apply" } else { "dry run" };
            println!(
                "{} ({mode}), approved by {}: {}",
                report.plan,
                report.approved_by.join(", "),
                if report.succeeded { "succeeded" } else { "FAILED" }
            );
            for c in &report.commands {
                let status = if c.timed_out {
                    "timed out".to_owned()
                } else {
                    c.code.map_or_else(|| "did not start".to_owned(), |c| format!("exit {c}"))
                };
                println!("  step {} {:<8} {:<12} {}", c.step, c.phase, status, c.command);
            }
            if let Some(r) = report.rolled_back {
                println!("  rolled back: {}", if r { "yes" } else { "NO, the rollback failed" });
            }
            println!("  audit: {}", a.audit.display());
        }
    }
    if report.succeeded { Ok(()) } else { Err(Failure::verdict(1, "a command failed")) }
}
