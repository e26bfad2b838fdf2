//! Preflight's policy gate on the simulator's labelled plan corpus: a case labelled to block
//! must block (a false pass is the failure that matters), a case labelled clean must pass, and
//! the rules that block must be exactly the labelled ones. `FAULTLENS_PLAN_CORPUS=N` sets the
//! corpus size (default 300); `make eval-preflight` runs 2,000 cases and prints the table.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use faultlens_core::Timestamp;
use faultlens_remediate::plan::{PlanConfig, plan_for};
use faultlens_remediate::policy::conftest::ConftestConfig;
use faultlens_remediate::policy::{PolicySet, parse_documents};
use faultlens_remediate::preflight::{Gate, PreflightConfig, PreflightInputs, Verdict, preflight};
use faultlens_sim::plans::{plan_corpus, plan_corpus_policies};

#[test]
fn no_false_pass_and_no_false_block_on_the_labelled_corpus() {
    let n: usize = std::env::var("FAULTLENS_PLAN_CORPUS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in plan_corpus_policies() {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let policies =
        PolicySet::load(&[dir.path().to_path_buf()], &ConftestConfig::default().with_all_namespaces(true)).unwrap();
    let config =
        PreflightConfig::default().with_skip(vec![Gate::DryRun, Gate::Budget, Gate::Freeze, Gate::BlastRadius]);
    let inputs_base = PreflightInputs { policies: Some(Ok(policies)), ..PreflightInputs::default() };
    let (mut tp, mut tn, mut false_pass, mut false_block, mut wrong_rules) = (0, 0, 0, 0, 0);
    let mut docs_total = 0;
    let mut times = Vec::with_capacity(n);
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for case in plan_corpus(20261128, n) {
        let plan = plan_for(
            "corpus",
            &case.hypothesis,
            &case.changes,
            &case.topology,
            &PlanConfig::default().with_namespace(&case.namespace),
        )
        .unwrap();
        let mut inputs = inputs_base.clone();
        for (name, text) in &case.manifests {
            inputs.manifests.extend(parse_documents(&PathBuf::from(&case.id).join(name), text).unwrap());
        }
        docs_total += inputs.manifests.len();
        let start = Instant::now();
        let report = preflight(&plan, &inputs, &config, Timestamp::from_millis(0));
        times.push(start.elapsed().as_secs_f64() * 1e3);
        let blocked: BTreeSet<String> =
            report.gates[0].reasons.iter().filter(|r| r.verdict == Verdict::Block).map(|r| r.rule.clone()).collect();
        for r in &case.expected_blocks {
            *by_rule.entry(r.clone()).or_default() += 1;
        }
        let expect_block = !case.expected_blocks.is_empty();
        match (expect_block, report.verdict) {
            (true, Verdict::Block) => tp += 1,
            (false, Verdict::Pass) => tn += 1,
            (true, _) => {
                false_pass += 1;
                eprintln!("FALSE PASS {}: expected {:?}", case.id, case.expected_blocks);
            }
            (false, _) => {
                false_block += 1;
                eprintln!("FALSE BLOCK {}: {:?}", case.id, blocked);
            }
        }
        if blocked != case.expected_blocks {
            wrong_rules += 1;
            eprintln!("RULES {}: expected {:?}, blocked by {:?}", case.id, case.expected_blocks, blocked);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let labelled_block = tp + false_pass;
    let labelled_pass = tn + false_block;
    println!(
        "plan corpus: {n} cases ({docs_total} manifests), {labelled_block} labelled block, {labelled_pass} labelled pass"
    );
    println!("| | cases | wrong | rate |\n|---|---:|---:|---:|");
    println!(
        "| false pass (labelled block, passed) | {labelled_block} | {false_pass} | {:.2}% |",
        100.0 * false_pass as f64 / labelled_block.max(1) as f64
    );
    println!(
        "| false block (labelled pass, blocked) | {labelled_pass} | {false_block} | {:.2}% |",
        100.0 * false_block as f64 / labelled_pass.max(1) as f64
    );
    println!(
        "| blocking rules not exactly the labelled ones | {n} | {wrong_rules} | {:.2}% |",
        100.0 * wrong_rules as f64 / n as f64
    );
    println!("median policy-gate time per case: {median:.2} ms (debug build unless run with --release)");
    for (rule, count) in &by_rule {
        println!("  labelled by {rule}: {count} cases");
    }
    assert_eq!(by_rule.len(), 8, "every rule of the corpus policies is exercised: {by_rule:?}");
    assert!(labelled_block > n / 5 && labelled_pass > n / 5, "the corpus must hold both labels");
    assert_eq!((false_pass, false_block, wrong_rules), (0, 0, 0));
}
