//! The runner: executes a plan only when its exact hash carries enough valid approvals, only
//! commands on the allowlist, in allowed namespaces and contexts, dry run first and (by
//! default) dry run only, each command under a timeout, every outcome and its output written
//! to the audit log.
//!
//! Commands run as a program with arguments, never through a shell. An [`Executor`] does the
//! running, so tests (and embedders with their own sandbox) can supply theirs;
//! [`ProcessExecutor`] runs real processes.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use faultlens_core::{ContentHash, Timestamp};
use serde::{Deserialize, Serialize};

use crate::approval::{Approval, ApprovalPolicy, evaluate};
use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::plan::{Action, Plan, PlanError};
use crate::shell::Cmd;

/// Dry run only, or the change itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunMode {
    /// Only each step's dry-run commands.
    #[default]
    DryRun,
    /// Each step's dry run, then its change, then its verification.
    Apply,
}

/// What the runner may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerConfig {
    /// Programs that may run.
    pub allow_programs: Vec<String>,
    /// Kubernetes namespaces steps may act in (none by default: name them).
    pub allow_namespaces: Vec<String>,
    /// kubeconfig contexts steps may use (a step without a context uses the current one, which
    /// must then be allowed as `""`).
    pub allow_contexts: Vec<String>,
    /// Dry run or apply.
    pub mode: RunMode,
    /// Longest a command may run, in seconds.
    pub timeout_s: u64,
    /// Output kept per stream in the audit log, in bytes (the hash covers all of it).
    pub max_output: usize,
    /// Run a failed step's rollback commands.
    pub rollback_on_failure: bool,
    /// Directory commands run in (playbooks are written here).
    pub workdir: PathBuf,
    /// Who the audit log names as acting.
    pub actor: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            allow_programs: ["kubectl", "helm", "terraform", "ansible-playbook", "ansible", "git", "faultlens"]
                .map(str::to_owned)
                .to_vec(),
            allow_namespaces: Vec::new(),
            allow_contexts: vec![String::new()],
            mode: RunMode::DryRun,
            timeout_s: 300,
            max_output: 16 * 1024,
            rollback_on_failure: true,
            workdir: PathBuf::from("."),
            actor: "faultlens-runner".to_owned(),
        }
    }
}

impl RunnerConfig {
    /// Allows these namespaces.
    #[must_use]
    pub fn with_namespaces(mut self, ns: Vec<String>) -> Self {
        self.allow_namespaces = ns;
        self
    }

    /// Allows these contexts.
    #[must_use]
    pub fn with_contexts(mut self, ctx: Vec<String>) -> Self {
        self.allow_contexts = ctx;
        self
    }

    /// Allows these programs.
    #[must_use]
    pub fn with_programs(mut self, programs: Vec<String>) -> Self {
        self.allow_programs = programs;
        self
    }

    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: RunMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn with_timeout_s(mut self, s: u64) -> Self {
        self.timeout_s = s;
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn with_workdir(mut self, dir: PathBuf) -> Self {
        self.workdir = dir;
        self
    }
}

/// What one command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executed {
    /// Exit code (`None` when killed or not started).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error (or why it did not start).
    pub stderr: Vec<u8>,
    /// Whether the timeout killed it.
    pub timed_out: bool,
}

