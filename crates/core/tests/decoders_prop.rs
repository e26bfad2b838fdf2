//! Property tests: no decoder panics on arbitrary or mangled input, and valid metric input
//! round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use faultlens_core::{Records, SourceFormat, SourceOptions, decode_bytes};
use proptest::prelude::*;

/// One realistic document per format, to mangle.
fn seed(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::PrometheusQueryRange => {
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},"values":[[1700000000,"1"],[1700000015,"NaN"]]}]}}"#
        }
        SourceFormat::Openmetrics => {
            "# TYPE up gauge\nup{job=\"a\"} 1 1700000000\nup{job=\"a\"} +Inf 1700000015\n# EOF\n"
        }
        SourceFormat::CsvWide => "time,up{job=\"a\"},b\n1700000000,1,2\n1700000015,,3\n",
        SourceFormat::LokiQueryRange => {
            r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"app":"a"},"values":[["1700000000000000000","line"]]}]}}"#
        }
        SourceFormat::ElasticsearchHits => {
            r#"{"hits":{"hits":[{"_id":"1","_source":{"@timestamp":"2026-01-01T00:00:00Z","message":"m"}}]}}"#
        }
        SourceFormat::Jsonl => "{\"ts\":1700000000,\"msg\":\"a\"}\n{\"ts\":1700000001,\"msg\":\"b\"}\n",
        SourceFormat::Raw => "2026-01-01 00:00:00,000 ERROR [main] a.B - boom\nI0101 00:00:00.000000 1 x.go:1] hi\n",
        SourceFormat::ArgocdHistory => {
            r#"{"metadata":{"name":"a"},"status":{"history":[{"id":1,"revision":"r1","deployedAt":"2026-01-01T00:00:00Z"}]}}"#
        }
        SourceFormat::GithubDeployments => {
            r#"[{"id":1,"sha":"s","created_at":"2026-01-01T00:00:00Z","statuses":[{"state":"success","created_at":"2026-01-01T00:01:00Z"}]}]"#
        }
        SourceFormat::K8sEvents => {
            r#"{"items":[{"metadata":{"name":"e"},"involvedObject":{"name":"a"},"reason":"ScalingReplicaSet","message":"m","lastTimestamp":"2026-01-01T00:00:00Z"}]}"#
        }
        SourceFormat::FaultlensChanges => {
            r#"{"id":"c","at":"2026-01-01T00:00:00Z","service":"a","kind":"deploy","from":null,"to":"v2","source":null,"author":null,"description":null}"#
        }
        SourceFormat::FaultlensTopology => r#"{"services":["a"],"edges":[{"from":"a","to":"b"}]}"#,
        SourceFormat::PagerdutyIncidents => {
            r#"{"incidents":[{"id":"P","status":"triggered","created_at":"2026-01-01T00:00:00Z","service":{"summary":"a"}}]}"#
        }
        SourceFormat::Alertmanager => {
            r#"[{"labels":{"alertname":"X"},"startsAt":"2026-01-01T00:00:00Z","status":{"state":"active"}}]"#
        }
        SourceFormat::Markdown => "# T\n## S\ntext\n```\n# code\n```\n",
        SourceFormat::Rego => "package main\n\ndeny contains msg if { msg := \"x\" }\n",
    }
}

fn options(format: SourceFormat) -> SourceOptions {
    let mut o = SourceOptions::new();
    if format == SourceFormat::Raw {
        o.insert("log_format".into(), "auto".into());
    }
    o
}

fn check(format: SourceFormat, bytes: &[u8]) {
    // must return, never panic; errors must render
    match decode_bytes(format, "prop", bytes, &options(format)) {
        Ok(d) => {
            let _ = serde_json::to_string(&d.report).unwrap();
        }
        Err(e) => {
            assert!(e.to_string().contains("prop"), "error must name the file: {e}");
        }
    }
}

#[test]
fn seeds_decode() {
    for f in SourceFormat::ALL {
        decode_bytes(f, "seed", seed(f).as_bytes(), &options(f)).unwrap_or_else(|e| panic!("{f:?}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), fi in 0usize..16) {
        check(SourceFormat::ALL[fi], &bytes);
    }

    #[test]
    fn truncated_documents_never_panic(fi in 0usize..16, cut in 0.0f64..1.0) {
        let f = SourceFormat::ALL[fi];
        let s = seed(f).as_bytes();
        check(f, &s[..(s.len() as f64 * cut) as usize]);
    }

    #[test]
    fn mutated_documents_never_panic(fi in 0usize..16, edits in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 1..8)) {
        let f = SourceFormat::ALL[fi];
        let mut s = seed(f).as_bytes().to_vec();
        for (pos, b) in edits {
            let i = ((s.len() as f64) * pos) as usize;
            if i < s.len() { s[i] = b; }
        }
        check(f, &s);
    }

    #[test]
    fn prometheus_values_round_trip(vals in proptest::collection::vec((0i64..1_000_000, any::<f64>()), 0..40)) {
        let body = serde_json::json!({"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"m"},"values": vals.iter().map(|(t, v)| {
                let text = if v.is_nan() { "NaN".to_string() } else if v.is_infinite() { (if *v > 0.0 { "+Inf" } else { "-Inf" }).to_string() } else { format!("{v}") };
                serde_json::json!([1_700_000_000 + t, text])
            }).collect::<Vec<_>>()}]}});
        let d = decode_bytes(SourceFormat::PrometheusQueryRange, "p", body.to_string().as_bytes(), &SourceOptions::new()).unwrap();
        let Records::Metrics(s) = d.records else { panic!() };
        let s = &s[0];
        // sorted, unique timestamps; each value is the last one given for that timestamp
        prop_assert!(s.timestamps_ms().windows(2).all(|w| w[0] < w[1]));
        for (t, v) in s.timestamps_ms().iter().zip(s.values()) {
            let want = vals.iter().rev().find(|(tt, _)| (1_700_000_000 + tt) * 1000 == *t).unwrap().1;
            prop_assert!(want.to_bits() == v.to_bits() || (want.is_nan() && v.is_nan()));
        }
    }
}
