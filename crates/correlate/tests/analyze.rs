//! End-to-end analysis of simulated incidents whose ground truth is known (the analysis never
//! sees it: `Bundle::decode` drops it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use faultlens_core::{
    Bundle, ChangeEvent, ChangeKind, HypothesisKind, Incident, IncidentData, Labels, MetricSeries, TimeRange,
    Timestamp, Topology,
};
use faultlens_correlate::{AnalyzeConfig, ChangeVerdict, REPORT_FORMAT, analyze};
use faultlens_sim::{Scenario, SimConfig, generate};
use proptest::prelude::*;

fn simulate(scenario: Scenario, seed: u64) -> (IncidentData, faultlens_sim::Truth) {
    let dir = tempfile::tempdir().unwrap();
    let inc = generate(&SimConfig::default().with_seed(seed).with_scenario(scenario)).unwrap();
    inc.write(dir.path()).unwrap();
    let data = Bundle::load(dir.path()).unwrap().decode().unwrap();
    (data, inc.truth)
}

#[test]
fn a_bad_deploy_is_blamed_on_its_change_with_evidence_and_citations() {
    let (data, truth) = simulate(Scenario::BadDeploy, 1);
    let r = analyze(&data, &AnalyzeConfig::default()).unwrap();
    assert_eq!(r.format, REPORT_FORMAT);
    let top = &r.hypotheses[0];
    assert_eq!(top.rank, 1);
    assert_eq!(top.kind, HypothesisKind::Change);
    assert_eq!(top.service.as_deref(), Some(truth.root_cause_service.as_str()));
    assert_eq!(top.change_id, truth.root_cause_change);
    assert!(top.confidence.get() > 0.5);
    // the metric evidence cites the root's series, the change its record, each with a hash
    let ev = top.evidence.as_slice();
    assert!(ev.iter().any(|e| e.query.contains(&truth.root_cause_service) && e.range.is_some()));
    assert!(ev.iter().any(|e| Some(&e.query) == truth.root_cause_change.as_ref()));
    assert!(ev.iter().all(|e| e.id.starts_with("ev-")));
    // the callers it explains are ruled out, and the runbooks are cited with their lines
    assert!(top.ruled_out.iter().any(|x| x.reason.contains("follows")));
    assert!(!top.next_checks.is_empty());
    assert!(!top.citations.is_empty());
    for c in &top.citations {
        assert!(c.line_start <= c.line_end && !c.matched_terms.is_empty());
        assert!(c.score >= AnalyzeConfig::default().min_citation_score);
    }
}

#[test]
fn the_innocent_latest_change_is_ruled_out() {
    let (data, truth) = simulate(Scenario::InnocentLatestChange, 2);
    let r = analyze(&data, &AnalyzeConfig::default()).unwrap();
    assert_eq!(r.hypotheses[0].change_id, truth.root_cause_change);
    let latest = data.changes.iter().filter(|c| c.at <= data.incident.detected_at).max_by_key(|c| c.at).unwrap();
    assert_ne!(Some(&latest.id), truth.root_cause_change.as_ref());
    let scored = r.changes.iter().find(|c| c.change.id == latest.id).unwrap();
    assert_eq!(scored.verdict, ChangeVerdict::RuledOut, "{:?}", scored.reasons);
}

#[test]
fn faults_without_a_change_name_the_service_and_its_kind() {
    for (scenario, seed, kinds) in [
        (Scenario::MemoryLeak, 3, &[HypothesisKind::Resource, HypothesisKind::Service, HypothesisKind::Dependency][..]),
        (
            Scenario::CpuExhaustion,
            4,
            &[HypothesisKind::Resource, HypothesisKind::Service, HypothesisKind::Dependency][..],
        ),
        (Scenario::DependencyOutage, 5, &[HypothesisKind::Dependency, HypothesisKind::Service][..]),
    ] {
        let (data, truth) = simulate(scenario, seed);
        let r = analyze(&data, &AnalyzeConfig::default()).unwrap();
        let top = &r.hypotheses[0];
        assert_eq!(top.service.as_deref(), Some(truth.root_cause_service.as_str()), "{scenario:?}");
        assert!(kinds.contains(&top.kind), "{scenario:?}: {:?}", top.kind);
    }
}

#[test]
fn reports_are_byte_identical_across_runs() {
    let (data, _) = simulate(Scenario::ConfigChange, 6);
    let a = analyze(&data, &AnalyzeConfig::default()).unwrap();
    let b = analyze(&data, &AnalyzeConfig::default()).unwrap();
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    assert_eq!(a.to_markdown(), b.to_markdown());
    // and it reads back (floats to within serde_json's parsing precision)
    let back: faultlens_correlate::Report = serde_json::from_str(&a.to_json().unwrap()).unwrap();
    assert_eq!(back.hypotheses.len(), a.hypotheses.len());
    for (x, y) in back.hypotheses.iter().zip(&a.hypotheses) {
        assert_eq!((&x.service, &x.change_id, &x.evidence), (&y.service, &y.change_id, &y.evidence));
        assert!((x.confidence.get() - y.confidence.get()).abs() < 1e-12);
    }
}

