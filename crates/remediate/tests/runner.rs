//! The runner: approvals bound to the plan hash, allowlists, dry run first, rollback on
//! failure, and everything in the audit log.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use faultlens_core::{ChangeKind, HypothesisKind, Timestamp, Topology};
use faultlens_remediate::approval::{Approval, ApprovalPolicy, Approver};
use faultlens_remediate::audit::{AuditKey, AuditLog, verify_log};
use faultlens_remediate::plan::{Plan, PlanConfig, plan_for};
use faultlens_remediate::runner::{Executed, Executor, ProcessExecutor, RunError, RunMode, RunnerConfig, run};
use faultlens_remediate::shell::Cmd;

/// Records commands; fails the ones whose rendering contains `fail_on`.
#[derive(Default)]
struct Fake {
    ran: Vec<String>,
    fail_on: Option<String>,
}

impl Executor for Fake {
    fn exec(&mut self, cmd: &Cmd, _dir: &Path, _t: Duration) -> Executed {
        let text = cmd.render().unwrap();
        let fail = self.fail_on.as_ref().is_some_and(|f| text.contains(f.as_str()));
        self.ran.push(text);
        Executed { code: Some(i32::from(fail)), stdout: b"ok\n".to_vec(), stderr: Vec::new(), timed_out: false }
    }
}

mod common;

const NOW: Timestamp = Timestamp::from_millis(1_790_000_000_000);

fn plan() -> Plan {
    let h = faultlens_sim::plans::hypothesis(HypothesisKind::Change, "billing", Some("d:1"));
    let c = common::change("d:1", ChangeKind::Deploy, "v1", "v2");
    plan_for("inc", &h, &[c], &Topology::new(), &PlanConfig::default().with_namespace("shop")).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    log: AuditLog,
    log_path: std::path::PathBuf,
    policy: ApprovalPolicy,
    alice: AuditKey,
    bob: AuditKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&log_path, AuditKey::generate().unwrap()).unwrap();
    let alice = AuditKey::generate().unwrap();
    let bob = AuditKey::generate().unwrap();
    let policy = ApprovalPolicy::new(
        vec![
            Approver { name: "alice".into(), key: alice.public_hex(), roles: vec!["sre".into()] },
            Approver { name: "bob".into(), key: bob.public_hex(), roles: vec![] },
        ],
        2,
    );
    Setup { _dir: dir, log, log_path, policy, alice, bob }
}

impl Setup {
    /// The plan, approved by both approvers.
    fn approved_plan(&self) -> (Plan, [Approval; 2]) {
        let p = plan();
        let h = p.hash().unwrap();
        let approvals =
            [Approval::sign(h, "alice", NOW, None, &self.alice), Approval::sign(h, "bob", NOW, None, &self.bob)];
        (p, approvals)
    }
}

fn config() -> RunnerConfig {
    RunnerConfig::default().with_namespaces(vec!["shop".into()])
}

#[test]
fn an_approved_plan_runs_dry_run_only_by_default() {
    let mut s = setup();
    let (p, approvals) = s.approved_plan();
    let mut fake = Fake::default();
    let r = run(&p, &approvals, &s.policy, &config(), &mut s.log, NOW, &mut fake).unwrap();
    assert!(r.succeeded);
    assert_eq!(r.approved_by, ["alice", "bob"]);
    assert_eq!(fake.ran, ["kubectl --namespace shop rollout undo deployment/billing --dry-run=server"]);
    let bytes = std::fs::read(&s.log_path).unwrap();
    let v = verify_log(&bytes, &[], None);
    assert!(v.first_bad.is_none());
    assert_eq!(v.verified, 3); // started, one command, finished
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\"action\":\"run.dry-run\"") && text.contains("stdout_sha256"));
}