impl Executed {
    /// Exit code 0 within the time.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// Runs commands.
pub trait Executor {
    /// Runs `cmd` in `dir`, killing it after `timeout`.
    fn exec(&mut self, cmd: &Cmd, dir: &std::path::Path, timeout: Duration) -> Executed;
}

/// Runs commands as child processes (no shell), output captured, killed at the timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessExecutor;

impl Executor for ProcessExecutor {
    fn exec(&mut self, cmd: &Cmd, dir: &std::path::Path, timeout: Duration) -> Executed {
        let failed = |e: std::io::Error| Executed {
            code: None,
            stdout: Vec::new(),
            stderr: e.to_string().into_bytes(),
            timed_out: false,
        };
        let mut child = match std::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        // Drain both pipes on threads so a chatty command cannot block on a full pipe.
        let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
        let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
        let start = Instant::now();
        let (code, timed_out) = loop {
            match child.try_wait() {
                Ok(Some(status)) => break (status.code(), false),
                Ok(None) if start.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break (None, true);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return failed(e),
            }
        };
        Executed { code, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default(), timed_out }
    }
}

/// Why a plan was not run, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The approvals given do not approve this plan's hash.
    #[error("plan {plan} is not approved: {}", missing.join("; "))]
    NotApproved {
        /// The plan hash.
        plan: ContentHash,
        /// What is missing, and why approvals did not count.
        missing: Vec<String>,
    },
    /// A command, namespace or context is not allowed.
    #[error("plan {plan} asks for what is not allowed: {}", refused.join("; "))]
    NotAllowed {
        /// The plan hash.
        plan: ContentHash,
        /// Each refusal.
        refused: Vec<String>,
    },
    /// The plan cannot be hashed or rendered.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The audit log could not be written: nothing runs without it.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Writing a playbook failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One command the runner ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRun {
    /// The step (from 1).
    pub step: u32,
    /// `dry-run`, `apply`, `verify` or `rollback`.
    pub phase: String,
    /// The command as a shell would read it.
    pub command: String,
    /// Exit code.
    pub code: Option<i32>,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// Whether it succeeded.
    pub ok: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The plan's id.
    pub plan: String,
    /// The plan's hash.
    pub plan_hash: ContentHash,
    /// Dry run or apply.
    pub mode: RunMode,
    /// The approvers who counted.
    pub approved_by: Vec<String>,
    /// Every command run, in order.
    pub commands: Vec<CommandRun>,
    /// Whether every command succeeded.
    pub succeeded: bool,
    /// The step that failed, if any.
    pub failed_step: Option<u32>,
    /// Whether the failed step was rolled back (all its rollback commands succeeded).
    pub rolled_back: Option<bool>,
}

fn truncated(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let cut = text.floor_char_boundary(max);
    format!("{}… [{} bytes cut]", text.get(..cut).unwrap_or_default(), text.len() - cut)
}

