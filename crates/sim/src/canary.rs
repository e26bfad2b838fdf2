//! A labelled canary corpus: baseline and canary samples of three metrics per case, healthy
//! or with one regression of practical size, at high or low traffic.
//!
//! Each sample is one interval's aggregate, as a metrics store returns it:
//! - `latency_seconds`: the interval's median latency, log-normal around 120 ms; with fewer
//!   requests per interval (low traffic) it is noisier;
//! - `http_errors`: errors counted in the interval, Poisson (sparse at low traffic);
//! - `requests_per_second`: normal around the service's rate.
//!
//! Regressions (each case has at most one): **mean** (latency +30%), **variance** (latency
//! spread doubled around the same median), **tail** (one interval in eight four times slower)
//! and **error rate** (errors tripled). High traffic is 240 intervals per side (two hours of
//! 30 s samples); low traffic 30 (fifteen minutes). Everything is drawn from one seeded
//! generator, so a corpus is a pure function of its seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use serde::{Deserialize, Serialize};

/// The regression a canary carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryFault {
    /// No regression.
    Healthy,
    /// Latency 30% higher.
    Mean,
    /// Latency spread doubled, same median.
    Variance,
    /// One interval in eight four times slower.
    Tail,
    /// Three times the errors.
    ErrorRate,
}

impl CanaryFault {
    /// Every kind, healthy first.
    pub const ALL: [Self; 5] = [Self::Healthy, Self::Mean, Self::Variance, Self::Tail, Self::ErrorRate];

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Mean => "mean",
            Self::Variance => "variance",
            Self::Tail => "tail",
            Self::ErrorRate => "error_rate",
        }
    }
}

/// Traffic level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Traffic {
    /// 240 intervals per side, 50 requests per second.
    High,
    /// 30 intervals per side, 2 requests per second.
    Low,
}

impl Traffic {
    /// Both levels.
    pub const ALL: [Self; 2] = [Self::High, Self::Low];

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Low => "low",
        }
    }
}

/// One metric's samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanarySeries {
    /// Metric name.
    pub name: String,
    /// Baseline values, one per interval.
    pub baseline: Vec<f64>,
    /// Canary values, one per interval.
    pub canary: Vec<f64>,
}

/// One labelled case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryCase {
    /// `high-mean-007`.
    pub id: String,
    /// The regression (or none).
    pub fault: CanaryFault,
    /// Traffic level.
    pub traffic: Traffic,
    /// The three metrics.
    pub series: Vec<CanarySeries>,
}

impl CanaryCase {
    /// Whether the canary should be stopped.
    #[must_use]
    pub fn is_regression(&self) -> bool {
        self.fault != CanaryFault::Healthy
    }
}

/// The Kayenta canary config the corpus is meant to be judged with: latency may not rise more
/// than 10% (critical from 50%), errors may not rise, throughput may not fall more than 10%.
#[must_use]
pub fn canary_config() -> serde_json::Value {
    serde_json::json!({
        "name": "sim-canary",
        "metrics": [
            {"name": "latency_seconds", "groups": ["latency"],
             "analysisConfigurations": {"canary": {"direction": "increase", "critical": true,
                "effectSize": {"allowedIncrease": 1.1, "criticalIncrease": 1.5}}}},
            {"name": "http_errors", "groups": ["errors"],
             "analysisConfigurations": {"canary": {"direction": "increase", "nanStrategy": "replace", "critical": true,
                "effectSize": {"allowedIncrease": 1.5}}}},
            {"name": "requests_per_second", "groups": ["load"],
             "analysisConfigurations": {"canary": {"direction": "decrease", "effectSize": {"allowedDecrease": 0.9}}}}
        ],
        "classifier": {"groupWeights": {"latency": 50, "errors": 30, "load": 20}}
    })
}

/// `per_cell` cases of every fault at every traffic level, from `seed`.
#[must_use]
pub fn canary_corpus(seed: u64, per_cell: usize) -> Vec<CanaryCase> {
    let mut out = Vec::with_capacity(per_cell * CanaryFault::ALL.len() * Traffic::ALL.len());
    for traffic in Traffic::ALL {
        for fault in CanaryFault::ALL {
            for i in 0..per_cell {
                // one stream per case, so adding cases never changes the others
                let case_seed = seed
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add((traffic as u64) << 40 | (fault as u64) << 32 | i as u64);
                let mut rng = ChaCha8Rng::seed_from_u64(case_seed);
                out.push(case(&mut rng, fault, traffic, format!("{}-{}-{i:03}", traffic.as_str(), fault.as_str())));
            }
        }
    }
    out
}

