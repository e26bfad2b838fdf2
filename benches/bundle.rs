//! Loading (validating, hash-checking and decoding) a simulated bundle.
//!
//! `--bench` uses a 50-service bundle with a day of 15-second metrics; test mode a small one.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::core::Bundle;
use faultlens::sim::{Scenario, SimConfig, generate};

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let config = if full {
        SimConfig::default().with_services(50).with_history_hours(24).with_step_secs(15).with_log_minutes_before(60)
    } else {
        SimConfig::default().with_history_hours(1).with_log_minutes_before(10)
    }
    .with_scenario(Scenario::BadDeploy)
    .with_seed(1);
    let inc = generate(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    inc.write(dir.path()).unwrap();
    let bytes = inc.size_bytes() as u64;
    eprintln!("bundle: {} files, {bytes} bytes", inc.files.len());

    let mut g = c.benchmark_group("bundle");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("load_verify_decode", |b| b.iter(|| Bundle::load(dir.path()).unwrap().decode().unwrap()));
    g.bench_function("load_decode_no_verify", |b| {
        b.iter(|| {
            Bundle::load_with(dir.path(), faultlens::core::LoadOptions::default().with_verify_hashes(false))
                .unwrap()
                .decode()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