/// Checks every command of the plan against the allowlists; the refusals.
fn refusals(plan: &Plan, config: &RunnerConfig) -> Vec<String> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let cmds = step.dry_run.iter().chain(&step.apply).chain(&step.verify.commands).chain(&step.rollback);
        for c in cmds {
            if !config.allow_programs.contains(&c.program) {
                out.push(format!("step {}: program `{}` is not on the allowlist", step.index, c.program));
            }
        }
        if !step.namespace.is_empty() && !config.allow_namespaces.contains(&step.namespace) {
            out.push(format!("step {}: namespace `{}` is not allowed", step.index, step.namespace));
        }
        let is_kube = !step.namespace.is_empty();
        let ctx = step.context.clone().unwrap_or_default();
        if is_kube && !config.allow_contexts.contains(&ctx) {
            let shown = if ctx.is_empty() { "the current context".to_owned() } else { format!("context `{ctx}`") };
            out.push(format!("step {}: {shown} is not allowed", step.index));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs `plan` if `approvals` approve its hash under `policy` at `now`, logging to `audit`.
///
/// Nothing runs when the plan is not approved or asks for anything not allowed; both are
/// logged (`run.refused`). Otherwise, for each step: its dry-run commands, then in
/// [`RunMode::Apply`] its apply and verify commands; the first failure stops the run, and in
/// apply mode the failed step's rollback commands run (`rollback_on_failure`). Each command is
/// logged with its exit code, output (truncated, with the SHA-256 of all of it) and timing.
///
/// # Errors
/// [`RunError::NotApproved`], [`RunError::NotAllowed`], or an audit or plan error. A failing
/// command is not an error: the report says which step failed.
pub fn run(
    plan: &Plan,
    approvals: &[Approval],
    policy: &ApprovalPolicy,
    config: &RunnerConfig,
    audit: &mut AuditLog,
    now: Timestamp,
    executor: &mut dyn Executor,
) -> Result<RunReport, RunError> {
    let hash = plan.hash()?;
    let subject = format!("{} {hash}", plan.id);
    let record = |action: &str, detail: BTreeMap<String, String>| AuditRecord {
        at: now,
        actor: config.actor.clone(),
        action: action.to_owned(),
        subject: subject.clone(),
        detail,
    };
    let decision = evaluate(policy, hash, &plan.author, approvals, now);
    if !decision.approved {
        let mut missing = decision.missing.clone();
        missing.extend(
            decision.rejected.iter().map(|r| format!("approval {} by {}: {:?}", r.index, r.approver, r.reason)),
        );
        audit.append(record(
            "run.refused",
            BTreeMap::from([("reason".to_owned(), format!("not approved: {}", missing.join("; ")))]),
        ))?;
        return Err(RunError::NotApproved { plan: hash, missing });
    }
    let refused = refusals(plan, config);
    if !refused.is_empty() {
        audit.append(record("run.refused", BTreeMap::from([("reason".to_owned(), refused.join("; "))])))?;
        return Err(RunError::NotAllowed { plan: hash, refused });
    }
    let mode = match config.mode {
        RunMode::DryRun => "dry-run",
        RunMode::Apply => "apply",
    };
    audit.append(record(
        "run.started",
        BTreeMap::from([("mode".to_owned(), mode.to_owned()), ("approved_by".to_owned(), decision.counted.join(","))]),
    ))?;
    let timeout = Duration::from_secs(config.timeout_s);
    let mut report = RunReport {
        plan: plan.id.clone(),
        plan_hash: hash,
        mode: config.mode,
        approved_by: decision.counted.clone(),
        commands: Vec::new(),
        succeeded: true,
        failed_step: None,
        rolled_back: None,
    };
    let mut exec_phase = |step: u32,
                          phase: &str,
                          cmds: &[Cmd],
                          report: &mut RunReport,
                          audit: &mut AuditLog|
     -> Result<bool, RunError> {
        for c in cmds {
            let command = c.render().map_err(PlanError::from)?;
            let started = Instant::now();
            let out = executor.exec(c, &config.workdir, timeout);
            let ok = out.ok();
            let detail = BTreeMap::from([
                ("step".to_owned(), step.to_string()),
                ("phase".to_owned(), phase.to_owned()),
                ("command".to_owned(), command.clone()),
                ("exit_code".to_owned(), out.code.map_or_else(|| "none".to_owned(), |c| c.to_string())),
                ("timed_out".to_owned(), out.timed_out.to_string()),
                ("duration_ms".to_owned(), started.elapsed().as_millis().to_string()),
                ("stdout".to_owned(), truncated(&out.stdout, config.max_output)),
                ("stderr".to_owned(), truncated(&out.stderr, config.max_output)),
                ("stdout_sha256".to_owned(), ContentHash::of(&out.stdout).to_string()),
                ("stderr_sha256".to_owned(), ContentHash::of(&out.stderr).to_string()),
            ]);
            audit.append(record(&format!("run.{phase}"), detail))?;
            report.commands.push(CommandRun {
                step,
                phase: phase.to_owned(),
                command,
                code: out.code,
                timed_out: out.timed_out,
                ok,
            });
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    };
    for step in &plan.steps {
        if let Action::Ansible { playbook, playbook_yaml, .. } = &step.action {
            let path = config.workdir.join(playbook);
            std::fs::write(&path, playbook_yaml).map_err(|source| RunError::Io { path, source })?;
        }
        let mut ok = exec_phase(step.index, "dry-run", &step.dry_run, &mut report, audit)?;
        let mut applied = false;
        if ok && config.mode == RunMode::Apply {
            applied = true;
            ok = exec_phase(step.index, "apply", &step.apply, &mut report, audit)?
                && exec_phase(step.index, "verify", &step.verify.commands, &mut report, audit)?;
        }
        if !ok {
            report.succeeded = false;
            report.failed_step = Some(step.index);
            if applied && config.rollback_on_failure {
                report.rolled_back = Some(exec_phase(step.index, "rollback", &step.rollback, &mut report, audit)?);
            }
            break;
        }
    }
    audit.append(record(
        "run.finished",
        BTreeMap::from([
            ("succeeded".to_owned(), report.succeeded.to_string()),
            ("failed_step".to_owned(), report.failed_step.map(|s| s.to_string()).unwrap_or_default()),
            ("rolled_back".to_owned(), report.rolled_back.map(|r| r.to_string()).unwrap_or_default()),
        ]),
    ))?;
    Ok(report)
}
