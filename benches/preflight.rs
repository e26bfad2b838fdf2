//! Preflight (issue 7): 1,000 manifests against 50 policies (10 conftest packages of Rego and
//! 40 Gatekeeper constraints over 3 templates), compiled once; one plan with a few manifests;
//! and the policy engine alone (one Rego rule, one Gatekeeper review).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::core::Timestamp;
use faultlens::remediate::plan::{PlanConfig, plan_for};
use faultlens::remediate::policy::conftest::ConftestConfig;
use faultlens::remediate::policy::{Document, PolicySet, parse_documents};
use faultlens::remediate::preflight::{Gate, PreflightConfig, PreflightInputs, preflight};
use faultlens::sim::plans::{plan_corpus, plan_corpus_policies};

/// 10 Rego packages (the corpus's workload rules under 8 more names, and the plan rules) and
/// 40 constraints (the corpus's 3 templates, each constrained 13 or 14 times with other names).
fn fifty_policies(dir: &Path) -> usize {
    let mut count = 0;
    for (name, text) in plan_corpus_policies() {
        if name.ends_with(".rego") {
            std::fs::write(dir.join(&name), &text).unwrap();
            count += 1;
            if name == "workloads.rego" {
                for i in 0..8 {
                    let copy = text.replace("package main", &format!("package workloads{i}"));
                    std::fs::write(dir.join(format!("workloads{i}.rego")), copy).unwrap();
                    count += 1;
                }
            }
            continue;
        }
        let (template, constraint) = text.split_once("---\n").unwrap();
        std::fs::write(dir.join(&name), template).unwrap();
        let per = if name.starts_with("privileged") { 14 } else { 13 };
        let mut constraints = String::new();
        for i in 0..per {
            let renamed = constraint.replacen("  name: ", &format!("  name: c{i}-"), 1);
            constraints.push_str("---\n");
            constraints.push_str(&renamed);
            count += 1;
        }
        std::fs::write(dir.join(format!("constraints-{name}")), constraints).unwrap();
    }
    count
}

fn manifests(n: usize) -> Vec<Document> {
    let mut out = Vec::new();
    for case in plan_corpus(3, 4 * n) {
        for (name, text) in &case.manifests {
            out.extend(parse_documents(&PathBuf::from(&case.id).join(name), text).unwrap());
        }
        if out.len() >= n {
            break;
        }
    }
    out.truncate(n);
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let n_policies = fifty_policies(dir.path());
    assert_eq!(n_policies, 50);
    let policies =
        PolicySet::load(&[dir.path().to_path_buf()], &ConftestConfig::default().with_all_namespaces(true)).unwrap();
    assert_eq!(policies.constraints.len(), 40);
    let case = plan_corpus(1, 1).remove(0);
    let plan = plan_for(
        "bench",
        &case.hypothesis,
        &case.changes,
        &case.topology,
        &PlanConfig::default().with_namespace("shop"),
    )
    .unwrap();
    let config = PreflightConfig::default().with_skip(vec![Gate::DryRun, Gate::Budget, Gate::Freeze]);
    let many = PreflightInputs {
        policies: Some(Ok(policies.clone())),
        manifests: manifests(1000),
        ..PreflightInputs::default()
    };
    let few =
        PreflightInputs { policies: Some(Ok(policies.clone())), manifests: manifests(3), ..PreflightInputs::default() };

    let mut g = c.benchmark_group("preflight");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000_manifests_50_policies", |b| {
        b.iter(|| preflight(&plan, &many, &config, Timestamp::from_millis(0)));
    });
    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    g.bench_function("one_plan_3_manifests_50_policies", |b| {
        b.iter(|| preflight(&plan, &few, &config, Timestamp::from_millis(0)));
    });
    g.bench_function("load_and_compile_50_policies", |b| {
        b.iter(|| {
            PolicySet::load(&[dir.path().to_path_buf()], &ConftestConfig::default().with_all_namespaces(true)).unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
