//! The canary judge on seeded samples: Kayenta's classification and scoring, and the checks
//! beyond it (insufficient data, counters, tails).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use faultlens_verify::canary::{TestKind, judge};
use faultlens_verify::{CanaryConfig, CanaryVerdict, Classification, JudgeConfig, MetricSamples};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};

/// A Kayenta canary config as teams write them (fields the judge does not use included).
const CONFIG: &str = r#"{
  "name": "checkout-canary",
  "applications": ["checkout"],
  "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
  "metrics": [
    {"name": "latency", "query": {"type": "prometheus", "customInlineTemplate": "PromQL:histogram_quantile(0.5, ...)"},
     "groups": ["latency"], "scopeName": "default",
     "analysisConfigurations": {"canary": {"direction": "increase", "critical": true,
        "effectSize": {"allowedIncrease": 1.1, "criticalIncrease": 1.5}}}},
    {"name": "errors", "groups": ["errors"],
     "analysisConfigurations": {"canary": {"direction": "increase", "mustHaveData": true, "nanStrategy": "replace"}}},
    {"name": "throughput", "groups": ["load"],
     "analysisConfigurations": {"canary": {"direction": "decrease", "outliers": {"strategy": "remove", "outlierFactor": 3.0},
        "effectSize": {"allowedDecrease": 0.9}}}}
  ],
  "classifier": {"groupWeights": {"latency": 50, "errors": 30, "load": 20}}
}"#;

fn config() -> CanaryConfig {
    serde_json::from_str(CONFIG).unwrap()
}

fn lognormal(rng: &mut ChaCha8Rng, n: usize, median: f64, sigma: f64) -> Vec<f64> {
    let d = LogNormal::new(median.ln(), sigma).unwrap();
    (0..n).map(|_| d.sample(rng)).collect()
}

fn poisson(rng: &mut ChaCha8Rng, n: usize, rate: f64) -> Vec<f64> {
    let d = Poisson::new(rate).unwrap();
    (0..n).map(|_| d.sample(rng)).collect()
}

fn normal(rng: &mut ChaCha8Rng, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let d = Normal::new(mean, sd).unwrap();
    (0..n).map(|_| d.sample(rng)).collect()
}

/// Healthy samples of every metric at `n` per side; `latency_factor` scales the canary's.
fn samples(seed: u64, n: usize, latency_factor: f64, error_rate: f64) -> BTreeMap<String, MetricSamples> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = BTreeMap::new();
    m.insert(
        "latency".to_string(),
        MetricSamples {
            control: lognormal(&mut rng, n, 0.1, 0.3),
            experiment: lognormal(&mut rng, n, 0.1 * latency_factor, 0.3),
        },
    );
    m.insert(
        "errors".to_string(),
        MetricSamples { control: poisson(&mut rng, n, 0.2), experiment: poisson(&mut rng, n, error_rate) },
    );
    m.insert(
        "throughput".to_string(),
        MetricSamples { control: normal(&mut rng, n, 100.0, 5.0), experiment: normal(&mut rng, n, 100.0, 5.0) },
    );
    m
}

#[test]
fn a_healthy_canary_passes_with_full_score() {
    let r = judge(&config(), &samples(1, 300, 1.0, 0.2), &JudgeConfig::default()).unwrap();
    assert_eq!(r.verdict, CanaryVerdict::Pass, "{:#?}", r.metrics);
    assert_eq!(r.score, Some(100.0));
    assert!(r.metrics.iter().all(|m| m.classification == Classification::Pass));
    assert_eq!(r.metrics[1].test, TestKind::Counts, "sparse error counts are judged as a rate");
    let weights: f64 = r.groups.iter().map(|g| g.weight).sum();
    assert!((weights - 1.0).abs() < 1e-12);
}

#[test]
fn a_latency_regression_on_a_critical_metric_fails_the_canary() {
    let r = judge(&config(), &samples(2, 300, 1.6, 0.2), &JudgeConfig::default()).unwrap();
    let lat = &r.metrics[0];
    assert_eq!(lat.classification, Classification::High);
    assert!(lat.critical_failure, "mean ratio {:?} crosses the critical 1.5", lat.effect_size);
    let (est, lo, _) = lat.shift.unwrap();
    assert!(est > 0.0 && lo > 0.0);
    assert!(lat.explanation.contains("canary is higher"), "{}", lat.explanation);
    assert_eq!(r.verdict, CanaryVerdict::Fail);
    assert_eq!(r.score, Some(0.0));
    // a smaller regression is High but not critical: the latency group scores 0
    let r = judge(&config(), &samples(2, 300, 1.25, 0.2), &JudgeConfig::default()).unwrap();
    assert_eq!(r.metrics[0].classification, Classification::High);
    assert!(!r.metrics[0].critical_failure);
    assert_eq!(r.score, Some(50.0));
    assert_eq!(r.verdict, CanaryVerdict::Fail);
}

#[test]
fn a_shift_inside_the_allowed_effect_passes() {
    // 5% slower: significant at this size, but under the allowed 10%
    let r = judge(&config(), &samples(3, 2000, 1.05, 0.2), &JudgeConfig::default()).unwrap();
    let lat = &r.metrics[0];
    assert!(lat.shift.unwrap().1 > 0.0, "significant");
    assert_eq!(lat.classification, Classification::Pass, "{}", lat.explanation);
}

