//! Metric detection: streaming throughput across many live series, and the batch ensemble on a
//! year of 5-minute points next to augurs MSTL on the same series.
//!
//! Test mode (`cargo test --benches`) shrinks the inputs; `--bench` uses the stated sizes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens_detect::metrics::{BatchConfig, StreamingDetector, score_batch};

fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn series(n: usize, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut x = seed | 1;
    let ts = (0..n as i64).map(|i| 1_793_577_600_000 + i * 300_000).collect();
    let vs = (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let day = (std::f64::consts::TAU * i as f64 / 288.0).sin() * 20.0;
            let week = (std::f64::consts::TAU * i as f64 / 2016.0).sin() * 8.0;
            100.0 + day + week + (x % 1000) as f64 / 100.0 + if i % 5000 == 4999 { 80.0 } else { 0.0 }
        })
        .collect();
    (ts, vs)
}

fn streaming(c: &mut Criterion) {
    let (n_series, rounds) = if full_size() { (100_000, 10) } else { (200, 3) };
    let (ts, vs) = series(2000, 7);
    // warm every series past its warm-up, so the bench measures the steady state
    let mut states: Vec<StreamingDetector> = (0..n_series)
        .map(|k| {
            let mut d = StreamingDetector::default();
            for i in 0..400 {
                d.update(ts[i], vs[(i + k) % vs.len()]);
            }
            d
        })
        .collect();
    let bytes: usize = states.iter().map(|s| s.state().memory_bytes()).max().unwrap_or(0);
    eprintln!("stream: {n_series} series, largest state {bytes} bytes");
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements((n_series * rounds) as u64));
    g.sample_size(10);
    let mut cursor = 400;
    g.bench_function("stream_many_series", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for _ in 0..rounds {
                let t = ts[0] + cursor as i64 * 300_000;
                for (k, d) in states.iter_mut().enumerate() {
                    acc += d.update(t, vs[(cursor + k) % vs.len()]).score;
                }
                cursor += 1;
            }
            acc
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let n = if full_size() { 105_120 } else { 4032 };
    let (ts, vs) = series(n, 11);
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("batch_ensemble_year_5min", |b| b.iter(|| score_batch(&ts, &vs, &BatchConfig::default())));
    g.bench_function("peer_augurs_mstl_year_5min", |b| {
        b.iter(|| {
            use augurs_core::Fit;
            augurs_mstl::MSTLModel::naive(vec![288, 2016]).fit(&vs).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, streaming, batch);
criterion_main!(benches);
