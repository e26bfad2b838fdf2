//! Preflight gates end to end: policies (conftest and Gatekeeper), dry runs, the error budget,
//! change windows and blast radius, and the output formats.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use faultlens_core::{ChangeKind, HypothesisKind, Timestamp, Topology};
use faultlens_remediate::plan::{Plan, PlanConfig, plan_for};
use faultlens_remediate::policy::conftest::ConftestConfig;
use faultlens_remediate::policy::{PolicySet, parse_documents, read_documents};
use faultlens_remediate::preflight::{
    BudgetInput, DryRun, DryRunInput, FreezeWindow, Gate, OutputFormat, PreflightConfig, PreflightInputs, Verdict,
    parse_dry_run, preflight,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn plan(kind: HypothesisKind, namespace: &str) -> Plan {
    let change = common::change("scale:1", ChangeKind::Scale, "0", "3");
    let h = faultlens_sim::plans::hypothesis(kind, "billing", (kind == HypothesisKind::Change).then_some("scale:1"));
    plan_for(
        "inc",
        &h,
        &[change],
        &Topology::from_edges([("frontend", "billing")]),
        &PlanConfig::default().with_namespace(namespace),
    )
    .unwrap()
}

fn policies() -> PolicySet {
    PolicySet::load(&[fixture("policies")], &ConftestConfig::default().with_all_namespaces(true)).unwrap()
}

fn full_inputs() -> PreflightInputs {
    PreflightInputs {
        policies: Some(Ok(policies())),
        manifests: vec![],
        dry_runs: vec![DryRunInput {
            path: "dry.txt".into(),
            text: std::fs::read_to_string(fixture("server-dry-run.txt")).unwrap(),
        }],
        budget: Some(BudgetInput { remaining: 0.6, burn_rate: 1.2 }),
        freezes: Some(vec![]),
    }
}

mod common;

const AT: Timestamp = Timestamp::from_millis(1_790_000_000_000);

#[test]
fn a_clean_plan_passes_every_gate() {
    let r = preflight(&plan(HypothesisKind::Service, "shop"), &full_inputs(), &PreflightConfig::default(), AT);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.render(OutputFormat::Text));
    assert_eq!(r.verdict.exit_code(), 0);
    assert_eq!(r.gates.len(), 5);
}

#[test]
fn missing_inputs_are_insufficient_never_pass() {
    let p = plan(HypothesisKind::Service, "shop");
    let r = preflight(&p, &PreflightInputs::default(), &PreflightConfig::default(), AT);
    assert_eq!(r.verdict, Verdict::Insufficient);
    assert_eq!(r.verdict.exit_code(), 2);
    for g in &r.gates {
        let want = if g.gate == Gate::BlastRadius { Verdict::Pass } else { Verdict::Insufficient };
        assert_eq!(g.verdict, want, "{:?}", g.gate);
    }
    // NaN budget is not a pass.
    let mut i = full_inputs();
    i.budget = Some(BudgetInput { remaining: f64::NAN, burn_rate: 1.0 });
    assert_eq!(preflight(&p, &i, &PreflightConfig::default(), AT).verdict, Verdict::Insufficient);
    // A skipped gate is reported as skipped.
    let cfg = PreflightConfig::default().with_skip(vec![Gate::Budget, Gate::Freeze, Gate::DryRun, Gate::Policy]);
    let r = preflight(&p, &PreflightInputs::default(), &cfg, AT);
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.skipped.len(), 4);
}

