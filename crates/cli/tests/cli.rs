//! End-to-end tests of the `faultlens` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlens")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = faultlens(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn sim_validate_inspect_seal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let o = out.to_str().unwrap();
    ok(&[
        "sim",
        "--seed",
        "5",
        "--scenario",
        "cpu-exhaustion",
        "--out",
        o,
        "--history-hours",
        "2",
        "--log-minutes",
        "10",
    ]);
    assert!(ok(&["bundle", "validate", o]).contains("valid faultlens.bundle/v1"));
    let v: serde_json::Value = serde_json::from_str(&ok(&["bundle", "inspect", o, "--format", "json"])).unwrap();
    assert_eq!(v["incident"]["id"], "sim-cpu-exhaustion-5");
    assert!(v["samples"].as_u64().unwrap() > 1000);
    ok(&["bundle", "seal", o]);

    // tamper: exit code 1 and the file named
    let f = out.join("topology.json");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push(' ');
    std::fs::write(&f, text).unwrap();
    let r = faultlens(&["bundle", "validate", o]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("topology.json"));
    let r = faultlens(&["bundle", "validate", o, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
}

#[test]
fn exit_codes() {
    assert_eq!(faultlens(&["bundle", "validate", "/nonexistent/bundle"]).status.code(), Some(1));
    assert_eq!(faultlens(&["bundle", "frobnicate"]).status.code(), Some(2));
    assert_eq!(faultlens(&["sim", "--scenario", "meteor", "--out", "/tmp/x"]).status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bundle.yaml"), "format: faultlens.bundle/v1\nincident: {id: x, detected_at: 2026-01-01T00:00:00Z}\nsources:\n  - {path: m.json, kind: metrics, format: prometheus_query_range}\n").unwrap();
    std::fs::write(dir.path().join("m.json"), "{\"status\":\"success\"").unwrap();
    let r = faultlens(&["bundle", "validate", dir.path().to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&r.stderr).contains("m.json"));
}

#[test]
fn demo_is_readable_and_deterministic() {
    let b = repo().join("examples/bundles/bad-deploy");
    let b = b.to_str().unwrap();
    let text = ok(&["demo", "--bundle", b]);
    for section in ["INCIDENT", "CHANGES IN THE WINDOW", "ANOMALIES IN THE WINDOW", "LOG SIGNALS", "RANKED HYPOTHESES"]
    {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert_eq!(text, ok(&["demo", "--bundle", b]));
    let v: serde_json::Value = serde_json::from_str(&ok(&["demo", "--bundle", b, "--format", "json"])).unwrap();
    assert!(!v["changes"].as_array().unwrap().is_empty());
    assert!(!v["anomalies"].as_array().unwrap().is_empty());
    // the bad deploy's new exception is among the log signals, with its evidence
    let signals = v["log_signals"].as_array().unwrap();
    assert!(signals.iter().any(|s| s["service"] == "billing" && s["kind"] == "new_template"));
    assert!(signals.iter().all(|s| s["evidence"]["sha256"].as_str().is_some_and(|h| h.len() == 64)));
}

#[test]
fn sim_suite_writes_labelled_bundles() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["sim", "suite", "--count", "8", "--seed", "3", "--out", dir.path().to_str().unwrap()]);
    let suite: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("suite.json")).unwrap()).unwrap();
    assert_eq!(suite.len(), 8);
    for e in &suite {
        let d = dir.path().join(e["dir"].as_str().unwrap());
        ok(&["bundle", "validate", d.to_str().unwrap()]);
    }
}

