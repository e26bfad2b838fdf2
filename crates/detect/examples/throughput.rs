//! Streaming throughput over N live series: `cargo run --release -p faultlens-detect --example throughput -- N`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use faultlens_detect::metrics::StreamingDetector;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut states: Vec<StreamingDetector> = (0..n).map(|_| StreamingDetector::default()).collect();
    let mut x = 0x9e37_79b9_u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1000) as f64 / 100.0
    };
    let rounds = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10_000_000 / n);
    for r in 0..400 {
        for d in &mut states {
            d.update(1_700_000_000_000 + r * 60_000, next());
        }
    }
    let t = std::time::Instant::now();
    let mut acc = 0.0;
    for r in 0..rounds {
        for d in &mut states {
            acc += d.update(1_700_000_000_000 + (400 + r as i64) * 60_000, next()).score;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("{n} series: {:.2} M points/s ({acc:.1})", (rounds * n) as f64 / secs / 1e6);
}
