//! `faultlens approve PLAN` and `faultlens approvals PLAN`: sign an approval of a plan's
//! content hash, and check a plan's approvals against a policy.

use std::path::PathBuf;

use clap::Args;
use faultlens::remediate::approval::{Approval, evaluate};

use crate::{Failure, Format};

/// Arguments of `faultlens approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The plan file (from `faultlens plan`): the approval is bound to the plan's content hash.
    plan: PathBuf,
    /// The approver's secret key file (from `faultlens audit keygen`).
    #[arg(long)]
    key_file: PathBuf,
    /// The approver's name, as the policy lists it.
    #[arg(long)]
    approver: String,
    /// Minutes until the approval lapses (the policy's limit applies too).
    #[arg(long)]
    expires_in_min: Option<i64>,
    /// Append the approval (one JSON line) to this file instead of printing it.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Arguments of `faultlens approvals`.
#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    /// The plan file.
    plan: PathBuf,
    /// The approval policy (JSON: approvers with keys and roles, required, required_roles,
    /// author_may_approve, max_age_ms).
    #[arg(long)]
    policy: PathBuf,
    /// The approvals, one JSON object per line.
    #[arg(long)]
    approvals: PathBuf,
    /// Who wrote the plan (default: the plan's author).
    #[arg(long)]
    author: Option<String>,
    /// Evaluate at this time (default: now).
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn approve(a: ApproveArgs) -> Result<(), Failure> {
    let (_, plan) = crate::plan_cmd::load_plan(&a.plan)?;
    let key = crate::audit_cmd::key_file(&a.key_file)?;
    let at = crate::now();
    let expires = a.expires_in_min.map(|m| at.add_millis(m.saturating_mul(60_000)));
    let approval = Approval::sign(plan, a.approver, at, expires, &key);
    let line = serde_json::to_string(&approval).unwrap_or_default();
    match &a.output {
        None => println!("{line}"),
        Some(path) => {
            let io = |e: std::io::Error| crate::file_error(path, e);
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
            std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).map_err(io)?;
        }
    }
    Ok(())
}

pub(crate) fn check(a: ApprovalsArgs, format: Format) -> Result<(), Failure> {
    let (loaded, plan) = crate::plan_cmd::load_plan(&a.plan)?;
    let policy = crate::run_cmd::read_policy(&a.policy)?;
    let approvals = crate::run_cmd::read_approvals(&a.approvals)?;
    let author = a.author.unwrap_or(loaded.author);
    let at = match &a.at {
        Some(t) => crate::time_flag("at", t)?,
        None => crate::now(),
    };
    let d = evaluate(&policy, plan, &author, &approvals, at);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default()),
        _ => {
            println!("plan {plan}: {}", if d.approved { "approved" } else { "NOT approved" });
            println!("  counted: {}", if d.counted.is_empty() { "none".into() } else { d.counted.join(", ") });
            for r in &d.rejected {
                println!("  approval {} by {}: does not count: {}", r.index + 1, r.approver, r.reason);
            }
            for m in &d.missing {
                println!("  missing: {m}");
            }
        }
    }
    if d.approved { Ok(()) } else { Err(Failure::verdict(1, "not approved")) }
}