fn case(rng: &mut ChaCha8Rng, fault: CanaryFault, traffic: Traffic, id: String) -> CanaryCase {
    let (n, rps, lat_sigma) = match traffic {
        Traffic::High => (240, 50.0, 0.12),
        Traffic::Low => (30, 2.0, 0.35),
    };
    // errors per 30 s interval at a 0.2% error ratio
    let err_per_interval = rps * 30.0 * 0.002;
    let median: f64 = 0.12 * rng.random_range(0.8..1.25);
    let latency = |rng: &mut ChaCha8Rng, canary: bool| -> Vec<f64> {
        let (m, s): (f64, f64) = match (canary, fault) {
            (true, CanaryFault::Mean) => (median * 1.3, lat_sigma),
            (true, CanaryFault::Variance) => (median, lat_sigma * 2.0),
            _ => (median, lat_sigma),
        };
        // finite, positive parameters by construction
        let Ok(d) = LogNormal::new(m.ln(), s) else { return Vec::new() };
        (0..n)
            .map(|i| {
                let v = d.sample(rng);
                if canary && fault == CanaryFault::Tail && i % 8 == 3 { v * 4.0 } else { v }
            })
            .collect()
    };
    let errors = |rng: &mut ChaCha8Rng, canary: bool| -> Vec<f64> {
        let rate = if canary && fault == CanaryFault::ErrorRate { err_per_interval * 3.0 } else { err_per_interval };
        let Ok(d) = Poisson::new(rate) else { return Vec::new() };
        (0..n).map(|_| d.sample(rng)).collect()
    };
    let load = |rng: &mut ChaCha8Rng| -> Vec<f64> {
        let Ok(d) = Normal::new(rps, rps * 0.05) else { return Vec::new() };
        (0..n).map(|_| d.sample(rng).max(0.0)).collect()
    };
    let series = vec![
        CanarySeries { name: "latency_seconds".into(), baseline: latency(rng, false), canary: latency(rng, true) },
        CanarySeries { name: "http_errors".into(), baseline: errors(rng, false), canary: errors(rng, true) },
        CanarySeries { name: "requests_per_second".into(), baseline: load(rng), canary: load(rng) },
    ];
    CanaryCase { id, fault, traffic, series }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_seeded_labelled_and_sized() {
        let a = canary_corpus(1, 3);
        assert_eq!(a.len(), 3 * 5 * 2);
        assert_eq!(a, canary_corpus(1, 3));
        assert_ne!(a, canary_corpus(2, 3));
        // a case does not depend on how many others are drawn
        assert_eq!(canary_corpus(1, 5)[0], a[0]);
        let low = a.iter().find(|c| c.traffic == Traffic::Low).unwrap();
        assert_eq!(low.series[0].baseline.len(), 30);
        assert!(a.iter().all(|c| c.series.iter().all(|s| s.baseline.iter().chain(&s.canary).all(|v| v.is_finite()))));
        assert_eq!(a.iter().filter(|c| !c.is_regression()).count(), 6);
    }

    #[test]
    fn regressions_move_what_they_say() {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        for c in canary_corpus(3, 4).iter().filter(|c| c.traffic == Traffic::High) {
            let lat = &c.series[0];
            let err = &c.series[1];
            let r = mean(&lat.canary) / mean(&lat.baseline);
            match c.fault {
                CanaryFault::Mean => assert!(r > 1.2, "{}: {r}", c.id),
                CanaryFault::Tail => assert!(r > 1.25, "{}: {r}", c.id),
                CanaryFault::ErrorRate => assert!(mean(&err.canary) > 2.0 * mean(&err.baseline), "{}", c.id),
                CanaryFault::Healthy => assert!((0.95..1.05).contains(&r), "{}: {r}", c.id),
                CanaryFault::Variance => {}
            }
        }
    }
}
