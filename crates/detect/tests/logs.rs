//! Template mining: stable ids, shard merging, bad input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use faultlens_detect::logs::{MinerConfig, TemplateId, TemplateMiner};
use proptest::prelude::*;

fn mine(lines: &[String]) -> TemplateMiner {
    let mut m = TemplateMiner::default();
    for l in lines {
        m.add(l);
    }
    m.finish();
    m
}

/// Messages from a few shapes with random variables (numbers, hosts, words).
fn messages() -> impl Strategy<Value = Vec<String>> {
    let msg = (0usize..6, 0u32..100_000, "[a-z]{3,8}", 0u8..255).prop_map(|(k, n, w, o)| match k {
        0 => format!("Received block blk_{n} of size {} from /10.0.0.{o}", n * 7),
        1 => format!("user {w} logged in from 10.1.{o}.2 after {n}ms"),
        2 => format!("VM Started id {n}"),
        3 => format!("VM Paused id {n}"),
        4 => format!("ERROR disk {w} full on node-{o}"),
        _ => format!("INFO disk {w} full on node-{o}"),
    });
    prop::collection::vec(msg, 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same input gives the same templates and ids, run after run, and every id is the
    /// hash of its template text.
    #[test]
    fn template_ids_are_stable(lines in messages()) {
        let a = mine(&lines);
        let b = mine(&lines);
        prop_assert_eq!(a.templates(), b.templates());
        for t in a.templates() {
            prop_assert_eq!(&t.id, &TemplateId::of(&t.text));
        }
        let total: u64 = a.templates().iter().map(|t| t.count).sum();
        prop_assert_eq!(total, lines.len() as u64);
    }

    /// Mining two shards and merging gives the templates of one miner over the whole.
    #[test]
    fn merged_shards_equal_one_pass(lines in messages(), cut in 0usize..200) {
        let cut = cut.min(lines.len());
        let whole = mine(&lines);
        let mut a = mine(&lines[..cut]);
        let b = mine(&lines[cut..]);
        a.merge(&b);
        prop_assert_eq!(a.templates(), whole.templates());
    }

    /// Protected tokens never become wildcards, whatever else varies.
    #[test]
    fn protected_tokens_never_merge(lines in messages()) {
        let m = mine(&lines);
        for t in m.templates() {
            let first = t.text.split(' ').next().unwrap_or("");
            prop_assert!(first != "<*>" || !t.text.contains(" disk "), "{}", t.text);
            prop_assert!(!t.text.starts_with("VM <*>"), "{}", t.text);
        }
    }

    /// Arbitrary text never panics and always yields a template.
    #[test]
    fn arbitrary_text_is_mined(lines in prop::collection::vec(any::<String>(), 1..50)) {
        let mut m = TemplateMiner::default();
        let ids: Vec<_> = lines.iter().map(|l| m.add(l)).collect();
        m.finish();
        for c in ids {
            prop_assert!(m.template_of(c).is_some());
        }
    }
}

#[test]
fn empty_messages_survive_a_merge() {
    let mut a = TemplateMiner::default();
    let mut b = TemplateMiner::default();
    b.add("");
    b.add("   ");
    a.merge(&b);
    assert_eq!(a.classify("").map(|t| (t.text.as_str(), t.count)), Some(("", 2)));
}

#[test]
fn a_miner_trained_yesterday_continues_today() {
    let yesterday: Vec<String> = (0..300).map(|i| format!("GET /api/items/{i} took {}ms", i % 17)).collect();
    let m = mine(&yesterday);
    let state = serde_json::to_vec(&m).unwrap();
    let mut today: TemplateMiner = serde_json::from_slice(&state).unwrap();
    let c = today.add("GET /api/items/9999 took 3ms");
    let t = today.template_of(c).unwrap();
    assert_eq!(t.text, "GET <*> took <*>");
    assert_eq!(t.id, m.templates()[0].id);
}

#[test]
fn huge_lines_binary_and_crlf_are_defined() {
    let mut m = TemplateMiner::new(MinerConfig::default().with_max_message_bytes(4096));
    let huge = "x".repeat(1 << 20);
    let c1 = m.add(&huge);
    let garbage: String = (0..2000u32).map(|i| char::from_u32(i * 7 % 0x2FFF).unwrap_or('?')).collect();
    let c2 = m.add(&garbage);
    let c3 = m.add("line with crlf\r");
    m.finish();
    assert!(m.template_of(c1).unwrap().text.ends_with("<*>"));
    assert!(m.template_of(c1).unwrap().text.len() <= 4096 + 4);
    assert!(m.template_of(c2).is_some());
    assert_eq!(m.template_of(c3).unwrap().text, "line with crlf");
    assert!(m.stats().truncated >= 1);
}

#[test]
fn distinct_templates_beyond_the_cap_are_evicted_and_counted() {
    let mut m = TemplateMiner::new(MinerConfig::default().with_max_clusters(500));
    for i in 0..5_000u32 {
        // every message is a distinct constant shape
        let w: String = format!("{i:08b}").chars().map(|c| if c == '1' { 'q' } else { 'z' }).collect();
        m.add(&format!("{w}{}", char::from(b'a' + (i % 26) as u8)));
    }
    m.finish();
    let s = m.stats();
    assert!(s.evicted > 0, "{s:?}");
    assert_eq!(s.lines, 5_000);
}

#[test]
fn variants_of_a_template_share_its_memory() {
    // 50,000 distinct lines of one shape: memory follows the template, not the lines
    let mut m = TemplateMiner::default();
    for i in 0..50_000u32 {
        let w: String = format!("{i:06}").bytes().map(|d| char::from(b'a' + (d - b'0'))).collect();
        m.add(&format!("session {w} opened by user {w}x"));
    }
    m.finish();
    assert_eq!(m.templates().len(), 1);
    assert_eq!(m.templates()[0].text, "session <*> opened by user <*>");
    assert!(serde_json::to_vec(&m).unwrap().len() < 100_000, "the state holds the template, not 50,000 lines");
}

/// A variable word that happens to be a severity word (`user err`) keeps its own template, and
/// the other values of its column still become one `<*>`, whichever shard saw what first.
#[test]
fn a_protected_value_parts_from_its_column_and_nothing_else() {
    let names = ["ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal", "ivy", "jon", "err", "kim"];
    let lines: Vec<String> =
        names.iter().enumerate().map(|(i, n)| format!("user {n} logged in from 10.1.{i}.2 after {i}0ms")).collect();
    let texts = |m: &TemplateMiner| m.templates().into_iter().map(|t| (t.text, t.count)).collect::<Vec<_>>();
    let whole = mine(&lines);
    assert_eq!(
        texts(&whole),
        [
            ("user <*> logged in from <*> after <*>".to_string(), 11),
            ("user err logged in from <*> after <*>".to_string(), 1)
        ]
    );
    for cut in 0..=lines.len() {
        let mut a = mine(&lines[..cut]);
        a.merge(&mine(&lines[cut..]));
        assert_eq!(a.templates(), whole.templates(), "cut {cut}");
    }
    // once `user <*>` exists, a later `user err` still does not fit it
    let mut m = mine(&lines[..10]);
    let c = m.add(&lines[10]);
    assert_eq!(m.template_of(c).map(|t| t.text.as_str()), Some("user err logged in from <*> after <*>"));
}