#[test]
fn policies_block_with_the_rule_and_input_cited() {
    // Scaling to zero is denied by data.faultlens.remediation.deny.
    let p = plan(HypothesisKind::Change, "shop");
    let r = preflight(&p, &full_inputs(), &PreflightConfig::default(), AT);
    assert_eq!(r.verdict, Verdict::Block);
    let policy = &r.gates[0];
    let zero = policy.reasons.iter().find(|r| r.rule == "data.faultlens.remediation.deny").unwrap();
    assert_eq!(zero.input, "plan");
    assert!(zero.message.contains("scales billing to zero"), "{}", zero.message);
    assert!(zero.evidence.source.ends_with("remediation.rego"));
    // The plan is cited by the hash approvals sign.
    assert_eq!(zero.evidence.sha256, p.hash().unwrap());
    // The plan's partial objects are not shown to whole-object constraints: this one matched
    // nothing, and says so.
    let gk = policy.reasons.iter().find(|r| r.rule == "K8sMinReplicas/at-least-two").unwrap();
    assert_eq!(gk.verdict, Verdict::Pass);
    assert!(gk.message.contains("matched none of the 1 inputs"), "{}", gk.message);
    // A protected namespace.
    let r = preflight(&plan(HypothesisKind::Service, "kube-system"), &full_inputs(), &PreflightConfig::default(), AT);
    assert!(r.gates[0].reasons.iter().any(|r| r.message.contains("protected namespace kube-system")));
}

