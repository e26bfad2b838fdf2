//! DORA over polars DataFrames (issue 6, feature `polars`): the four keys and the per-service
//! breakdown of a million deployments (one a minute for two years) and 20,000 incidents, the
//! same history as the plain-Rust bench in `verify.rs`.
//!
//! `cargo bench -p faultlens-benches --features polars --bench dora_polars`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::verify::dora::TierTable;
use faultlens::verify::dora_frame::{dora_by_service, dora_frame};
use polars::prelude::*;

fn bench(c: &mut Criterion) {
    let n = 1_000_000i64;
    let t0 = 1_700_000_000_000i64;
    let deployments = df!(
        "id" => (0..n).map(|i| format!("d{i}")).collect::<Vec<_>>(),
        "service" => (0..n).map(|i| format!("s{}", i % 50)).collect::<Vec<_>>(),
        "deployed_at" => (0..n).map(|i| t0 + i * 60_000).collect::<Vec<_>>(),
        "commit_at" => (0..n).map(|i| t0 + i * 60_000 - (i % 97) * 3_600_000).collect::<Vec<_>>(),
        "failed" => (0..n).map(|i| i % 101 == 0).collect::<Vec<_>>(),
    )
    .unwrap();
    let m = 20_000i64;
    let incidents = df!(
        "id" => (0..m).map(|i| format!("i{i}")).collect::<Vec<_>>(),
        "started_at" => (0..m).map(|i| t0 + i * 50 * 60_000).collect::<Vec<_>>(),
        "resolved_at" => (0..m).map(|i| t0 + i * 50 * 60_000 + (i % 13 + 1) * 600_000).collect::<Vec<_>>(),
        "change_id" => (0..m).map(|i| format!("d{}", i * 50)).collect::<Vec<_>>(),
    )
    .unwrap();
    let table = TierTable::of_year(2024).unwrap();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("dora/polars, 1M deployments, 20k incidents", |b| {
        b.iter(|| dora_frame(&deployments, &incidents, None, Some(&table)).unwrap())
    });
    g.bench_function("dora/polars by service, 1M deployments, 20k incidents", |b| {
        b.iter(|| dora_by_service(&deployments, &incidents, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
