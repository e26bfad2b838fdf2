#![no_main]
//! Fuzzes the log template miner: any lines must mine to templates, never panic, and every line
//! must resolve to a template, before and after a state round trip and a shard merge.

use faultlens_detect::logs::TemplateMiner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut m = TemplateMiner::default();
    let ids: Vec<_> = lines.iter().map(|l| m.add(l)).collect();
    m.finish();
    for c in ids {
        assert!(m.template_of(c).is_some());
    }
    let (a, b) = lines.split_at(lines.len() / 2);
    let mut left = TemplateMiner::default();
    a.iter().for_each(|l| {
        left.add(l);
    });
    let mut right = TemplateMiner::default();
    b.iter().for_each(|l| {
        right.add(l);
    });
    left.merge(&right);
    for l in &lines {
        assert!(left.classify(l).is_some());
    }
});