#[test]
fn manifests_are_checked_and_constraints_matching_nothing_reported() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:latest\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n";
    let docs = parse_documents(Path::new("k8s/web.yaml"), text).unwrap();
    let mut i = full_inputs();
    i.manifests = docs;
    let r = preflight(&plan(HypothesisKind::Service, "default"), &i, &PreflightConfig::default(), AT);
    let reasons = &r.gates[0].reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.verdict == Verdict::Block && r.input == "k8s/web.yaml" && r.message.contains(":latest"))
    );
    assert!(reasons.iter().any(|r| r.verdict == Verdict::Pass && r.message.contains("no readiness probe")));
    let one = parse_documents(Path::new("k8s/one.yaml"), &text.replace("replicas: 3", "replicas: 1")).unwrap();
    i.manifests = one;
    let r = preflight(&plan(HypothesisKind::Service, "default"), &i, &PreflightConfig::default(), AT);
    let gk = r.gates[0]
        .reasons
        .iter()
        .find(|r| r.rule == "K8sMinReplicas/at-least-two" && r.verdict == Verdict::Block)
        .unwrap();
    assert_eq!(gk.input, "k8s/one.yaml");
    assert!(gk.message.contains("runs 1 replicas, fewer than 2"), "{}", gk.message);
    // Only the Service and the plan are left when the Deployment is gone: the constraint
    // matches nothing, and says so.
    i.manifests =
        parse_documents(Path::new("k8s/svc.yaml"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n").unwrap();
    let r = preflight(&plan(HypothesisKind::Service, "default"), &i, &PreflightConfig::default(), AT);
    assert!(r.gates[0].reasons.iter().any(|r| r.message.contains("matched none of the")));
}

#[test]
fn broken_policies_block() {
    let mut i = full_inputs();
    i.policies = Some(Err("policy/x.rego: parse error".into()));
    let r = preflight(&plan(HypothesisKind::Service, "shop"), &i, &PreflightConfig::default(), AT);
    assert_eq!(r.gates[0].verdict, Verdict::Block);
}

#[test]
fn dry_run_results() {
    let tf = std::fs::read_to_string(fixture("tfplan.json")).unwrap();
    let DryRun::Terraform { destroyed, replaced, drifted, changed } = parse_dry_run(&tf).unwrap() else { panic!() };
    assert_eq!(destroyed, ["aws_s3_bucket.logs"]);
    assert_eq!(replaced, ["aws_db_instance.main"]);
    assert_eq!(drifted, ["aws_security_group.db"]);
    assert_eq!(changed, 1);
    let diff = std::fs::read_to_string(fixture("kubectl-diff.txt")).unwrap();
    assert_eq!(
        parse_dry_run(&diff).unwrap(),
        DryRun::KubectlDiff { objects: vec!["apps.v1.Deployment.shop.billing".into()], deleted: vec![] }
    );
    let del = std::fs::read_to_string(fixture("kubectl-diff-delete.txt")).unwrap();
    let DryRun::KubectlDiff { deleted, .. } = parse_dry_run(&del).unwrap() else { panic!() };
    assert_eq!(deleted, ["v1.ConfigMap.shop.billing-config"]);
    assert!(parse_dry_run("").is_err());
    assert!(parse_dry_run("hello").is_err());
    assert!(parse_dry_run("{\"a\": 1}").is_err());

    let p = plan(HypothesisKind::Service, "shop");
    for (file, want) in [
        ("tfplan.json", Verdict::Block),
        ("kubectl-diff.txt", Verdict::Pass),
        ("kubectl-diff-delete.txt", Verdict::Block),
        ("server-dry-run-error.txt", Verdict::Block),
    ] {
        let mut i = full_inputs();
        i.dry_runs = vec![DryRunInput { path: file.into(), text: std::fs::read_to_string(fixture(file)).unwrap() }];
        assert_eq!(preflight(&p, &i, &PreflightConfig::default(), AT).gates[1].verdict, want, "{file}");
    }
}

#[test]
fn budget_freeze_and_blast_radius_limits() {
    let p = plan(HypothesisKind::Service, "shop");
    let mut i = full_inputs();
    i.budget = Some(BudgetInput { remaining: 0.05, burn_rate: 20.0 });
    let cfg = PreflightConfig::default().with_budget_limits(0.1, 6.0);
    let r = preflight(&p, &i, &cfg, AT);
    assert_eq!(r.gates[2].reasons.iter().filter(|r| r.verdict == Verdict::Block).count(), 2);

    let mut i = full_inputs();
    let window = |services: Vec<String>| FreezeWindow {
        start: Timestamp::from_millis(AT.as_millis() - 1000),
        end: Timestamp::from_millis(AT.as_millis() + 1000),
        reason: "Black Friday".into(),
        services,
    };
    i.freezes = Some(vec![window(vec!["frontend".into()])]);
    assert_eq!(preflight(&p, &i, &PreflightConfig::default(), AT).gates[3].verdict, Verdict::Block);
    i.freezes = Some(vec![window(vec!["search".into()])]);
    assert_eq!(preflight(&p, &i, &PreflightConfig::default(), AT).gates[3].verdict, Verdict::Pass);

    let r = preflight(&p, &full_inputs(), &PreflightConfig::default().with_max_blast_radius(1), AT);
    assert_eq!(r.gates[4].verdict, Verdict::Block);
}

#[test]
fn output_formats() {
    let r = preflight(&plan(HypothesisKind::Change, "shop"), &full_inputs(), &PreflightConfig::default(), AT);
    let junit = r.render(OutputFormat::Junit);
    assert!(junit.starts_with("<?xml") && junit.contains("<failure type=\"block\""));
    let gh = r.render(OutputFormat::Github);
    assert!(gh.lines().any(|l| l.starts_with("::error title=policy block")), "{gh}");
    let sarif: serde_json::Value = serde_json::from_str(&r.render(OutputFormat::Sarif)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"].as_array().unwrap().iter().any(|x| x["level"] == "error"));
    let tap = r.render(OutputFormat::Tap);
    assert!(tap.starts_with("TAP version 13\n1..") && tap.contains("\nnot ok "));
    let json: serde_json::Value = serde_json::from_str(&r.render(OutputFormat::Json)).unwrap();
    assert_eq!(json["verdict"], "block");
}

#[test]
fn conftest_policies_read_terraform_plans() {
    let dir = tempfile::tempdir().unwrap();
    let rego = "package main\nimport rego.v1\ndeny contains msg if {\n  some rc in input.resource_changes\n  rc.type == \"aws_s3_bucket\"\n  \"delete\" in rc.change.actions\n  msg := sprintf(\"%s would be deleted\", [rc.address])\n}\n";
    std::fs::write(dir.path().join("tf.rego"), rego).unwrap();
    let mut i = full_inputs();
    i.policies = Some(Ok(PolicySet::load(&[dir.path().to_path_buf()], &ConftestConfig::default()).unwrap()));
    i.manifests = read_documents(&fixture("tfplan.json")).unwrap();
    let r = preflight(&plan(HypothesisKind::Service, "shop"), &i, &PreflightConfig::default(), AT);
    let deny = r.gates[0].reasons.iter().find(|r| r.verdict == Verdict::Block).unwrap();
    assert_eq!(deny.rule, "data.main.deny");
    assert!(deny.message.contains("aws_s3_bucket.logs would be deleted"), "{}", deny.message);
    assert!(deny.input.ends_with("tfplan.json"));
}
