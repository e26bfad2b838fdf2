//! Canary judging (issue 6): 100 metrics of 10,000 samples per side through the default judge
//! (Mann-Whitney with its interval, tail and power checks) and through Kayenta's rule alone;
//! one Mann-Whitney test with its interval at 10,000 per side by R's full-range search, and the
//! judge's own test (sorted samples, local search) on latencies in seconds (the grid), in
//! microseconds (the merging search) and in seconds recorded to 10 us (many ties).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::core::Timestamp;
use faultlens::verify::canary::{CanaryConfig, JudgeConfig, MetricSamples, judge};
use faultlens::verify::dora::{Deployment, IncidentRecord, TierTable, dora};
use faultlens::verify::slo::{BurnWindow, Events, EventsSli, Slo, burn_rate_series, evaluate_burn};
use faultlens::verify::stats::{RootSearch, mann_whitney, mann_whitney_sorted_with};

/// A small seeded generator (xorshift), so the bench needs no extra dependency.
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // log-normal-ish latency around 0.1 s
            0.1 * (((x >> 11) as f64 / (1u64 << 53) as f64) - 0.5).exp()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let metrics = 100;
    let n = 10_000;
    let config: CanaryConfig = serde_json::from_value(serde_json::json!({
        "metrics": (0..metrics).map(|i| serde_json::json!({
            "name": format!("m{i}"), "groups": [format!("g{}", i % 4)],
            "analysisConfigurations": {"canary": {"direction": "increase", "effectSize": {"allowedIncrease": 1.1}}}
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    let samples: BTreeMap<String, MetricSamples> = (0..metrics)
        .map(|i| {
            let shift = if i % 10 == 0 { 1.2 } else { 1.0 };
            let experiment = noise(2 * i as u64 + 1, n).into_iter().map(|v| v * shift).collect();
            (format!("m{i}"), MetricSamples { control: noise(2 * i as u64, n), experiment })
        })
        .collect();
    let mut g = c.benchmark_group("verify");
    g.sample_size(20);
    g.throughput(Throughput::Elements((metrics * n * 2) as u64));
    g.bench_function("judge/100 metrics x 10k per side", |b| {
        b.iter(|| judge(&config, &samples, &JudgeConfig::default()).unwrap())
    });
    g.bench_function("judge/100 metrics x 10k per side, kayenta rule", |b| {
        b.iter(|| judge(&config, &samples, &JudgeConfig::kayenta()).unwrap())
    });
    let (x, y) = (noise(1, n), noise(2, n));
    g.throughput(Throughput::Elements((2 * n) as u64));
    g.bench_function("mann_whitney/10k per side with interval", |b| b.iter(|| mann_whitney(&x, &y, 0.98).unwrap()));
    // the judge's test: samples sorted once, the interval by the local search (counting on a
    // grid where the samples span few tolerance steps, as these latencies in seconds do; by
    // merging where they do not, as the same latencies in microseconds)
    let sorted = |v: &[f64], scale: f64, quantum: Option<f64>| {
        let mut v: Vec<f64> = v.iter().map(|a| quantum.map_or(a * scale, |q| (a * scale / q).round() * q)).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    // and the same in seconds recorded to 10 us: many ties within and across the samples
    for (label, scale, quantum) in
        [("seconds", 1.0, None), ("microseconds", 1e6, None), ("seconds to 10 us", 1.0, Some(1e-5))]
    {
        let (xs, ys) = (sorted(&x, scale, quantum), sorted(&y, scale, quantum));
        g.bench_function(format!("mann_whitney/10k per side sorted, local search, {label}"), |b| {
            b.iter(|| mann_whitney_sorted_with(&xs, &ys, 0.98, RootSearch::Local).unwrap())
        });
    }
    // DORA over a million deployments (one a minute for two years) and 20,000 incidents
    let deployments: Vec<Deployment> = (0..1_000_000i64)
        .map(|i| Deployment {
            id: format!("d{i}"),
            service: format!("s{}", i % 50),
            deployed_at: Timestamp::from_millis(1_700_000_000_000 + i * 60_000),
            commit_at: Some(Timestamp::from_millis(1_700_000_000_000 + i * 60_000 - (i % 97) * 3_600_000)),
            failed: i % 101 == 0,
        })
        .collect();
    let incidents: Vec<IncidentRecord> = (0..20_000i64)
        .map(|i| IncidentRecord {
            id: format!("i{i}"),
            started_at: Timestamp::from_millis(1_700_000_000_000 + i * 50 * 60_000),
            resolved_at: Some(Timestamp::from_millis(1_700_000_000_000 + i * 50 * 60_000 + (i % 13 + 1) * 600_000)),
            change_id: Some(format!("d{}", i * 50)),
        })
        .collect();
    let table = TierTable::of_year(2024).unwrap();
    g.throughput(Throughput::Elements(deployments.len() as u64));
    g.bench_function("dora/1M deployments, 20k incidents", |b| {
        b.iter(|| dora(&deployments, &incidents, None, Some(&table)))
    });
    // burn rates: 1,000 SLOs over 30 days of one-minute counts; the 1h burn-rate series of
    // each (for charts) and the four window pairs at the end of the period
    let minutes = 30 * 24 * 60;
    let slos: Vec<(Slo, Events)> = (0..1000u64)
        .map(|k| {
            let sli = EventsSli { error_query: "e[{{.window}}]".into(), total_query: "t[{{.window}}]".into() };
            let slo = Slo::new("svc", format!("slo-{k}"), 0.999, sli);
            let total: Vec<f64> = noise(k, minutes).into_iter().map(|v| (v * 10_000.0).round()).collect();
            let bad = total.iter().map(|t| (t * 0.0005).round()).collect();
            let events = Events { timestamps_ms: (1..=minutes as i64).map(|m| m * 60_000).collect(), total, bad };
            (slo, events)
        })
        .collect();
    g.throughput(Throughput::Elements((1000 * minutes) as u64));
    g.bench_function("slo/1h burn-rate series, 1,000 SLOs x 30 days at 1 min", |b| {
        b.iter(|| slos.iter().map(|(s, e)| burn_rate_series(s, e, 3_600_000).unwrap().len()).sum::<usize>())
    });
    let windows = BurnWindow::defaults();
    let end = minutes as i64 * 60_000;
    g.bench_function("slo/multi-window evaluation, 1,000 SLOs x 30 days at 1 min", |b| {
        b.iter(|| slos.iter().map(|(s, e)| evaluate_burn(s, e, &windows, end).unwrap().checks.len()).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
