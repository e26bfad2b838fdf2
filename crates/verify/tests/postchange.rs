//! Post-change verification on simulated incidents (whose truth is known) and on a canary
//! rollout built by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use faultlens_core::{
    Bundle, ChangeEvent, ChangeKind, Incident, IncidentData, Labels, MetricSeries, TimeRange, Timestamp,
};
use faultlens_sim::{Scenario, SimConfig, generate};
use faultlens_verify::postchange::{Decision, VerifyConfig, VerifyError, verify_change};

fn simulate(scenario: Scenario, seed: u64) -> (IncidentData, faultlens_sim::Truth) {
    let dir = tempfile::tempdir().unwrap();
    let inc = generate(&SimConfig::default().with_seed(seed).with_scenario(scenario)).unwrap();
    inc.write(dir.path()).unwrap();
    (Bundle::load(dir.path()).unwrap().decode().unwrap(), inc.truth)
}

#[test]
fn the_guilty_deploy_is_rolled_back_and_the_innocent_one_is_not() {
    let (data, truth) = simulate(Scenario::InnocentLatestChange, 2);
    let guilty = truth.root_cause_change.clone().unwrap();
    let v = verify_change(&data, &guilty, &VerifyConfig::default()).unwrap();
    assert_eq!(v.decision, Decision::Rollback, "{:#?}", v.reasons);
    assert!(v.reasons.iter().any(|r| r.contains("http_errors_ratio")));
    // every judged series is cited with both windows and a hash
    assert!(v.evidence.len() >= 2 && v.evidence.iter().all(|e| e.range.is_some() && !e.source.is_empty()));
    for id in &truth.innocent_changes {
        let v = verify_change(&data, id, &VerifyConfig::default()).unwrap();
        assert_ne!(v.decision, Decision::Rollback, "{id}: {:#?}", v.reasons);
    }
}

#[test]
fn unknown_changes_and_bad_settings_are_errors() {
    let (data, _) = simulate(Scenario::BadDeploy, 1);
    assert!(matches!(verify_change(&data, "nope", &VerifyConfig::default()), Err(VerifyError::UnknownChange(_))));
    let id = data.changes[0].id.clone();
    assert!(verify_change(&data, &id, &VerifyConfig::default().with_window_ms(0)).is_err());
}

fn pod(name: &str, version: &str, from_min: i64, f: impl Fn(i64) -> f64) -> MetricSeries {
    let ts: Vec<i64> = (from_min..120).map(|m| m * 60_000).collect();
    let vs = ts.iter().map(|&t| f(t / 60_000)).collect();
    let labels = Labels::from_pairs([("service", "api"), ("pod", name), ("version", version)]);
    MetricSeries::new("http_errors_ratio", labels, ts, vs).unwrap()
}

fn rollout(canary_bad: bool) -> IncidentData {
    let wobble = |m: i64| 0.01 + 0.001 * ((m * 7919) % 13) as f64;
    let canary = move |m: i64| if canary_bad { 0.3 + wobble(m) } else { wobble(m + 1) };
    let mut data = IncidentData::new(Incident {
        id: "rollout".into(),
        title: None,
        detected_at: Timestamp::from_millis(119 * 60_000),
        window: TimeRange::new(Timestamp::from_millis(0), Timestamp::from_millis(120 * 60_000)).unwrap(),
        services: vec!["api".into()],
    });
    data.series = vec![
        pod("api-a", "v1", 0, wobble),
        pod("api-b", "v1", 0, move |m| wobble(m + 5)),
        pod("api-c", "v2", 60, canary),
    ];
    data.changes = vec![ChangeEvent {
        id: "deploy-v2".into(),
        at: Timestamp::from_millis(60 * 60_000),
        service: "api".into(),
        kind: ChangeKind::Deploy,
        from: Some("v1".into()),
        to: Some("v2".into()),
        source: None,
        author: None,
        description: None,
    }];
    data
}

#[test]
fn a_bad_canary_pod_is_caught_against_the_old_pods() {
    let v = verify_change(&rollout(true), "deploy-v2", &VerifyConfig::default()).unwrap();
    assert_eq!(v.decision, Decision::Rollback);
    let cb = v.comparisons.iter().find(|c| c.kind == "canary_baseline").expect("versions ran side by side");
    assert_eq!(cb.result.metrics[0].name, "http_errors_ratio");
    let v = verify_change(&rollout(false), "deploy-v2", &VerifyConfig::default()).unwrap();
    assert_eq!(v.decision, Decision::Promote, "{:#?}", v.reasons);
    assert_eq!(v.comparisons.len(), 2);
}

#[test]
fn an_slo_burn_folds_into_the_decision() {
    use faultlens_verify::postchange::fold_slo_burn;
    use faultlens_verify::slo::{Events, EventsSli, Slo};
    let sli = EventsSli { error_query: "e[{{.window}}]".into(), total_query: "t[{{.window}}]".into() };
    let slo = Slo::new("api", "availability", 0.999, sli);
    // one-minute counts from four days before the window's end (minute 90) up to it
    let events = |bad_last_hour: f64| {
        let ts: Vec<i64> = (-4 * 24 * 60 + 90..=90).map(|m| m * 60_000).collect();
        let n = ts.len();
        Events {
            bad: ts.iter().map(|&t| if t > 30 * 60_000 { bad_last_hour } else { 0.0 }).collect(),
            timestamps_ms: ts,
            total: vec![1000.0; n],
        }
    };
    let config = VerifyConfig::default();
    let healthy = verify_change(&rollout(false), "deploy-v2", &config).unwrap();
    assert_eq!(healthy.decision, Decision::Promote);
    let v = fold_slo_burn(healthy.clone(), &slo, &events(0.0), &config).unwrap();
    assert_eq!(v.decision, Decision::Promote, "{:?}", v.reasons);
    assert!(v.slo_burn.is_some());
    // 5% errors for the last hour: the page pairs fire, whatever the metrics said
    let v = fold_slo_burn(healthy.clone(), &slo, &events(50.0), &config).unwrap();
    assert_eq!(v.decision, Decision::Rollback, "{:?}", v.reasons);
    // two hours of events cannot judge the 3-day pair: hold, never promote
    let mut short = events(0.0);
    let keep = short.timestamps_ms.len() - 120;
    short.timestamps_ms.drain(..keep);
    short.total.drain(..keep);
    short.bad.drain(..keep);
    let v = fold_slo_burn(healthy, &slo, &short, &config).unwrap();
    assert_eq!(v.decision, Decision::Hold);
}