#[test]
fn apply_runs_dry_run_then_change_then_verify_and_rolls_back_a_failure() {
    let mut s = setup();
    let (p, approvals) = s.approved_plan();
    let mut fake = Fake::default();
    let r = run(&p, &approvals, &s.policy, &config().with_mode(RunMode::Apply), &mut s.log, NOW, &mut fake).unwrap();
    assert!(r.succeeded);
    let phases: Vec<&str> = r.commands.iter().map(|c| c.phase.as_str()).collect();
    assert_eq!(phases, ["dry-run", "apply", "verify"]);

    let mut failing = Fake { fail_on: Some("rollout status".into()), ..Fake::default() };
    let r = run(&p, &approvals, &s.policy, &config().with_mode(RunMode::Apply), &mut s.log, NOW, &mut failing).unwrap();
    assert!(!r.succeeded);
    assert_eq!(r.failed_step, Some(1));
    assert_eq!(r.rolled_back, Some(true));
    assert_eq!(r.commands.last().unwrap().phase, "rollback");

    // A failed dry run stops before any change.
    let mut dry_fail = Fake { fail_on: Some("--dry-run".into()), ..Fake::default() };
    let r =
        run(&p, &approvals, &s.policy, &config().with_mode(RunMode::Apply), &mut s.log, NOW, &mut dry_fail).unwrap();
    assert_eq!(dry_fail.ran.len(), 1);
    assert_eq!(r.rolled_back, None);
}

#[test]
fn approvals_must_match_the_exact_plan_hash() {
    let mut s = setup();
    let (p, approvals) = s.approved_plan();
    // One approval short.
    let mut fake = Fake::default();
    let e = run(&p, &approvals[..1], &s.policy, &config(), &mut s.log, NOW, &mut fake).unwrap_err();
    assert!(matches!(e, RunError::NotApproved { .. }));
    // The plan edited after approval: a different hash, so nothing counts.
    let mut edited = p.clone();
    edited.steps[0].apply[0].args.push("--to-revision=1".into());
    let e = run(&edited, &approvals, &s.policy, &config(), &mut s.log, NOW, &mut fake).unwrap_err();
    assert!(matches!(e, RunError::NotApproved { .. }), "{e}");
    assert!(fake.ran.is_empty());
    let text = std::fs::read_to_string(&s.log_path).unwrap();
    assert_eq!(text.matches("run.refused").count(), 2);
}

#[test]
fn allowlists_refuse_before_anything_runs() {
    let mut s = setup();
    let (p, approvals) = s.approved_plan();
    let mut fake = Fake::default();
    let e = run(&p, &approvals, &s.policy, &RunnerConfig::default(), &mut s.log, NOW, &mut fake).unwrap_err();
    assert!(e.to_string().contains("namespace `shop` is not allowed"), "{e}");
    let e = run(&p, &approvals, &s.policy, &config().with_programs(vec!["helm".into()]), &mut s.log, NOW, &mut fake)
        .unwrap_err();
    assert!(e.to_string().contains("program `kubectl` is not on the allowlist"), "{e}");
    let e = run(&p, &approvals, &s.policy, &config().with_contexts(vec!["prod".into()]), &mut s.log, NOW, &mut fake)
        .unwrap_err();
    assert!(e.to_string().contains("the current context is not allowed"), "{e}");
    assert!(fake.ran.is_empty());
}

#[test]
fn the_process_executor_captures_output_and_enforces_the_timeout() {
    let dir = std::env::temp_dir();
    let mut x = ProcessExecutor;
    let ok = x.exec(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), &dir, Duration::from_secs(10));
    assert_eq!((ok.code, ok.stdout.as_slice(), ok.stderr.as_slice()), (Some(3), &b"out\n"[..], &b"err\n"[..]));
    let slow = x.exec(&Cmd::new("sleep").arg("5"), &dir, Duration::from_millis(200));
    assert!(slow.timed_out && !slow.ok());
    let missing = x.exec(&Cmd::new("faultlens-no-such-program"), &dir, Duration::from_secs(1));
    assert_eq!(missing.code, None);
}
