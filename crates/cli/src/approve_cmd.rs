//! `faultlens approve PLAN` and `faultlens approvals PLAN`: sign an approval of a plan's exact
//! bytes, and check a plan's approvals against a policy.

use std::path::PathBuf;

use clap::Args;
use faultlens::core::ContentHash;
use faultlens::remediate::approval::{Approval, ApprovalPolicy, evaluate};

use crate::{Failure, Format};

/// Arguments of `faultlens approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The plan file: the approval is bound to its content hash.
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
    /// Who wrote the plan.
    #[arg(long)]
    author: String,
    /// Evaluate at this time (default: now).
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn approve(a: ApproveArgs) -> Result<(), Failure> {
    let plan = ContentHash::of(&crate::read_input(&a.plan)?);
    let key = crate::audit_cmd::key_file(&a.key_file)?;
    let at = crate::now();
    let expires = a.expires_in_min.map(|m| at.add_millis(m.saturating_mul(60_000)));
    let approval = Approval::sign(plan, a.approver, at, expires, &key);
    let line = serde_json::to_string(&approval).unwrap_or_default();
    match &a.output {
        None => println!("{line}"),
        Some(path) => {
            let io =
                |e: std::io::Error| Failure { reported: false, code: 3, message: format!("{}: {e}", path.display()) };
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
            std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).map_err(io)?;
        }
    }
    Ok(())
}

pub(crate) fn check(a: ApprovalsArgs, format: Format) -> Result<(), Failure> {
    let plan = ContentHash::of(&crate::read_input(&a.plan)?);
    let input =
        |path: &PathBuf, e: String| Failure { reported: false, code: 3, message: format!("{}: {e}", path.display()) };
    let policy: ApprovalPolicy =
        serde_json::from_slice(&crate::read_input(&a.policy)?).map_err(|e| input(&a.policy, e.to_string()))?;
    let text = String::from_utf8_lossy(&crate::read_input(&a.approvals)?).into_owned();
    let mut approvals = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let approval: Approval =
            serde_json::from_str(line).map_err(|e| input(&a.approvals, format!("line {}: {e}", i + 1)))?;
        approvals.push(approval);
    }
    let at = match &a.at {
        Some(t) => crate::time_flag("at", t)?,
        None => crate::now(),
    };
    let d = evaluate(&policy, plan, &a.author, &approvals, at);
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
