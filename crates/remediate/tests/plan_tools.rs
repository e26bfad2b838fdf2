//! Plans against real tools: scripts run by `sh` with stub programs hand every command exactly
//! its arguments, whatever telemetry put in them; shellcheck accepts every script;
//! `ansible-playbook --syntax-check` accepts every playbook; the objects plans write are valid
//! Kubernetes objects (k8s-openapi).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use faultlens_core::{ChangeKind, HypothesisKind, Topology};
use faultlens_remediate::plan::{Action, DeployFix, GitopsConfig, Plan, PlanConfig, PlanError, ScriptMode, plan_for};
use proptest::prelude::*;

mod common;

fn hypothesis(kind: HypothesisKind, service: &str, change: Option<&str>) -> faultlens_core::Hypothesis {
    let mut h = faultlens_sim::plans::hypothesis(kind, service, change);
    h.summary = format!("{service} $(broke)\nrm -rf /");
    h
}

fn change(kind: ChangeKind, from: &str, to: &str) -> faultlens_core::ChangeEvent {
    common::change("c:1", kind, from, to)
}

/// A plan of every kind of step, with `value` wherever telemetry reaches a command.
fn plans(value: &str) -> Vec<Plan> {
    let topo = Topology::from_edges([("frontend", "billing")]);
    let gitops = Some(GitopsConfig { github: Some("shop/deploy".into()), ..GitopsConfig::default() });
    let mut out = Vec::new();
    for fix in [DeployFix::RolloutUndo, DeployFix::SetImage, DeployFix::HelmRollback, DeployFix::HelmUpgrade] {
        let cfg =
            PlanConfig::default().with_deploy_fix(fix).with_gitops(gitops.clone()).with_context(Some(value.into()));
        let c = change(ChangeKind::Deploy, &format!("v1{value}"), &format!("v2{value}"));
        out.push(
            plan_for("inc", &hypothesis(HypothesisKind::Change, "billing", Some("c:1")), &[c], &topo, &cfg).unwrap(),
        );
    }
    let cfg = PlanConfig::default().with_gitops(gitops);
    let c = change(ChangeKind::Config, &format!("key{value}=old{value}"), &format!("key{value}=new{value}"));
    out.push(plan_for("inc", &hypothesis(HypothesisKind::Change, "billing", Some("c:1")), &[c], &topo, &cfg).unwrap());
    let c = change(ChangeKind::Infra, "", &format!("aws_instance.web{value}"));
    out.push(plan_for("inc", &hypothesis(HypothesisKind::Change, "billing", Some("c:1")), &[c], &topo, &cfg).unwrap());
    out.push(plan_for("inc", &hypothesis(HypothesisKind::Resource, "billing", None), &[], &topo, &cfg).unwrap());
    let ansible = cfg.clone().with_ansible_hosts(Some(format!("web{value}")));
    out.push(plan_for("inc", &hypothesis(HypothesisKind::Service, "billing", None), &[], &topo, &ansible).unwrap());
    out
}

