//! End-to-end analysis (issue 5): a 50-service incident with a day of 15-second metrics and
//! about a million log lines, by stage: load and verify the bundle, decode it, analyse metrics
//! and changes only, and the full analysis (metrics, logs, changes, topology, knowledge). A
//! 500-service incident (two hours of 15-second metrics, no logs) shows how ranking scales
//! with the graph.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use faultlens::core::{Bundle, IncidentData, LoadOptions};
use faultlens::correlate::{AnalyzeConfig, Report, analyze};
use faultlens::sim::{Scenario, SimConfig, generate};

fn incident(services: usize, hours: u32, log_rate: f64, log_minutes: u32) -> (tempfile::TempDir, Bundle) {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig::default()
        .with_seed(5)
        .with_scenario(Scenario::BadDeploy)
        .with_services(services)
        .with_pods_per_service(1)
        .with_history_hours(hours)
        .with_step_secs(15)
        .with_log_minutes_before(log_minutes)
        .with_log_rate(log_rate);
    let bundle = generate(&config).unwrap().write(dir.path()).unwrap();
    (dir, bundle)
}

/// Loads, decodes and analyses the bundle at `dir`; returns the incident with the report, so
/// that the caller decides when both are freed.
fn load_and_analyze(dir: &std::path::Path) -> impl FnMut() -> (IncidentData, Report) + '_ {
    move || {
        let data = Bundle::load_decoded(dir, LoadOptions::default()).unwrap().1;
        let report = analyze(&data, &AnalyzeConfig::default()).unwrap();
        (data, report)
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    // 50 services x 90 minutes of logs x 4.8 lines/s ~ 1.0 M lines
    let (dir, bundle) = incident(50, 24, 4.8, 60);
    let data = bundle.decode().unwrap();
    eprintln!(
        "50-service bundle: {} series x ~{} points, {} log lines, {} changes",
        data.series.len(),
        data.series.first().map_or(0, |s| s.len()),
        data.logs.len(),
        data.changes.len()
    );
    g.bench_function("50 services: load and verify", |b| b.iter(|| Bundle::load(dir.path()).unwrap()));
    g.bench_function("50 services: decode", |b| b.iter(|| bundle.decode().unwrap()));
    let metrics_only = AnalyzeConfig::default().with_use_logs(false);
    g.bench_function("50 services: analyze, metrics and changes", |b| {
        b.iter(|| analyze(&data, &metrics_only).unwrap())
    });
    g.bench_function("50 services: analyze, full", |b| b.iter(|| analyze(&data, &AnalyzeConfig::default()).unwrap()));
    // the time to a report: freeing the decoded incident afterwards is not on that path (the
    // CLI exits without freeing it), so it is dropped outside the timing
    g.bench_function("50 services: end to end (load, decode, analyze)", |b| {
        b.iter_with_large_drop(load_and_analyze(dir.path()))
    });
    drop(data);
    let (dir500, bundle500) = incident(500, 2, 0.0, 0);
    let data500 = bundle500.decode().unwrap();
    eprintln!("500-service bundle: {} series, {} changes", data500.series.len(), data500.changes.len());
    g.bench_function("500 services: end to end (load, decode, analyze)", |b| {
        b.iter_with_large_drop(load_and_analyze(dir500.path()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
