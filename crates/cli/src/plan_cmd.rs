//! `faultlens plan BUNDLE`: fix plans for the top hypotheses of a bundle's analysis, and
//! `faultlens gitops apply`: the GitOps step's patch, commit and pull-request payload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use faultlens::core::{Bundle, ContentHash, LoadOptions};
use faultlens::correlate::{AnalyzeConfig, analyze};
use faultlens::remediate::gitops::{GitopsPatch, apply};
use faultlens::remediate::plan::{DeployFix, GitopsConfig, Plan, PlanConfig, PlanError, ScriptMode, plan_for};

use crate::{Failure, Format};

/// Arguments of `faultlens plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The bundle directory (or its manifest).
    bundle: PathBuf,
    /// Plans for this many top hypotheses (those with no safe action are reported and skipped).
    #[arg(long, default_value_t = 1)]
    top: usize,
    /// Kubernetes namespace of the services.
    #[arg(long)]
    namespace: Option<String>,
    /// kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// How a bad deploy is undone.
    #[arg(long, value_enum)]
    deploy_fix: Option<DeployFixArg>,
    /// Also revert deploys and configuration in this GitOps repository (a local clone).
    #[arg(long)]
    gitops_repo: Option<String>,
    /// `owner/name` of the GitOps repository on GitHub (for the pull-request payload).
    #[arg(long)]
    github: Option<String>,
    /// Plan settings as JSON (`PlanConfig`; missing fields keep their defaults; flags win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write `plan-N.json`, `plan-N.sh` (dry run), `plan-N.apply.sh`, `plan-N.rollback.sh` and
    /// any playbooks here, instead of printing the plans.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

/// `--deploy-fix` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DeployFixArg {
    RolloutUndo,
    SetImage,
    HelmRollback,
    HelmUpgrade,
}

/// `faultlens gitops` actions.
#[derive(Debug, Subcommand)]
pub(crate) enum GitopsAction {
    /// Set values in a YAML file on a new branch and commit (or, with --dry-run, show the change).
    Apply(GitopsArgs),
}

/// Arguments of `faultlens gitops apply`.
#[derive(Debug, Args)]
pub(crate) struct GitopsArgs {
    /// The repository (a local clone).
    #[arg(long)]
    repo: PathBuf,
    /// The file, relative to the repository.
    #[arg(long)]
    file: String,
    /// `dotted.key=value` to set (repeatable).
    #[arg(long = "set", required = true)]
    set: Vec<String>,
    /// `dotted.key=value` the file must hold now (repeatable).
    #[arg(long = "expect")]
    expect: Vec<String>,
    /// The branch to create.
    #[arg(long)]
    branch: String,
    /// The branch the pull request targets.
    #[arg(long, default_value = "main")]
    base: String,
    /// Commit message and pull-request title.
    #[arg(long)]
    message: String,
    /// `owner/name` on GitHub.
    #[arg(long)]
    github: Option<String>,
    /// Only check and show the change.
    #[arg(long)]
    dry_run: bool,
}

impl From<PlanError> for Failure {
    fn from(e: PlanError) -> Self {
        let code = if matches!(e, PlanError::NoAction { .. } | PlanError::BadName { .. }) { 1 } else { 3 };
        Self { reported: false, code, message: e.to_string() }
    }
}

/// Reads a plan file; its content hash is the hash of the plan (canonical JSON), so a plan
/// reformatted on disk keeps its approvals and a plan edited in any field loses them.
pub(crate) fn load_plan(path: &Path) -> Result<(Plan, ContentHash), Failure> {
    let text = String::from_utf8(crate::read_input(path)?).map_err(|e| crate::file_error(path, e))?;
    let plan = Plan::from_json(&text).map_err(|e| Failure {
        reported: false,
        code: 3,
        message: format!("{}: {e}", path.display()),
    })?;
    let hash = plan.hash()?;
    Ok((plan, hash))
}

