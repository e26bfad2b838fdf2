//! Prints the streaming scorer's view of a `timestamp,value` CSV between two rows:
//! `cargo run --release -p faultlens-detect --example trace -- FILE FROM TO`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use faultlens_core::Timestamp;
use faultlens_detect::metrics::StreamingDetector;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&a[1]).unwrap();
    let (from, to): (usize, usize) = (a[2].parse().unwrap(), a[3].parse().unwrap());
    let mut d = StreamingDetector::default();
    for (i, line) in text.lines().skip(1).enumerate() {
        let (t, v) = line.split_once(',').unwrap();
        let t = Timestamp::parse_lenient(t).unwrap().as_millis();
        let p = d.update(t, v.parse().unwrap());
        if (from..to).contains(&i) {
            println!(
                "{i} x={v} exp={:.3} scale={:.4} z={:.2} p={:.2e} score={:.3} onset={}",
                p.expected, p.scale, p.z, p.p_value, p.score, p.onset
            );
        }
    }
}