/// The committed demo bundles are exactly what the simulator writes for their settings.
#[test]
fn shipped_demo_bundles_match_the_simulator() {
    for (seed, scenario) in [("1", "bad-deploy"), ("2", "innocent-latest-change"), ("3", "memory-leak")] {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join(scenario);
        ok(&["sim", "--seed", seed, "--scenario", scenario, "--out", fresh.to_str().unwrap()]);
        let shipped = repo().join("examples/bundles").join(scenario);
        let mut n = 0;
        for entry in walk(&fresh) {
            let rel = entry.strip_prefix(&fresh).unwrap();
            let a = std::fs::read(&entry).unwrap();
            let b = std::fs::read(shipped.join(rel)).unwrap_or_default();
            assert!(a == b, "{scenario}/{}: shipped copy differs; run `make demo-bundles`", rel.display());
            n += 1;
        }
        assert_eq!(n, walk(&shipped).len(), "{scenario}: extra files in the shipped copy");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

/// Writes `in.csv` in `dir`: 400 minutes of a small integer pattern with a spike to 95 at row
/// 300, no value at row 50, and a last row out of order. Returns its path and text.
fn spiky_series(dir: &Path) -> (PathBuf, String) {
    let input = dir.join("in.csv");
    let mut text = String::from("timestamp,value\n");
    for i in 0..400 {
        let v = if i == 300 {
            "95".to_string()
        } else if i == 50 {
            String::new()
        } else {
            format!("{}", 10 + (i * 7) % 5)
        };
        text.push_str(&format!("2024-01-01 {:02}:{:02}:00,{v}\n", i / 60, i % 60));
    }
    text.push_str("2024-01-01 00:00:00,7\n"); // out of order: kept, scored 0
    std::fs::write(&input, &text).unwrap();
    (input, text)
}

#[test]
fn detect_series_keeps_every_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (input, text) = spiky_series(dir.path());
    for mode in ["stream", "batch"] {
        let out = dir.path().join(format!("{mode}.csv"));
        ok(&["detect", "series", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--mode", mode]);
        let rows: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_string).collect();
        assert_eq!(rows[0], "timestamp,value,anomaly_score");
        assert_eq!(rows.len(), 402, "{mode}");
        let inputs: Vec<&str> = text.lines().collect();
        for (i, r) in rows.iter().enumerate().skip(1) {
            let (a, b) = (r.rsplit_once(',').unwrap().0, inputs[i]);
            assert_eq!(a, b, "{mode} row {i}");
        }
        let spike: f64 = rows[301].rsplit_once(',').unwrap().1.parse().unwrap();
        assert!(spike >= 0.5, "{mode}: spike scored {spike}");
        assert!(rows[401].ends_with(",0.000000"));
        // unremarkable rows score 0.000000, never -0.000000
        let signed: Vec<&String> =
            rows.iter().skip(1).filter(|r| r.rsplit_once(',').unwrap().1.starts_with('-')).collect();
        assert!(signed.is_empty(), "{mode}: {} rows with a signed score, as {:?}", signed.len(), signed.first());
    }
    std::fs::write(&input, "timestamp,value\nnot a time,1\n").unwrap();
    let r = faultlens(&["detect", "series", input.to_str().unwrap(), "--output", "/dev/null"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("line 2"));
}

/// `--detail` adds the columns that say why a row scored as it did, and changes nothing else.
#[test]
fn detect_series_detail_explains_each_row() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = spiky_series(dir.path());
    for mode in ["stream", "batch"] {
        let plain = dir.path().join(format!("{mode}.csv"));
        let detailed = dir.path().join(format!("{mode}-detail.csv"));
        let input = input.to_str().unwrap();
        ok(&["detect", "series", input, "--output", plain.to_str().unwrap(), "--mode", mode]);
        ok(&["detect", "series", input, "--output", detailed.to_str().unwrap(), "--mode", mode, "--detail"]);
        let plain = std::fs::read_to_string(&plain).unwrap();
        let detailed = std::fs::read_to_string(&detailed).unwrap();
        let rows: Vec<Vec<&str>> = detailed.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(
            rows[0],
            ["timestamp", "value", "anomaly_score", "kind", "expected", "scale", "z", "p_value", "onset"]
        );
        assert_eq!(rows.len(), plain.lines().count(), "{mode}");
        for (r, p) in rows.iter().zip(plain.lines()).skip(1) {
            assert_eq!(r.len(), 9, "{mode}: {r:?}");
            assert_eq!(r[..3].join(","), p, "{mode}: the detail columns change the scores");
        }
        // the spike is named, measured against the value expected there, and (streaming) rare
        let spike = &rows[301];
        assert!(["residual", "out_of_range", "shift"].contains(&spike[3]), "{mode}: {spike:?}");
        let (expected, scale, z): (f64, f64, f64) =
            (spike[4].parse().unwrap(), spike[5].parse().unwrap(), spike[6].parse().unwrap());
        assert!((8.0..=16.0).contains(&expected) && scale > 0.0 && z > 5.0, "{mode}: {spike:?}");
        if mode == "stream" {
            assert!(spike[7].parse::<f64>().unwrap() < 1e-3 && spike[8] == "true", "{spike:?}");
            // every tail probability is one, and a named kind comes with one under 5%
            for r in &rows[1..] {
                let p: f64 = r[7].parse().unwrap();
                assert!((0.0..=1.0).contains(&p) && (r[3].is_empty() || p < 0.05), "{r:?}");
            }
        } else {
            assert!(spike[7].is_empty() && spike[8].is_empty(), "{spike:?}");
        }
        // the row without a value and the out-of-order row are skipped: scored 0 with no kind;
        // batch expects nothing there
        for skipped in [&rows[51], rows.last().unwrap()] {
            assert_eq!((skipped[2], skipped[3]), ("0.000000", ""), "{mode}: {skipped:?}");
            if mode == "batch" {
                assert_eq!(skipped[4..], ["", "", "", "", ""], "{skipped:?}");
            }
        }
    }
}

/// A series scored in two runs that save and resume the detector's state scores exactly as in
/// one run; a state that cannot be resumed is refused with the reason.
#[test]
fn detect_series_resumes_from_a_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let rows: Vec<String> = (0..600)
        .map(|i| {
            let v = 20.0
                + 5.0 * (f64::from(i) / 30.0).sin()
                + f64::from((i * 7919) % 11) * 0.3
                + if i == 450 { 40.0 } else { 0.0 };
            format!("2024-01-01T{:02}:{:02}:00Z,{v}", i / 60, i % 60)
        })
        .collect();
    let write = |name: &str, part: &[String]| {
        std::fs::write(path(name), format!("timestamp,value\n{}\n", part.join("\n"))).unwrap()
    };
    write("all.csv", &rows);
    write("a.csv", &rows[..400]);
    write("b.csv", &rows[400..]);
    let scores = |name: &str| -> Vec<String> {
        std::fs::read_to_string(path(name))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.rsplit_once(',').unwrap().1.to_string())
            .collect()
    };
    ok(&["detect", "series", &path("all.csv"), "--output", &path("all.out")]);
    ok(&["detect", "series", &path("a.csv"), "--output", &path("a.out"), "--state", &path("state.json")]);
    // the second piece, resumed from the state the first one saved
    let resume = |out: &str| -> serde_json::Value {
        let (input, out, state) = (path("b.csv"), path(out), path("state.json"));
        serde_json::from_str(&ok(&[
            "detect", "series", &input, "--output", &out, "--state", &state, "--format", "json",
        ]))
        .unwrap()
    };
    let v = resume("b.out");
    assert_eq!((v["state"]["points"].as_u64(), v["state"]["skipped"].as_u64()), (Some(600), Some(0)));
    let pieces: Vec<String> = scores("a.out").into_iter().chain(scores("b.out")).collect();
    assert_eq!(pieces, scores("all.out"));
    assert!(scores("all.out")[450].parse::<f64>().unwrap() >= 0.5, "the spike is found");

    // the same rows again are not after the saved state's last point: skipped, scored 0
    let v = resume("b2.out");
    assert_eq!(v["state"]["skipped"].as_u64(), Some(200));
    assert!(scores("b2.out").iter().all(|s| s == "0.000000"));

    // refused, with the reason: batch mode, other settings, another build's format
    let refused = |state: &str, extra: &[&str], why: &str| {
        let (input, out, state) = (path("b.csv"), path("x"), path(state));
        let args = [["detect", "series", &input, "--output", &out, "--state", &state].as_slice(), extra].concat();
        let r = faultlens(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    };
    refused("state.json", &["--mode", "batch"], "--mode batch");
    std::fs::write(path("warm.json"), r#"{"warmup": 50}"#).unwrap();
    refused("state.json", &["--config", &path("warm.json")], "other settings");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("state.json")).unwrap()).unwrap();
    saved["format"] = serde_json::json!(0);
    std::fs::write(path("old.json"), saved.to_string()).unwrap();
    refused("old.json", &[], "state format 0");
    assert!(!dir.path().join("state.json.tmp").exists(), "the state is renamed into place");
}

