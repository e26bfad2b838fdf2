//! Decoder throughput. Run with `make bench` (or `cargo bench -p faultlens-benches --bench decode`).
//!
//! In test mode (`cargo test --benches`, as CI runs it) inputs are scaled down so the benches
//! stay quick; `--bench` uses the sizes the targets are stated for.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::core::{SourceFormat, SourceOptions, decode_bytes};

fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A query_range body of `series` x `points`, values in Prometheus' shortest formatting.
fn prometheus_body(series: usize, points: usize) -> String {
    let mut s = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..series {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"{{"metric":{{"__name__":"http_requests_rate","namespace":"shop","pod":"svc-{i}-abc","service":"svc-{}"}},"values":["#,
            i / 20
        );
        for p in 0..points {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x % 1_000_000) as f64 / 997.0;
            if p > 0 {
                s.push(',');
            }
            let _ = write!(s, "[{},\"{}\"]", 1_793_577_600 + p * 15, v);
        }
        s.push_str("]}");
    }
    s.push_str("]}}");
    s
}

fn loki_body(lines: usize) -> String {
    let mut s = String::from(
        r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"app":"cart","level":"info"},"values":["#,
    );
    for i in 0..lines {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"["{}","GET /api/cart/items/{} 200 {}ms trace_id={:016x}"]"#,
            1_793_577_600_000_000_000u64 + i as u64 * 1_000_000,
            i % 977,
            i % 300,
            i * 7919
        );
    }
    s.push_str("]}]}}");
    s
}

fn bench(c: &mut Criterion) {
    let (series, points, lines) = if full_size() { (10_000, 360, 200_000) } else { (50, 36, 1_000) };
    let body = prometheus_body(series, points);
    let opts = SourceOptions::new();
    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("prometheus_query_range", |b| {
        b.iter(|| decode_bytes(SourceFormat::PrometheusQueryRange, "bench.json", body.as_bytes(), &opts).unwrap())
    });
    let loki = loki_body(lines);
    g.throughput(Throughput::Bytes(loki.len() as u64));
    g.bench_function("loki_query_range", |b| {
        b.iter(|| decode_bytes(SourceFormat::LokiQueryRange, "bench.json", loki.as_bytes(), &opts).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
