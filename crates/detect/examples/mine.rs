//! Mines the messages of a file (one per line) and prints lines per second and the templates:
//! `cargo run --release -p faultlens-detect --example mine -- FILE [REPEAT]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use faultlens_detect::logs::TemplateMiner;

fn main() {
    let path = std::env::args().nth(1).expect("a file of messages");
    let repeat: usize = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(1);
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let t = std::time::Instant::now();
    let mut m = TemplateMiner::default();
    for _ in 0..repeat {
        for l in &lines {
            m.add(l);
        }
    }
    m.finish();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} lines, {} templates, {:.2} M lines/s, {:?}",
        lines.len() * repeat,
        m.templates().len(),
        (lines.len() * repeat) as f64 / secs / 1e6,
        m.stats()
    );
}