pub(crate) fn run(a: PlanArgs, format: Format) -> Result<(), Failure> {
    let mut config = match &a.config {
        Some(p) => serde_json::from_slice::<PlanConfig>(&crate::read_input(p)?).map_err(|e| Failure {
            reported: false,
            code: 2,
            message: format!("{}: {e}", p.display()),
        })?,
        None => PlanConfig::default(),
    };
    if let Some(ns) = a.namespace {
        config.namespace = ns;
    }
    if a.context.is_some() {
        config.context = a.context;
    }
    if let Some(f) = a.deploy_fix {
        config.deploy_fix = match f {
            DeployFixArg::RolloutUndo => DeployFix::RolloutUndo,
            DeployFixArg::SetImage => DeployFix::SetImage,
            DeployFixArg::HelmRollback => DeployFix::HelmRollback,
            DeployFixArg::HelmUpgrade => DeployFix::HelmUpgrade,
        };
    }
    if let Some(repo) = a.gitops_repo {
        config.gitops = Some(GitopsConfig { repo, github: a.github, ..config.gitops.unwrap_or_default() });
    }
    let data = Bundle::load_decoded(&a.bundle, LoadOptions::default())?.1;
    let report = analyze(&data, &AnalyzeConfig::default())?;
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    for h in report.hypotheses.iter().take(a.top.max(1)) {
        match plan_for(&data.incident.id, h, &data.changes, &data.topology, &config) {
            Ok(p) => plans.push(p),
            Err(e @ PlanError::NoAction { .. }) => skipped.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    for s in &skipped {
        eprintln!("note: {s}");
    }
    if plans.is_empty() {
        return Err(Failure { reported: false, code: 1, message: "no hypothesis has a safe action to plan".into() });
    }
    if let Some(dir) = &a.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| crate::file_error(dir, e))?;
        for p in &plans {
            let base = format!("plan-{}", p.hypothesis_rank);
            let write = |name: String, text: String| {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|e| crate::file_error(&path, e))
            };
            write(format!("{base}.json"), p.to_json()?)?;
            write(format!("{base}.sh"), p.script(ScriptMode::DryRun)?)?;
            write(format!("{base}.apply.sh"), p.script(ScriptMode::Apply)?)?;
            write(format!("{base}.rollback.sh"), p.script(ScriptMode::Rollback)?)?;
            for s in &p.steps {
                if let faultlens::remediate::plan::Action::Ansible { playbook, playbook_yaml, .. } = &s.action {
                    write(playbook.clone(), playbook_yaml.clone())?;
                }
            }
            println!(
                "{}: {} ({} steps, risk {:?}, hash {}) -> {}",
                p.id,
                p.summary,
                p.steps.len(),
                p.risk,
                p.hash()?,
                dir.join(format!("{base}.json")).display()
            );
        }
        return Ok(());
    }
    match format {
        Format::Json if plans.len() == 1 => {
            print!("{}", plans.first().map(Plan::to_json).transpose()?.unwrap_or_default())
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&plans).unwrap_or_default()),
        _ => {
            for p in &plans {
                println!("{} — hypothesis {}: {}", p.id, p.hypothesis_rank, p.summary);
                println!("  hash {}, risk {:?}, blast radius {}", p.hash()?, p.risk, p.blast_radius.join(", "));
                for s in &p.steps {
                    println!("  step {}: {} (risk {:?})", s.index, s.title, s.risk);
                    for c in &s.dry_run {
                        println!("    dry run:  {}", c.render().map_err(PlanError::from)?);
                    }
                    for c in &s.apply {
                        println!("    apply:    {}", c.render().map_err(PlanError::from)?);
                    }
                    for c in &s.rollback {
                        println!("    rollback: {}", c.render().map_err(PlanError::from)?);
                    }
                    if let Some(q) = &s.verify.query {
                        println!("    verify:   {q}: {}", s.verify.expect);
                    }
                }
                if let Some(e) = p.evidence.first() {
                    println!("  evidence: {} {} (sha256 {})", e.source, e.query, e.sha256);
                }
            }
        }
    }
    Ok(())
}

fn pairs(flag: &str, items: &[String]) -> Result<BTreeMap<String, serde_json::Value>, Failure> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=').map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).ok_or_else(|| {
                Failure { reported: false, code: 2, message: format!("--{flag}: `{kv}` is not key=value") }
            })
        })
        .collect()
}

pub(crate) fn gitops(action: GitopsAction) -> Result<(), Failure> {
    let GitopsAction::Apply(a) = action;
    let patch = GitopsPatch {
        repo: a.repo,
        file: a.file,
        set: pairs("set", &a.set)?,
        expect: pairs("expect", &a.expect)?,
        branch: a.branch,
        base: a.base,
        message: a.message,
        github: a.github,
    };
    let out = apply(&patch, a.dry_run).map_err(|e| Failure { reported: false, code: 1, message: e.to_string() })?;
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}