#[test]
fn leaving_changes_out_gives_no_change_hypothesis() {
    let (data, _) = simulate(Scenario::BadDeploy, 7);
    let r = analyze(&data, &AnalyzeConfig::default().with_use_changes(false)).unwrap();
    assert!(r.hypotheses.iter().all(|h| h.kind != HypothesisKind::Change && h.change_id.is_none()));
    assert!(r.changes.is_empty());
    assert!(r.notes.iter().any(|n| n.contains("left out")));
}

fn incident(series: Vec<MetricSeries>, changes: Vec<ChangeEvent>, topology: Topology) -> IncidentData {
    let t0 = Timestamp::from_millis(0);
    let det = Timestamp::from_millis(100 * 60_000);
    let mut data = IncidentData::new(Incident {
        id: "t".into(),
        title: None,
        detected_at: det,
        window: TimeRange::new(t0, Timestamp::from_millis(130 * 60_000)).unwrap(),
        services: vec!["web".into()],
    });
    (data.series, data.changes, data.topology) = (series, changes, topology);
    data
}

/// A change at minute `m` of the incident.
fn change(id: &str, m: i64, service: &str, kind: ChangeKind, to: &str) -> ChangeEvent {
    ChangeEvent {
        id: id.into(),
        at: Timestamp::from_millis(m * 60_000),
        service: service.into(),
        kind,
        from: None,
        to: Some(to.into()),
        source: None,
        author: None,
        description: None,
    }
}

fn series(name: &str, service: &str, f: impl Fn(i64) -> f64) -> MetricSeries {
    let ts: Vec<i64> = (0..130).map(|m| m * 60_000).collect();
    let vs = ts.iter().map(|&t| f(t / 60_000)).collect();
    MetricSeries::new(name, Labels::from_pairs([("service", service)]), ts, vs).unwrap()
}

#[test]
fn errors_propagate_to_callers_and_the_callee_is_blamed() {
    let wobble = |m: i64| 0.01 + 0.001 * ((m * 7919) % 13) as f64;
    let db = series("http_errors_ratio", "db", move |m| if m >= 95 { 0.5 } else { wobble(m) });
    let web = series("http_errors_ratio", "web", move |m| if m >= 95 { 0.45 } else { wobble(m + 3) });
    let topo = Topology::from_edges([("web", "db")]);
    let r = analyze(&incident(vec![web, db], Vec::new(), topo), &AnalyzeConfig::default()).unwrap();
    assert_eq!(r.hypotheses[0].service.as_deref(), Some("db"));
    assert_eq!(r.hypotheses[0].kind, HypothesisKind::Dependency);
    let web_h = r.hypotheses.iter().find(|h| h.service.as_deref() == Some("web")).unwrap();
    assert!(!web_h.counter_evidence.is_empty(), "web's hypothesis cites db's anomaly against it");
}

#[test]
fn of_two_equally_anomalous_roots_the_one_that_explains_more_leads() {
    // web calls a load balancer and a search service; search and a worker call a store. The
    // balancer and the store fail alike; the store accounts for search's and worker's errors too.
    let wobble = |m: i64| 0.01 + 0.001 * ((m * 7919) % 13) as f64;
    let bad = move |level: f64| move |m: i64| if m >= 95 { level } else { wobble(m) };
    let data = incident(
        vec![
            series("http_errors_ratio", "lb", bad(0.5)),
            series("http_errors_ratio", "store", bad(0.5)),
            series("http_errors_ratio", "search", bad(0.45)),
            series("http_errors_ratio", "worker", bad(0.45)),
            series("http_errors_ratio", "web", bad(0.45)),
        ],
        Vec::new(),
        Topology::from_edges([("web", "lb"), ("web", "search"), ("search", "store"), ("worker", "store")]),
    );
    let top = |config: &AnalyzeConfig| analyze(&data, config).unwrap().hypotheses[0].service.clone();
    assert_eq!(top(&AnalyzeConfig::default()).as_deref(), Some("store"));
    // without the explanatory weight the two roots tie, and the name decides
    assert_eq!(top(&AnalyzeConfig::default().with_explains_weight(0.0)).as_deref(), Some("lb"));
}

