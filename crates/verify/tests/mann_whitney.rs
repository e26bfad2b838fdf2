//! The Mann-Whitney test against reference vectors from scipy (`W`, p-value) and R's
//! `wilcox.test(conf.int = TRUE, exact = FALSE)` conventions (estimate and interval), generated
//! by `scripts/mann-whitney-vectors.py` and committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use faultlens_verify::stats::mann_whitney;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    experiment: Vec<f64>,
    control: Vec<f64>,
    confidence: f64,
    w: f64,
    p_value: f64,
    estimate: f64,
    lower: f64,
    upper: f64,
}

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[test]
fn matches_scipy_and_r_conventions() {
    let v: Vectors = serde_json::from_str(include_str!("data/mann_whitney.json")).unwrap();
    assert!(v.cases.len() >= 10);
    for c in &v.cases {
        let r = mann_whitney(&c.experiment, &c.control, c.confidence).unwrap();
        assert_eq!(r.w, c.w, "{}: W", c.name);
        assert!(
            (r.p_value - c.p_value).abs() <= 1e-10 + 1e-9 * c.p_value,
            "{}: p {} vs {}",
            c.name,
            r.p_value,
            c.p_value
        );
        // R finds the roots to 1e-4; the same algorithm on the same function agrees far closer
        for (what, got, want) in
            [("estimate", r.estimate, c.estimate), ("lower", r.lower, c.lower), ("upper", r.upper, c.upper)]
        {
            assert!((got - want).abs() <= 1e-6, "{}: {what} {got} vs {want}", c.name);
        }
        // ordered up to the root tolerance (on a step function R itself can be 1e-4 out)
        assert!(r.lower <= r.estimate + 1e-4 && r.estimate <= r.upper + 1e-4, "{}", c.name);
    }
}
