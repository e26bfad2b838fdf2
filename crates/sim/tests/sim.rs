//! Simulated bundles validate, decode, round-trip byte-identically and carry their truth.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use faultlens_core::{Bundle, ChangeKind};
use faultlens_sim::{Scenario, SimConfig, generate, write_suite};

fn small(s: Scenario, seed: u64) -> SimConfig {
    SimConfig::default().with_scenario(s).with_seed(seed).with_history_hours(2).with_log_minutes_before(20)
}

#[test]
fn every_scenario_writes_a_valid_bundle_with_consistent_truth() {
    for s in Scenario::ALL {
        let inc = generate(&small(s, 11)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let b = inc.write(dir.path()).unwrap();
        assert!(b.verify().unwrap().is_empty(), "{s:?}");
        let data = Bundle::load(dir.path()).unwrap().decode().unwrap();
        let t = &inc.truth;
        assert!(data.topology.contains(&t.root_cause_service), "{s:?}");
        assert!(data.incident.window.contains(t.fault_start) || s == Scenario::MemoryLeak, "{s:?}");
        for src in &data.sources {
            assert_eq!(src.report.skipped, 0, "{s:?} {}: {:?}", src.path, src.report.warnings);
        }
        assert!(!data.logs.is_empty() && !data.series.is_empty() && !data.changes.is_empty(), "{s:?}");
        assert_eq!(data.alerts.len(), 1);
        assert_eq!(data.knowledge.len(), 8);
        assert_eq!(data.policies.len(), 2);
        match s {
            Scenario::BadDeploy
            | Scenario::BadDeployLatency
            | Scenario::ConfigChange
            | Scenario::InnocentLatestChange => {
                let id = t.root_cause_change.as_deref().unwrap();
                let c = data
                    .changes
                    .iter()
                    .find(|c| c.id == id)
                    .unwrap_or_else(|| panic!("{s:?}: change {id} not decoded"));
                assert_eq!(c.service, t.root_cause_service);
                assert_eq!(c.at, t.fault_start);
            }
            _ => assert!(t.root_cause_change.is_none()),
        }
        for id in &t.innocent_changes {
            assert!(data.changes.iter().any(|c| &c.id == id), "{s:?}: innocent change {id} missing");
        }
        if s == Scenario::InnocentLatestChange {
            let latest = data.changes.iter().rfind(|c| c.at <= data.incident.detected_at).unwrap();
            assert_ne!(Some(latest.id.as_str()), t.root_cause_change.as_deref(), "the latest change must be innocent");
            assert!(t.innocent_changes.contains(&latest.id));
        }
    }
}

/// The mean of a service's `metric` (all pods) from an hour to ten minutes before `onset`, and
/// from five minutes after it on.
fn before_after(
    data: &faultlens_core::IncidentData,
    metric: &str,
    service: &str,
    onset: faultlens_core::Timestamp,
) -> (f64, f64) {
    let onset = onset.as_millis();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for ser in data.series.iter().filter(|x| x.name() == metric && x.service(None) == Some(service)) {
        for (&t, &v) in ser.timestamps_ms().iter().zip(ser.values()) {
            if t < onset - 600_000 && t > onset - 3_600_000 {
                before.push(v);
            } else if t > onset + 300_000 {
                after.push(v);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    (mean(&before), mean(&after))
}

/// The fault is visible: the root service's own signal moves after the onset.
#[test]
fn faults_change_the_root_services_signals() {
    for (s, metric, factor) in [
        (Scenario::BadDeploy, "http_errors_ratio", 5.0),
        (Scenario::BadDeployLatency, "http_request_duration_p50_seconds", 2.0),
        (Scenario::CpuExhaustion, "container_cpu_usage_cores", 1.5),
        (Scenario::DependencyOutage, "http_errors_ratio", 10.0),
        (Scenario::TrafficSurge, "http_requests_rate", 1.8),
    ] {
        let inc = generate(&small(s, 5)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = inc.write(dir.path()).unwrap().decode().unwrap();
        let (before, after) = before_after(&data, metric, &inc.truth.root_cause_service, inc.truth.fault_start);
        assert!(after > factor * before, "{s:?}: {metric} before {before} after {after}");
    }
}

/// A surge enters at the root entry point and flows down its calls: the other entry points'
/// traffic stays where it was, and the root's callees carry some of it.
#[test]
fn a_traffic_surge_follows_the_calls_from_its_entry_point() {
    let inc = generate(&small(Scenario::TrafficSurge, 5).with_services(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = inc.write(dir.path()).unwrap().decode().unwrap();
    let ratio = |svc: &str| {
        let (before, after) = before_after(&data, "http_requests_rate", svc, inc.truth.fault_start);
        after / before
    };
    let root = inc.truth.root_cause_service.as_str();
    assert!(ratio(root) > 1.8, "{root}: {}", ratio(root));
    let mut calm = 0;
    for svc in data.topology.services().filter(|&s| s != root && data.topology.callers(s).next().is_none()) {
        // another entry point: nothing the root calls
        assert!(ratio(svc) < 1.3, "{svc} is another entry point: {}", ratio(svc));
        calm += 1;
    }
    // services the root reaches carry some of the surge
    let deps = data.topology.dependencies(root, 1);
    assert!(deps.iter().any(|d| ratio(&d.service) > 1.3), "{deps:?}");
    assert!(calm > 0, "the simulated graph has more than one entry point");
}

#[test]
fn generation_is_deterministic_and_round_trips() {
    let c = small(Scenario::ConfigChange, 42);
    let a = generate(&c).unwrap();
    let b = generate(&c).unwrap();
    assert_eq!(a.files, b.files);
    assert_ne!(generate(&c.clone().with_seed(43)).unwrap().files, a.files);

    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    a.write(d1.path()).unwrap();
    b.write(d2.path()).unwrap();
    let m1 = std::fs::read(d1.path().join("bundle.yaml")).unwrap();
    assert_eq!(m1, std::fs::read(d2.path().join("bundle.yaml")).unwrap());
    // load and save again: byte-identical
    Bundle::load(d1.path()).unwrap().save().unwrap();
    assert_eq!(std::fs::read(d1.path().join("bundle.yaml")).unwrap(), m1);
}

#[test]
fn sizes_and_config_bounds() {
    let big =
        generate(&SimConfig::default().with_services(50).with_history_hours(1).with_log_minutes_before(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = big.write(dir.path()).unwrap().decode().unwrap();
    assert_eq!(data.topology.len(), 50);
    assert!(generate(&SimConfig::default().with_services(4)).is_err());
    assert!(generate(&SimConfig::default().with_services(501)).is_err());
    assert!(generate(&SimConfig::default().with_step_secs(0)).is_err());
    assert!(Scenario::parse("memory_leak").is_ok());
    assert!(Scenario::parse("meteor").unwrap_err().to_string().contains("bad-deploy"));
}

#[test]
fn suite_covers_every_fault_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    let entries = write_suite(dir.path(), 9, 8, |n| seen = n).unwrap();
    assert_eq!(seen, 8);
    let kinds: std::collections::BTreeSet<_> = entries.iter().map(|e| e.truth.scenario).collect();
    assert_eq!(kinds.len(), Scenario::ALL.len());
    assert!(dir.path().join("suite.json").is_file());
    for e in &entries {
        Bundle::load(dir.path().join(&e.dir)).unwrap();
    }
    let _ = ChangeKind::ALL;
}