#[test]
fn empty_and_nan_input_give_a_report_without_hypotheses() {
    let r = analyze(&incident(Vec::new(), Vec::new(), Topology::new()), &AnalyzeConfig::default()).unwrap();
    assert!(r.hypotheses.is_empty());
    assert!(r.notes.iter().any(|n| n.contains("no metric series")));
    let nan = series("latency_seconds", "web", |_| f64::NAN);
    let r = analyze(&incident(vec![nan], Vec::new(), Topology::new()), &AnalyzeConfig::default()).unwrap();
    assert!(r.hypotheses.is_empty());
    assert!(r.to_markdown().contains("No hypothesis"));
}

#[test]
fn settings_out_of_range_are_refused() {
    let data = incident(Vec::new(), Vec::new(), Topology::new());
    for bad in [
        AnalyzeConfig::default().with_temperature(0.0),
        AnalyzeConfig::default().with_lead_fraction(2.0),
        AnalyzeConfig::default().with_max_hypotheses(0),
        AnalyzeConfig::default().with_min_z(f64::NAN),
        AnalyzeConfig::default().with_explains_weight(-1.0),
    ] {
        assert!(matches!(analyze(&data, &bad), Err(faultlens_correlate::Error::Config { .. })));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the data: ranks run 1..n, confidences are in [0, 1] and sum to at most 1, every
    /// hypothesis has evidence, and a change after detection is never blamed.
    #[test]
    fn report_invariants(
        levels in proptest::collection::vec((0.0f64..10.0, -5.0f64..50.0, 0i64..130), 1..5),
        change_at in 0i64..130,
        nan_every in 0usize..7,
    ) {
        let names = ["web", "api", "db", "cache", "auth"];
        let mut all = Vec::new();
        for (i, &(base, jump, at)) in levels.iter().enumerate() {
            let svc = names[i % names.len()];
            all.push(series("http_errors_ratio", svc, move |m| {
                if nan_every > 0 && (m as usize).is_multiple_of(nan_every + 3) { return f64::NAN; }
                let noise = 0.05 * ((m * 31 + i as i64 * 17) % 11) as f64;
                base + noise + if m >= at { jump } else { 0.0 }
            }));
        }
        let change = change("c1", change_at, "api", ChangeKind::Deploy, "v2");
        let topo = Topology::from_edges([("web", "api"), ("api", "db"), ("api", "cache"), ("web", "auth")]);
        let data = incident(all, vec![change], topo);
        let r = analyze(&data, &AnalyzeConfig::default()).unwrap();
        let mut sum = 0.0;
        for (i, h) in r.hypotheses.iter().enumerate() {
            prop_assert_eq!(h.rank as usize, i + 1);
            let c = h.confidence.get();
            prop_assert!((0.0..=1.0).contains(&c));
            sum += c;
            prop_assert!(!h.evidence.as_slice().is_empty());
            if h.change_id.is_some() {
                prop_assert!(change_at * 60_000 <= data.incident.detected_at.as_millis());
            }
        }
        prop_assert!(sum <= 1.0 + 1e-9);
        let again = analyze(&data, &AnalyzeConfig::default()).unwrap();
        prop_assert_eq!(r.to_json().unwrap(), again.to_json().unwrap());
    }
}

/// One pod's series over minutes `from..130`.
fn pod_series(name: &str, service: &str, pod: &str, version: &str, from: i64, f: impl Fn(i64) -> f64) -> MetricSeries {
    let ts: Vec<i64> = (from..130).map(|m| m * 60_000).collect();
    let vs = ts.iter().map(|&t| f(t / 60_000)).collect();
    let labels = Labels::from_pairs([("service", service), ("pod", pod), ("version", version)]);
    MetricSeries::new(name, labels, ts, vs).unwrap()
}

/// A canary of `api` (version v2, from minute 90, beside two v1 pods): `canary_bad` and
/// `old_bad` say which pods' errors rise from minute 91; `db` (which api calls) fails with
/// the old pods when they do.
fn canary(canary_bad: bool, old_bad: bool) -> IncidentData {
    let wobble = |m: i64| 0.01 + 0.001 * ((m * 7919) % 13) as f64;
    let errors = move |bad: bool, k: i64| move |m: i64| if bad && m >= 91 { 0.4 } else { wobble(m + k) };
    let series = vec![
        pod_series("http_errors_ratio", "api", "api-a", "v1", 0, errors(old_bad, 1)),
        pod_series("http_errors_ratio", "api", "api-b", "v1", 0, errors(old_bad, 2)),
        pod_series("http_errors_ratio", "api", "api-c", "v2", 90, errors(canary_bad, 3)),
        pod_series("http_errors_ratio", "db", "db-0", "d1", 0, errors(old_bad, 4)),
        pod_series("http_errors_ratio", "web", "web-0", "w1", 0, errors(true, 5)),
    ];
    let changes = vec![
        change("deploy-api-v2", 90, "api", ChangeKind::Deploy, "v2"),
        change("config-db", 89, "db", ChangeKind::Config, "pool=20"),
    ];
    incident(series, changes, Topology::from_edges([("web", "api"), ("api", "db")]))
}

#[test]
fn an_anomaly_on_the_new_version_only_convicts_the_release() {
    use faultlens_correlate::split::SplitVerdict;
    let r = analyze(&canary(true, false), &AnalyzeConfig::default()).unwrap();
    let deploy = r.changes.iter().find(|c| c.change.id == "deploy-api-v2").unwrap();
    let split = deploy.version_split.as_ref().expect("v1 and v2 ran side by side");
    assert_eq!(split.verdict, SplitVerdict::NewOnly);
    assert!(split.new_z >= 3.0 && split.other_z < 3.0, "{split:?}");
    assert_eq!((split.new_series, split.other_series), (1, 2));
    assert_eq!(deploy.verdict, ChangeVerdict::Suspect);
    let top = &r.hypotheses[0];
    assert_eq!(top.change_id.as_deref(), Some("deploy-api-v2"));
    assert!(top.evidence.as_slice().iter().any(|e| e.query.contains("version=\"v2\"")), "{:?}", top.evidence);
}

#[test]
fn an_anomaly_shared_by_the_old_version_argues_against_the_release() {
    use faultlens_correlate::split::SplitVerdict;
    let shared = analyze(&canary(true, true), &AnalyzeConfig::default()).unwrap();
    let deploy = shared.changes.iter().find(|c| c.change.id == "deploy-api-v2").unwrap();
    let split = deploy.version_split.as_ref().unwrap();
    assert_eq!(split.verdict, SplitVerdict::Both);
    assert!(deploy.reasons.iter().any(|r| r.contains("other versions' pods too")), "{:?}", deploy.reasons);
    // the same incident with the canary alone failing scores the release higher
    let alone = analyze(&canary(true, false), &AnalyzeConfig::default()).unwrap();
    let alone_score = alone.changes.iter().find(|c| c.change.id == "deploy-api-v2").unwrap().score;
    assert!(deploy.score < alone_score, "{} vs {alone_score}", deploy.score);
    assert_ne!(shared.hypotheses[0].change_id.as_deref(), Some("deploy-api-v2"));
    // a deploy that replaced every pod at once gives no split
    let mut whole = canary(true, false);
    whole.series.retain(|s| s.labels().get("pod") != Some("api-a") && s.labels().get("pod") != Some("api-b"));
    let r = analyze(&whole, &AnalyzeConfig::default()).unwrap();
    assert!(r.changes.iter().all(|c| c.version_split.is_none()));
}

/// A surge entering at `web` reaches `search`, deployed a minute before: `search` gets more
/// requests (and, when `retries`, fails and is retried).
fn surge_with_a_prompt_deploy(retries: bool) -> IncidentData {
    let wobble = move |m: i64, k: i64| 1.0 + 0.02 * (((m + k) * 7919) % 13) as f64;
    let rate = move |base: f64, k: i64| move |m: i64| base * wobble(m, k) * if m >= 95 { 3.0 } else { 1.0 };
    let errors = move |m: i64| 0.01 * wobble(m, 9) + if retries && m >= 95 { 0.3 } else { 0.0 };
    let series = vec![
        series("http_requests_rate", "web", rate(100.0, 1)),
        series("http_requests_rate", "search", rate(40.0, 2)),
        series("http_errors_ratio", "search", errors),
        series("http_errors_ratio", "web", move |m| 0.01 * wobble(m, 5)),
    ];
    let deploy = change("deploy-search", 94, "search", ChangeKind::Deploy, "v2");
    incident(series, vec![deploy], Topology::from_edges([("web", "search")]))
}

#[test]
fn a_prompt_deploy_does_not_explain_the_load_a_surge_sends() {
    let r = analyze(&surge_with_a_prompt_deploy(false), &AnalyzeConfig::default()).unwrap();
    assert_eq!(r.hypotheses[0].service.as_deref(), Some("web"), "{:?}", r.hypotheses[0]);
    let deploy = r.changes.iter().find(|c| c.change.id == "deploy-search").unwrap();
    assert!(deploy.reasons.iter().any(|x| x.contains("but web explains it")), "{:?}", deploy.reasons);
    // failing and retried, the deployed service's extra traffic can be its own doing
    let r = analyze(&surge_with_a_prompt_deploy(true), &AnalyzeConfig::default()).unwrap();
    let deploy = r.changes.iter().find(|c| c.change.id == "deploy-search").unwrap();
    assert!(
        deploy.reasons.iter().any(|x| x.contains("no dependency explains it") || x.contains("better than")),
        "{:?}",
        deploy.reasons
    );
}