#[test]
fn sparse_error_counts_are_judged_as_rates() {
    let r = judge(&config(), &samples(4, 300, 1.0, 1.0), &JudgeConfig::default()).unwrap();
    let errors = &r.metrics[1];
    assert_eq!(errors.test, TestKind::Counts);
    assert_eq!(errors.classification, Classification::High, "{}", errors.explanation);
    assert!(errors.explanation.contains("rate ratio"));
}

#[test]
fn low_traffic_is_insufficient_with_the_sample_size_needed() {
    let mut s = samples(5, 6, 1.0, 0.2);
    s.remove("errors");
    let r = judge(&config(), &s, &JudgeConfig::default()).unwrap();
    let lat = &r.metrics[0];
    assert_eq!(lat.classification, Classification::Insufficient, "{}", lat.explanation);
    let needed = lat.needed_per_side.unwrap();
    assert!(needed > 6, "{needed}");
    assert!(lat.explanation.contains("per side are needed"));
    // latency is critical, errors must have data: the verdict cannot be a pass
    assert_eq!(r.metrics[1].classification, Classification::NodataFail);
    assert_ne!(r.verdict, CanaryVerdict::Pass);
    // Kayenta alone passes the latency metric on the same data
    let k = judge(&config(), &s, &JudgeConfig::kayenta()).unwrap();
    assert_eq!(k.metrics[0].classification, Classification::Pass);
    // with ample data (the estimate from six values is rough: three times it) the check is met
    let r = judge(&config(), &samples(5, 3 * needed, 1.0, 0.2), &JudgeConfig::default()).unwrap();
    assert_eq!(r.metrics[0].classification, Classification::Pass, "{}", r.metrics[0].explanation);
}

#[test]
fn a_heavier_tail_is_caught_when_the_median_holds() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // the same median, a wider spread: the mean moves less than the allowed 10%
    let control = lognormal(&mut rng, 400, 0.1, 0.2);
    let experiment = lognormal(&mut rng, 400, 0.1, 0.45);
    let mut s = samples(6, 400, 1.0, 0.2);
    s.insert("latency".into(), MetricSamples { control, experiment });
    let r = judge(&config(), &s, &JudgeConfig::default()).unwrap();
    let lat = &r.metrics[0];
    assert_eq!(lat.test, TestKind::Tail, "{}", lat.explanation);
    assert_eq!(lat.classification, Classification::High);
    assert!(lat.explanation.contains("95th percentile"));
    let k = judge(&config(), &s, &JudgeConfig::kayenta()).unwrap();
    assert_eq!(k.metrics[0].classification, Classification::Pass, "Kayenta's rule misses it");
}

#[test]
fn no_data_never_passes() {
    let r = judge(&config(), &BTreeMap::new(), &JudgeConfig::default()).unwrap();
    assert_eq!(r.metrics[0].classification, Classification::Nodata);
    assert_eq!(r.metrics[1].classification, Classification::NodataFail);
    assert_eq!(r.verdict, CanaryVerdict::Fail);
    let mut cfg = config();
    cfg.metrics[1].analysis_configurations.canary.must_have_data = false;
    let r = judge(&cfg, &BTreeMap::new(), &JudgeConfig::default()).unwrap();
    assert_eq!(r.verdict, CanaryVerdict::Insufficient);
    assert_eq!(r.score, None);
    // NaN everywhere with the remove strategy is no data too
    let mut s = BTreeMap::new();
    s.insert("latency".to_string(), MetricSamples { control: vec![f64::NAN; 50], experiment: vec![f64::NAN; 50] });
    let r = judge(&cfg, &s, &JudgeConfig::default()).unwrap();
    assert_eq!(r.metrics[0].classification, Classification::Nodata);
    assert_eq!(r.metrics[0].control.removed, 50);
}

#[test]
fn bad_settings_and_configs_are_refused() {
    let s = samples(7, 10, 1.0, 0.2);
    assert!(judge(&config(), &s, &JudgeConfig::default().with_confidence(1.5)).is_err());
    assert!(judge(&config(), &s, &JudgeConfig::default().with_power(0.0)).is_err());
    assert!(judge(&CanaryConfig::default(), &s, &JudgeConfig::default()).is_err());
    let mut cfg = config();
    cfg.classifier.group_weights.insert("latency".into(), f64::NAN);
    assert!(judge(&cfg, &s, &JudgeConfig::default()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any samples, NaN and infinities included: a score in [0, 100] or none, explanations for
    /// every metric, the same result twice, and never a pass without a counted metric.
    #[test]
    fn judgements_are_bounded_and_deterministic(
        c in proptest::collection::vec(prop_oneof![Just(f64::NAN), Just(f64::INFINITY), -1e3..1e3f64, 0.0..3.0f64], 0..40),
        e in proptest::collection::vec(prop_oneof![Just(f64::NAN), -1e3..1e3f64, 0.0..3.0f64], 0..40),
    ) {
        let mut s = BTreeMap::new();
        for name in ["latency", "errors", "throughput"] {
            s.insert(name.to_string(), MetricSamples { control: c.clone(), experiment: e.clone() });
        }
        let a = judge(&config(), &s, &JudgeConfig::default()).unwrap();
        let b = judge(&config(), &s, &JudgeConfig::default()).unwrap();
        prop_assert_eq!(&a, &b);
        if let Some(score) = a.score {
            prop_assert!((0.0..=100.0).contains(&score));
        } else {
            prop_assert_ne!(a.verdict, CanaryVerdict::Pass);
        }
        for m in &a.metrics {
            prop_assert!(!m.explanation.is_empty());
            if let Some(p) = m.p_value {
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }
    }
}