#[test]
fn detect_bundle_reports_by_service() {
    let b = repo().join("examples/bundles/bad-deploy");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["detect", "bundle", b.to_str().unwrap(), "--format", "json"])).unwrap();
    assert!(v["anomalous_series"].as_u64().unwrap() > 0);
    assert!(v["top"][0]["windows"][0]["evidence"]["sha256"].is_string());
}

#[test]
fn logs_parse_writes_one_row_per_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.log");
    let mut bytes = Vec::new();
    for i in 0..50 {
        bytes.extend_from_slice(
            format!("081109 2036{:02} 148 INFO dfs.DataNode: Served block blk_{i}77 to /10.0.0.{i}\r\n", i % 60)
                .as_bytes(),
        );
    }
    bytes.extend_from_slice(b"081109 203700 149 WARN dfs.DataNode: disk \xff\xfe nearly full\n");
    bytes.extend_from_slice(b"not a header line at all\n");
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(b"081109 203701 150 INFO dfs.DataNode: Served block blk_9 to \"/x\", twice\n");
    std::fs::write(&input, &bytes).unwrap();
    let parse = |out: &Path| {
        ok(&[
            "logs",
            "parse",
            input.to_str().unwrap(),
            "--log-format",
            "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            "--output",
            out.to_str().unwrap(),
        ])
    };
    let out = dir.path().join("structured.csv");
    parse(&out);
    let mut r = csv::Reader::from_path(&out).unwrap();
    assert_eq!(r.headers().unwrap(), vec!["LineId", "Content", "EventId", "EventTemplate"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 54);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert!(row[2].starts_with('T') && row[2].len() == 17, "{row:?}");
    }
    assert_eq!(&rows[0][3], "Served block <*> to <*>");
    assert_eq!(rows[0][2], rows[49][2]);
    assert_eq!(&rows[50][1], "disk \u{FFFD}\u{FFFD} nearly full");
    assert_eq!(&rows[51][1], "not a header line at all");
    assert_eq!(&rows[52][1], "");
    assert_eq!(&rows[53][1], "Served block blk_9 to \"/x\", twice");
    // the same input gives byte-identical output
    let again = dir.path().join("again.csv");
    parse(&again);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    let bad = faultlens(&[
        "logs",
        "parse",
        input.to_str().unwrap(),
        "--log-format",
        "<Date> <Level>",
        "--output",
        "/dev/null",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn logs_patterns_cite_their_lines() {
    let b = repo().join("examples/bundles/bad-deploy");
    let out = ok(&["--format", "json", "logs", "patterns", b.to_str().unwrap(), "--top", "50"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let signals = v["signals"].as_array().unwrap();
    assert!(!signals.is_empty());
    let npe = signals
        .iter()
        .find(|s| s["kind"] == "new_template" && s["template"].as_str().unwrap().starts_with("NullPointerException"))
        .expect("the bad deploy's new exception is reported");
    assert_eq!(npe["service"], "billing");
    assert_eq!(npe["baseline_count"], 0);
    assert!(npe["evidence"]["sha256"].as_str().unwrap().len() == 64);
    assert!(npe["evidence"]["query"].as_str().unwrap().starts_with("template:T"));
    assert!(npe["examples"][0]["line"].as_u64().unwrap() >= 1);
    assert_eq!(out, ok(&["--format", "json", "logs", "patterns", b.to_str().unwrap(), "--top", "50"]));
}

#[test]
fn analyze_reports_json_and_markdown() {
    let bundle = repo().join("examples/bundles/innocent-latest-change");
    let b = bundle.to_str().unwrap();
    let json = ok(&["analyze", b, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["format"], "faultlens.report/v1");
    let top = &report["hypotheses"][0];
    assert_eq!(top["rank"], 1);
    assert_eq!(top["kind"], "change");
    assert!(!top["evidence"].as_array().unwrap().is_empty());
    // byte-identical across runs
    assert_eq!(json, ok(&["analyze", b, "--format", "json"]));
    let md = ok(&["analyze", b, "--format", "markdown"]);
    assert!(md.starts_with("# Incident ") && md.contains("## Hypotheses") && md.contains("Ruled out:"));
    let no_changes = ok(&["analyze", b, "--format", "json", "--no-changes"]);
    assert!(!no_changes.contains("\"kind\": \"change\""));
    // a directory that is no bundle is a problem found (as for `bundle validate`); a bad setting
    // is a usage error
    assert_eq!(faultlens(&["analyze", "/nonexistent"]).status.code(), Some(1));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, r#"{"temperature": -1}"#).unwrap();
    assert_eq!(faultlens(&["analyze", b, "--config", cfg.to_str().unwrap()]).status.code(), Some(2));
}

#[test]
fn judge_exit_codes_follow_the_verdict() {
    let dir = repo().join("examples/canary");
    let cfg = dir.join("checkout.json");
    let base = dir.join("baseline.csv");
    let run = |canary: &str, extra: &[&str]| {
        let c = dir.join(canary);
        let mut args =
            vec!["--format", "json", "judge", "--config", cfg.to_str().unwrap(), "--baseline", base.to_str().unwrap()];
        args.extend(["--canary", c.to_str().unwrap()]);
        args.extend(extra);
        faultlens(&args)
    };
    let o = run("canary-healthy.csv", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["metrics"].as_array().unwrap().len(), 3);
    let o = run("canary-regressed.csv", &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"fail\"") && text.contains("canary is higher"), "{text}");
    assert_eq!(run("canary-low-traffic.csv", &[]).status.code(), Some(2));
    // Kayenta's rule alone passes the low-traffic canary it cannot judge
    assert_eq!(run("canary-low-traffic.csv", &["--kayenta"]).status.code(), Some(0));
    // a malformed samples file names its line and column
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "latency_p50_seconds,http_errors\n0.1,0\n0.1,many\n").unwrap();
    let o = faultlens(&[
        "judge",
        "--config",
        cfg.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--canary",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3") && err.contains("http_errors"), "{err}");
}

#[test]
fn slo_rules_budget_and_burn() {
    let dir = repo().join("examples/slo");
    let slos = dir.join("checkout.json");
    let events = dir.join("events.csv");
    let (s, e) = (slos.to_str().unwrap(), events.to_str().unwrap());
    let rules = ok(&["slo", "rules", s]);
    assert!(rules.contains("slo:sli_error:ratio_rate5m") && rules.contains("alert: CheckoutRequestsAvailabilityPage"));
    // the last half hour is an outage: the fast page pair fires
    let o = faultlens(&["--format", "json", "slo", "burn", s, "--events", e]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "page");
    assert_eq!(v["checks"][0]["firing"], true);
    // before the data covers three days, the verdict is insufficient, never ok
    let o = faultlens(&["slo", "burn", s, "--events", e, "--at", "2026-11-15T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(2));
    // four days of events do not cover a 30-day budget
    let o = faultlens(&["--format", "json", "slo", "budget", s, "--events", e]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["covered"], false);
    assert!(v["remaining"].as_f64().unwrap() < 1.0);
    // a malformed events file names its line and column
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,total,bad\n1794528060,100,1\n1794528120,lots,1\n").unwrap();
    let o = faultlens(&["slo", "burn", s, "--events", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3") && err.contains("total"), "{err}");
    // a bad --at is a usage error, as for every other time flag
    let o = faultlens(&["slo", "budget", s, "--events", e, "--at", "yesterday-ish"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn verify_decides_on_the_demo_bundles_changes() {
    let bundle = repo().join("examples/bundles/bad-deploy");
    let b = bundle.to_str().unwrap();
    // the guilty deploy: roll back, with evidence
    let o = faultlens(&["--format", "json", "verify", b, "--change", "argocd:billing:1"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "rollback");
    assert!(!v["evidence"].as_array().unwrap().is_empty());
    // the flag flipped before it: its window stops at the deploy, too short to promote
    let o = faultlens(&["verify", b, "--change", "config:reviews:3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("stops at"));
    // the innocent latest deploy of the other demo: promote
    let other = repo().join("examples/bundles/innocent-latest-change");
    ok(&["verify", other.to_str().unwrap(), "--change", "argocd:notifications:1"]);
    // with an SLO whose events do not cover that time, the same change is held, not promoted
    let slo = repo().join("examples/slo");
    let o = faultlens(&[
        "verify",
        other.to_str().unwrap(),
        "--change",
        "argocd:notifications:1",
        "--slo",
        slo.join("checkout.json").to_str().unwrap(),
        "--events",
        slo.join("events.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not enough data to judge its burn rate"));
    assert_eq!(faultlens(&["verify", b, "--change", "nope"]).status.code(), Some(2));
}

#[test]
fn dora_reports_the_four_keys_with_tiers() {
    let dir = repo().join("examples/dora");
    let (d, i) = (dir.join("deployments.csv"), dir.join("incidents.csv"));
    let out = ok(&["--format", "json", "dora", d.to_str().unwrap(), i.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["deployments"], 152);
    assert_eq!(v["tiers"]["table_year"], 2024);
    assert!(v["change_failure_rate"].as_f64().unwrap() > 0.0);
    assert_eq!(v["open_incidents"], 1);
    // an unknown table year is a usage error; a bad file names its line
    assert_eq!(
        faultlens(&["dora", d.to_str().unwrap(), i.to_str().unwrap(), "--tiers", "2019"]).status.code(),
        Some(2)
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("d.csv");
    std::fs::write(&bad, "id,deployed_at\na,2026-11-01T00:00:00Z\nb,soon\n").unwrap();
    let o = faultlens(&["dora", bad.to_str().unwrap(), i.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 3"));
    // every built-in year, with the report's wording of the tier
    let text = ok(&["dora", d.to_str().unwrap(), i.to_str().unwrap(), "--tiers", "2022"]);
    assert!(text.contains("2022 table") && text.contains("high (on-demand"), "{text}");
    // a table of one's own, checked
    let own = tmp.path().join("tiers.json");
    std::fs::write(
        &own,
        r#"{"year": 2031, "source": "ours", "notes": "", "tiers": [
            {"name": "fast", "min_deploys_per_day": 2, "max_lead_time_hours": 4,
             "max_change_failure_rate": 0.1, "max_restore_hours": 1},
            {"name": "rest", "min_deploys_per_day": 0, "max_lead_time_hours": null,
             "max_change_failure_rate": 1, "max_restore_hours": null}]}"#,
    )
    .unwrap();
    let out = ok(&[
        "--format",
        "json",
        "dora",
        d.to_str().unwrap(),
        i.to_str().unwrap(),
        "--tiers-file",
        own.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tiers"]["table_year"], 2031);
    assert_eq!(v["tiers"]["deployment_frequency"], "fast");
    assert_eq!(v["tiers"]["lead_time"], "rest");
    std::fs::write(&own, r#"{"year": 2031, "source": "ours", "notes": "", "tiers": []}"#).unwrap();
    let o = faultlens(&["dora", d.to_str().unwrap(), i.to_str().unwrap(), "--tiers-file", own.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least one tier"));
}

#[test]
fn report_writes_html_and_markdown_with_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let (html, md, pdf) = (tmp.path().join("r.html"), tmp.path().join("r.md"), tmp.path().join("r.pdf"));
    let bundle = repo().join("examples/bundles/bad-deploy");
    ok(&[
        "report",
        bundle.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--pdf",
        pdf.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg") && page.contains("argocd:billing:1"));
    assert!(page.contains("class=\"band\"") && page.contains("sha256"));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("## Hypotheses") && text.contains("evidence ev-1"));
    assert_eq!(faultlens(&["report", bundle.to_str().unwrap()]).status.code(), Some(2));
    assert!(!page.contains("<h2>SLO") && !page.contains("<h2>DORA"), "panels only when asked for");

    // with the SLO and DORA panels, from the examples
    let (slo, dora) = (repo().join("examples/slo"), repo().join("examples/dora"));
    let path = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    let args = [
        "report".to_string(),
        path(bundle.clone()),
        "--html".into(),
        path(html.clone()),
        "--markdown".into(),
        path(md.clone()),
        "--slo".into(),
        path(slo.join("checkout.json")),
        "--events".into(),
        path(slo.join("events.csv")),
        "--deployments".into(),
        path(dora.join("deployments.csv")),
        "--incidents".into(),
        path(dora.join("incidents.csv")),
        "--tiers".into(),
        "2023".into(),
    ];
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>SLO checkout-requests-availability</h2>") && page.contains("class=\"threshold\""));
    assert!(page.contains("<h2>DORA metrics</h2>") && page.contains("placed in the 2023 table"));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("| 1h/5m | 25.02 | 50.42 | 14.40 | page | firing |"), "{text}");
    // an SLO without its events is a usage error
    let o = faultlens(&["report", bundle.to_str().unwrap(), "--html", html.to_str().unwrap(), "--slo", "x.json"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn audit_keygen_append_verify_and_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, log) = (tmp.path().join("audit.key"), tmp.path().join("audit.jsonl"));
    let (k, l) = (key.to_str().unwrap(), log.to_str().unwrap());
    let public = ok(&["audit", "keygen", "--out", k]).trim().to_string();
    assert_eq!(public.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // a second keygen never overwrites a key
    assert_eq!(faultlens(&["audit", "keygen", "--out", k]).status.code(), Some(3));
    for i in 0..3 {
        let subject = format!("plan-{i}");
        ok(&[
            "audit",
            "append",
            l,
            "--key-file",
            k,
            "--actor",
            "alice",
            "--action",
            "plan.approved",
            "--subject",
            &subject,
            "--detail",
            "why=$(rm -rf /) `x`",
            "--at",
            "2026-11-27T10:00:00Z",
        ]);
    }
    let out = ok(&["audit", "verify", l, "--key", &public]);
    assert!(out.contains("3 entries verified"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(&["--format", "json", "audit", "verify", l])).unwrap();
    assert_eq!(v["verified"], 3);
    let head = v["head"].as_str().unwrap().to_string();
    // an edit is named, exit 1
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("plan-1", "plan-9", 1)).unwrap();
    let o = faultlens(&["audit", "verify", l, "--key", &public]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("line 2 (entry 2): edited"), "{o:?}");
    // and nothing more is chained to it
    let o = faultlens(&["audit", "append", l, "--key-file", k, "--actor", "a", "--action", "b", "--subject", "c"]);
    assert_eq!(o.status.code(), Some(1));
    // the last entry cut off: seen against the kept head
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    assert!(faultlens(&["audit", "verify", l, "--key", &public]).status.success());
    let o = faultlens(&["audit", "verify", l, "--key", &public, "--head", &head]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("removed from the end"));
    // an untrusted signer
    let other = ok(&["audit", "keygen", "--out", tmp.path().join("other.key").to_str().unwrap()]);
    assert_eq!(faultlens(&["audit", "verify", l, "--key", other.trim()]).status.code(), Some(1));
    assert_eq!(faultlens(&["audit", "verify", l, "--key", "nothex"]).status.code(), Some(2));
}

#[test]
fn approve_and_check_a_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let plan = p("plan.json");
    let bundle = repo().join("examples/bundles/bad-deploy");
    let text = ok(&["--format", "json", "plan", bundle.to_str().unwrap(), "--namespace", "shop"]);
    std::fs::write(&plan, &text).unwrap();
    let alice = ok(&["audit", "keygen", "--out", &p("alice.key")]).trim().to_string();
    let bob = ok(&["audit", "keygen", "--out", &p("bob.key")]).trim().to_string();
    let policy = serde_json::json!({
        "approvers": [
            {"name": "alice", "key": alice, "roles": ["sre"]},
            {"name": "bob", "key": bob, "roles": ["owner"]}
        ],
        "required": 2,
        "required_roles": ["owner"]
    });
    std::fs::write(p("policy.json"), policy.to_string()).unwrap();
    let check = |author: &str| {
        faultlens(&[
            "--format",
            "json",
            "approvals",
            &plan,
            "--policy",
            &p("policy.json"),
            "--approvals",
            &p("approvals.jsonl"),
            "--author",
            author,
        ])
    };
    ok(&["approve", &plan, "--key-file", &p("alice.key"), "--approver", "alice", "-o", &p("approvals.jsonl")]);
    let o = check("carol");
    assert_eq!(o.status.code(), Some(1), "one of two");
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["counted"], serde_json::json!(["alice"]));
    ok(&["approve", &plan, "--key-file", &p("bob.key"), "--approver", "bob", "-o", &p("approvals.jsonl")]);
    assert!(check("carol").status.success());
    // the plan's author is the default author, and may not approve
    let o = faultlens(&["approvals", &plan, "--policy", &p("policy.json"), "--approvals", &p("approvals.jsonl")]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(check("bob").status.code(), Some(1));
    // the same plan reformatted keeps its hash, so its approvals
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    std::fs::write(&plan, serde_json::to_string(&v).unwrap()).unwrap();
    assert!(check("carol").status.success());
    // a changed plan is a different plan: the approvals no longer count
    std::fs::write(&plan, text.replace("\"shop\"", "\"kube-system\"")).unwrap();
    let o = check("carol");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("other_plan"));
    // a file that is not a plan is refused
    std::fs::write(p("x.json"), "x").unwrap();
    assert_eq!(
        faultlens(&["approve", &p("x.json"), "--key-file", &p("alice.key"), "--approver", "alice"]).status.code(),
        Some(3)
    );
    // an approval signed with someone else's key
    std::fs::write(&plan, &text).unwrap();
    ok(&["approve", &plan, "--key-file", &p("alice.key"), "--approver", "bob", "-o", &p("forged.jsonl")]);
    let o = faultlens(&[
        "approvals",
        &plan,
        "--policy",
        &p("policy.json"),
        "--approvals",
        &p("forged.jsonl"),
        "--author",
        "carol",
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("signature does not verify"), "{o:?}");
}

#[test]
fn plan_preflight_run_and_audit_on_the_demo_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let bundle = repo().join("examples/bundles/bad-deploy");
    let rem = repo().join("examples/remediation");
    let r = |name: &str| rem.join(name).to_str().unwrap().to_string();
    ok(&["plan", bundle.to_str().unwrap(), "--namespace", "shop", "--top", "3", "--out-dir", &p("plans")]);
    let plan = p("plans/plan-1.json");
    for f in ["plan-1.sh", "plan-1.apply.sh", "plan-1.rollback.sh"] {
        assert!(std::fs::read_to_string(dir.join("plans").join(f)).unwrap().starts_with("#!/bin/sh\n"));
    }
    let policies = bundle.join("policies");
    let pre = |extra: &[&str]| {
        let mut args =
            vec!["preflight", plan.as_str(), "--policy", policies.to_str().unwrap(), "--at", "2026-11-16T10:00:00Z"];
        args.extend_from_slice(extra);
        faultlens(&args)
    };
    // every gate fed: pass (0)
    let all = ["--dry-run", &r("dry-run.txt"), "--budget", &r("budget.json"), "--freeze", &r("freeze.json")];
    let o = pre(&all);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    // inputs missing: insufficient evidence (2)
    assert_eq!(pre(&[]).status.code(), Some(2));
    // inside a freeze: block (1), in every output format
    for out in ["json", "junit", "github", "sarif", "tap", "text"] {
        let o = faultlens(&[
            "preflight",
            &plan,
            "--policy",
            policies.to_str().unwrap(),
            "--at",
            "2026-12-25T10:00:00Z",
            "--dry-run",
            &r("dry-run.txt"),
            "--budget",
            &r("budget.json"),
            "--freeze",
            &r("freeze.json"),
            "--output",
            out,
        ]);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(!o.stdout.is_empty());
    }
    // a mistyped namespace blocks rather than passes
    let o = pre(&[&all[..], &["--namespace", "mian"]].concat());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no policy declares package `mian`"));

    // approvals and a dry run through the demo's kubectl stand-in, audited
    let alice = ok(&["audit", "keygen", "--out", &p("alice.key")]).trim().to_string();
    let runner = ok(&["audit", "keygen", "--out", &p("runner.key")]).trim().to_string();
    let policy = serde_json::json!({"approvers": [{"name": "alice", "key": alice, "roles": ["sre"]}], "required": 1});
    std::fs::write(p("policy.json"), policy.to_string()).unwrap();
    let run = |approvals: &str, extra: &[&str]| {
        let approval_policy = p("policy.json");
        let mut args = vec!["run", plan.as_str(), "--approvals", approvals, "--approval-policy", &approval_policy];
        let audit = p("audit.jsonl");
        let key = p("runner.key");
        args.extend_from_slice(&["--audit", &audit, "--key-file", &key]);
        args.extend_from_slice(extra);
        let path = format!("{}:{}", rem.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        Command::new(env!("CARGO_BIN_EXE_faultlens")).args(&args).env("PATH", path).output().unwrap()
    };
    std::fs::write(p("none.jsonl"), "").unwrap();
    assert_eq!(run(&p("none.jsonl"), &["--allow-namespace", "shop"]).status.code(), Some(1), "not approved");
    ok(&["approve", &plan, "--key-file", &p("alice.key"), "--approver", "alice", "-o", &p("approvals.jsonl")]);
    assert_eq!(run(&p("approvals.jsonl"), &[]).status.code(), Some(1), "namespace not allowed");
    let o = run(&p("approvals.jsonl"), &["--allow-namespace", "shop"]);
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("--dry-run=server"));
    // --apply reaches the stand-in, which refuses: the run fails, the failure is audited
    let o = run(&p("approvals.jsonl"), &["--allow-namespace", "shop", "--apply"]);
    assert_eq!(o.status.code(), Some(1));
    let o = faultlens(&["audit", "verify", &p("audit.jsonl"), "--key", &runner]);
    assert!(o.status.success(), "{o:?}");
    let log = std::fs::read_to_string(p("audit.jsonl")).unwrap();
    assert_eq!(log.matches("run.refused").count(), 2);
    assert!(log.contains("run.apply") && log.contains("run.rollback"));
}

#[test]
fn policy_test_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("deploy.yaml");
    std::fs::write(
        &m,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:latest\n",
    )
    .unwrap();
    let policies = repo().join("examples/bundles/bad-deploy/policies");
    let o = faultlens(&["policy", "test", m.to_str().unwrap(), "--policy", policies.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("FAIL - ") && out.contains(":latest image") && out.contains("WARN - "), "{out}");
    let o = faultlens(&[
        "policy",
        "test",
        m.to_str().unwrap(),
        "--policy",
        policies.to_str().unwrap(),
        "--namespace",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // a suite of our own (the shared Gatekeeper suites are run by the remediate crate's tests)
    let suite_dir = repo().join("crates/remediate/tests/fixtures/suite");
    let o = faultlens(&["policy", "verify", suite_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("3 passed, 0 failed\n"), "{o:?}");
}

#[test]
fn gitops_apply_commits_on_a_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    let git = |args: &[&str]| {
        let o = Command::new("git").arg("-C").arg(r).args(args).output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    git(&["init", "-q", "--initial-branch=main"]);
    std::fs::create_dir_all(r.join("apps/billing")).unwrap();
    std::fs::write(r.join("apps/billing/values.yaml"), "image:\n  tag: v1.5.0\n").unwrap();
    git(&["add", "."]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"]);
    let repo = r.to_str().unwrap();
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "gitops",
            "apply",
            "--repo",
            repo,
            "--file",
            "apps/billing/values.yaml",
            "--set",
            "image.tag=v1.4.2",
            "--expect",
            "image.tag=v1.5.0",
            "--branch",
            "faultlens/revert",
            "--message",
            "Revert billing",
            "--github",
            "shop/deploy",
        ];
        args.extend_from_slice(extra);
        faultlens(&args)
    };
    let dry: serde_json::Value = serde_json::from_slice(&apply(&["--dry-run"]).stdout).unwrap();
    assert_eq!(dry["commit"], serde_json::Value::Null);
    let o = apply(&[]);
    assert!(o.status.success(), "{o:?}");
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["endpoint"], "POST /repos/shop/deploy/pulls");
    assert_eq!(out["pull_request"]["base"], "main");
    assert!(git(&["show", "faultlens/revert:apps/billing/values.yaml"]).contains("tag: v1.4.2"));
    // the branch exists now: refused (exit 1); a malformed --set is a usage error (exit 2)
    assert_eq!(apply(&[]).status.code(), Some(1));
    let o = faultlens(&[
        "gitops",
        "apply",
        "--repo",
        repo,
        "--file",
        "f.yaml",
        "--set",
        "novalue",
        "--branch",
        "b",
        "--message",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
