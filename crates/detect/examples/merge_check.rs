//! How closely merged shards agree with one miner over the whole input:
//! `cargo run --release -p faultlens-detect --example merge_check -- FILE [SHARDS]` (one message
//! per line). Prints the share of lines whose template text differs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use faultlens_detect::logs::TemplateMiner;

fn main() {
    let path = std::env::args().nth(1).expect("a file of messages");
    let shards: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(2).max(1);
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut whole = TemplateMiner::default();
    let ids: Vec<_> = lines.iter().map(|l| whole.add(l)).collect();
    whole.finish();
    // contiguous shards, as a distributed engine would split a file
    let size = lines.len().div_ceil(shards);
    let mut miners: Vec<TemplateMiner> = lines
        .chunks(size.max(1))
        .map(|chunk| {
            let mut m = TemplateMiner::default();
            chunk.iter().for_each(|l| {
                m.add(l);
            });
            m.finish();
            m
        })
        .collect();
    let mut merged = miners.remove(0);
    for m in &miners {
        merged.merge(m);
    }
    if std::env::var_os("SHOW").is_some() {
        for (l, c) in lines
            .iter()
            .zip(&ids)
            .filter(|(l, c)| merged.classify(l).map(|t| &t.text) != whole.template_of(**c).map(|t| &t.text))
            .take(3)
        {
            println!(
                "{l}\n  whole:  {:?}\n  merged: {:?}",
                whole.template_of(*c).map(|t| &t.text),
                merged.classify(l).map(|t| &t.text)
            );
        }
    }
    let differ = lines
        .iter()
        .zip(&ids)
        .filter(|(l, c)| merged.classify(l).map(|t| &t.text) != whole.template_of(**c).map(|t| &t.text))
        .count();
    println!(
        "{} lines, {} shards: {} lines ({:.3}%) differ; templates whole {} merged {}",
        lines.len(),
        shards,
        differ,
        100.0 * differ as f64 / lines.len().max(1) as f64,
        whole.templates().len(),
        merged.templates().len()
    );
}