/// A directory of stub programs that append their arguments (NUL-terminated, then a record
/// separator) to `$FAULTLENS_STUB_LOG`.
fn stubs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for p in ["kubectl", "helm", "terraform", "git", "faultlens", "ansible-playbook", "ansible"] {
        let path = dir.path().join(p);
        std::fs::write(
            &path,
            format!("#!/bin/sh\n{{ printf '%s\\0' {p} \"$@\"; printf '\\036'; }} >> \"$FAULTLENS_STUB_LOG\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Where a hostile value that ran would leave its mark.
const CANARY: &str = "/tmp/faultlens-plan-pwned";

fn hostile() -> impl Strategy<Value = String> {
    common::hostile(CANARY)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Whatever telemetry holds, every script runs each command with exactly its arguments.
    #[test]
    fn scripts_pass_exactly_the_planned_arguments(value in hostile()) {
        let bin = stubs();
        for plan in plans(&value) {
            for mode in [ScriptMode::DryRun, ScriptMode::Apply, ScriptMode::Rollback] {
                let log = bin.path().join("log");
                let _ = std::fs::remove_file(&log);
                let script = plan.script(mode).unwrap();
                let out = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&script)
                    .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
                    .env("FAULTLENS_STUB_LOG", &log)
                    .output()
                    .unwrap();
                prop_assert!(out.status.success(), "{}\n{}", script, String::from_utf8_lossy(&out.stderr));
                let ran = std::fs::read(&log).unwrap_or_default();
                let got: Vec<Vec<String>> = ran
                    .split(|&b| b == 0x1e)
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        let mut words: Vec<String> = r.split(|&b| b == 0).map(|w| String::from_utf8(w.to_vec()).unwrap()).collect();
                        words.pop();
                        words
                    })
                    .collect();
                let steps: Vec<_> = if mode == ScriptMode::Rollback { plan.steps.iter().rev().collect() } else { plan.steps.iter().collect() };
                let want: Vec<Vec<String>> = steps
                    .into_iter()
                    .flat_map(|s| match mode {
                        ScriptMode::DryRun => s.dry_run.clone(),
                        ScriptMode::Apply => [s.dry_run.clone(), s.apply.clone(), s.verify.commands.clone()].concat(),
                        ScriptMode::Rollback => s.rollback.clone(),
                    })
                    .map(|c| std::iter::once(c.program).chain(c.args).collect())
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
        prop_assert!(!Path::new(CANARY).exists());
    }

    /// Names that are not Kubernetes names never reach a command.
    #[test]
    fn hostile_service_names_are_refused(value in hostile()) {
        let service = format!("billing{value}");
        prop_assume!(faultlens_remediate::plan::k8s_name("s", &service).is_err());
        let r = plan_for("inc", &hypothesis(HypothesisKind::Service, &service, None), &[], &Topology::new(), &PlanConfig::default());
        let refused = matches!(r, Err(PlanError::BadName { .. }));
        prop_assert!(refused);
    }
}

#[test]
fn every_script_passes_shellcheck() {
    if !common::tool("shellcheck") {
        return;
    }
    for value in ["", "$(id)", "it's \"x\"", "a\nb"] {
        for plan in plans(value) {
            for mode in [ScriptMode::DryRun, ScriptMode::Apply, ScriptMode::Rollback] {
                common::assert_shellcheck(&plan.script(mode).unwrap());
            }
        }
    }
}

#[test]
fn every_playbook_passes_the_syntax_check_and_is_never_templated() {
    if !common::tool("ansible-playbook") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for value in ["", "{{ lookup('pipe', 'id') }}", "it's: a \"value\"", "{% raw %}"] {
        let plan = plans(value).pop().unwrap();
        let Action::Ansible { playbook_yaml, playbook, .. } = &plan.steps[0].action else {
            panic!("not an Ansible step")
        };
        assert!(playbook_yaml.contains("!unsafe"), "{playbook_yaml}");
        let path = dir.path().join(playbook);
        std::fs::write(&path, playbook_yaml).unwrap();
        let out = Command::new("ansible-playbook")
            .args(["--syntax-check", "--inventory", "localhost,"])
            .arg(&path)
            .env("ANSIBLE_LOCAL_TEMP", dir.path())
            .env("ANSIBLE_HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{playbook_yaml}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn objects_plans_write_are_valid_kubernetes_objects() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    let mut checked = 0;
    for plan in plans("x") {
        for obj in plan.objects() {
            match obj["kind"].as_str() {
                Some("Deployment") => {
                    let d: Deployment = serde_json::from_value(obj.clone()).unwrap();
                    assert!(d.spec.replicas.is_some());
                }
                Some("ConfigMap") => {
                    let c: ConfigMap = serde_json::from_value(obj.clone()).unwrap();
                    assert_eq!(c.data.unwrap().len(), 1);
                }
                other => panic!("unexpected object kind {other:?}"),
            }
            checked += 1;
        }
        // Merge patches, with what they patch, are objects of that kind too.
        for step in &plan.steps {
            if let Action::Patch { patch, undo_patch, .. } = &step.action {
                let _: ConfigMap = serde_json::from_value(patch.clone()).unwrap();
                let _: ConfigMap = serde_json::from_value(undo_patch.clone()).unwrap();
            }
        }
    }
    assert!(checked >= 2);
}
