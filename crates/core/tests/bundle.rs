//! Bundle v1: loading, every error the spec names, seal/verify, round trips, schema drift.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use faultlens_core::{Bundle, Error, ErrorKind, LoadOptions, Manifest, Records, SourceFormat};

const PROM: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"cpu","service":"cart"},"values":[[1762092000,"0.5"],[1762092015,"0.7"]]}]}}"#;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn manifest(sources: &str) -> String {
    format!(
        "format: faultlens.bundle/v1\nincident:\n  id: inc-1\n  detected_at: 2025-11-02T14:05:00Z\nsources:\n{sources}ground_truth:\n  root_cause_service: cart\n"
    )
}

fn bundle_with(sources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "metrics/cpu.json", PROM);
    write(dir.path(), "topology.json", r#"{"services":["web","cart"],"edges":[{"from":"web","to":"cart"}]}"#);
    write(dir.path(), "runbooks/cart.md", "# Cart\n## CPU\nscale it\n");
    write(dir.path(), "runbooks/sub/db.md", "# DB\n");
    write(dir.path(), "runbooks/notes.txt", "ignored");
    write(dir.path(), "bundle.yaml", &manifest(sources));
    dir
}

const GOOD: &str = "  - path: metrics/cpu.json\n    kind: metrics\n    format: prometheus_query_range\n  - path: topology.json\n    kind: topology\n    format: faultlens_topology\n  - path: runbooks\n    kind: knowledge\n    format: markdown\n";

fn load_err(sources: &str) -> Error {
    let dir = bundle_with(sources);
    Bundle::load(dir.path()).expect_err("load should fail")
}

#[test]
fn loads_decodes_and_hides_ground_truth() {
    let dir = bundle_with(GOOD);
    let b = Bundle::load(dir.path()).unwrap();
    assert_eq!(b.incident().window.duration_millis(), (2 * 3600 + 1800) * 1000);
    let data = b.decode().unwrap();
    assert_eq!(data.series.len(), 1);
    assert_eq!(data.series_source(0).unwrap().path, "metrics/cpu.json");
    assert_eq!(data.knowledge.len(), 2);
    assert_eq!(data.knowledge[0].path, "runbooks/cart.md");
    assert!(data.topology.depends_on("web", "cart"));
    let json = serde_json::to_string(&data).unwrap();
    assert!(!json.contains("root_cause"), "decoded data must not carry ground truth");
    assert_eq!(b.ground_truth().unwrap().root_cause_service.as_deref(), Some("cart"));
}

#[test]
fn unknown_keys_are_errors_naming_the_field() {
    let dir = bundle_with(GOOD);
    let text = std::fs::read_to_string(dir.path().join("bundle.yaml"))
        .unwrap()
        .replace("  id: inc-1", "  id: inc-1\n  severity: high");
    write(dir.path(), "bundle.yaml", &text);
    let e = Bundle::load(dir.path()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidManifest);
    assert!(e.to_string().contains("incident") && e.to_string().contains("severity"), "{e}");

    let e =
        load_err("  - path: metrics/cpu.json\n    kind: metrics\n    format: prometheus_query_range\n    sha: abc\n");
    assert!(e.to_string().contains("sources[0]"), "{e}");
}

#[test]
fn wrong_kind_format_pairs_and_formats_are_errors() {
    let e = load_err("  - path: metrics/cpu.json\n    kind: logs\n    format: prometheus_query_range\n");
    assert!(e.to_string().contains("sources[0].format"), "{e}");
    let e = load_err("  - path: metrics/cpu.json\n    kind: metrics\n    format: graphite\n");
    assert!(e.to_string().contains("graphite"), "{e}");
    let e = load_err("");
    assert_eq!(e.kind(), ErrorKind::InvalidManifest);
}

#[test]
fn paths_that_escape_are_refused() {
    for p in ["../outside.json", "/etc/passwd", "metrics/../../x.json"] {
        let e = load_err(&format!("  - path: {p}\n    kind: metrics\n    format: prometheus_query_range\n"));
        assert!(matches!(e, Error::PathEscapesBundle { .. }), "{p}: {e}");
    }
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.json", PROM);
        let dir = bundle_with("  - path: link.json\n    kind: metrics\n    format: prometheus_query_range\n");
        std::os::unix::fs::symlink(outside.path().join("secret.json"), dir.path().join("link.json")).unwrap();
        let e = Bundle::load(dir.path()).unwrap_err();
        assert!(matches!(e, Error::PathEscapesBundle { .. }), "{e}");
    }
}

#[test]
fn missing_file_and_directory_for_file_format() {
    let e = load_err("  - path: metrics/nope.json\n    kind: metrics\n    format: prometheus_query_range\n");
    assert!(matches!(e, Error::MissingSource { .. }) && e.to_string().contains("metrics/nope.json"), "{e}");
    let e = load_err("  - path: metrics\n    kind: metrics\n    format: prometheus_query_range\n");
    assert!(e.to_string().contains("directory"), "{e}");
}

#[test]
fn detected_at_outside_window() {
    let dir = bundle_with(GOOD);
    let text = std::fs::read_to_string(dir.path().join("bundle.yaml")).unwrap().replace(
        "  detected_at: 2025-11-02T14:05:00Z",
        "  detected_at: 2025-11-02T14:05:00Z\n  window: {start: 2025-11-02T15:00:00Z, end: 2025-11-02T16:00:00Z}",
    );
    write(dir.path(), "bundle.yaml", &text);
    assert!(Bundle::load(dir.path()).unwrap_err().to_string().contains("incident.window"));
}

#[test]
fn seal_verify_and_tamper_detection() {
    let dir = bundle_with(GOOD);
    let mut b = Bundle::load(dir.path()).unwrap();
    assert_eq!(b.verify().unwrap().len(), 3, "unsealed sources are reported");
    b.seal().unwrap();
    assert!(b.verify().unwrap().is_empty());
    let b = Bundle::load(dir.path()).unwrap();
    assert!(b.manifest().sources.iter().all(|s| s.sha256.is_some()));

    // loading and decoding in one reads each source once, and decodes what load then decode do
    let (_, once) = Bundle::load_decoded(dir.path(), LoadOptions::default()).unwrap();
    let twice = Bundle::load(dir.path()).unwrap().decode().unwrap();
    assert_eq!(once, twice);

    // edit a file inside a directory source
    write(dir.path(), "runbooks/sub/db.md", "# DB\nchanged\n");
    let e = Bundle::load(dir.path()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IntegrityMismatch);
    assert!(e.to_string().contains("runbooks"), "{e}");
    let e = Bundle::load_decoded(dir.path(), LoadOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IntegrityMismatch);
    assert!(e.to_string().contains("runbooks"), "{e}");
    // unchecked when asked not to verify, as load
    assert!(Bundle::load_decoded(dir.path(), LoadOptions::default().with_verify_hashes(false)).is_ok());
    let issues =
        Bundle::load_with(dir.path(), LoadOptions::default().with_verify_hashes(false)).unwrap().verify().unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, "runbooks");

    // edit a plain file
    write(dir.path(), "runbooks/sub/db.md", "# DB\n");
    write(dir.path(), "metrics/cpu.json", &PROM.replace("0.7", "0.8"));
    let e = Bundle::load(dir.path()).unwrap_err();
    assert!(matches!(e, Error::Sha256Mismatch { .. }) && e.to_string().contains("cpu.json"), "{e}");
    // a tampered source is refused before it is decoded, even one that no longer decodes
    write(dir.path(), "metrics/cpu.json", "{ not json");
    let e = Bundle::load_decoded(dir.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Sha256Mismatch { .. }) && e.to_string().contains("cpu.json"), "{e}");
}

#[test]
fn oversized_source_is_refused() {
    let dir = bundle_with(GOOD);
    // a sparse 2 GiB file costs no disk
    let f = std::fs::File::create(dir.path().join("metrics/cpu.json")).unwrap();
    f.set_len(2 << 30).unwrap();
    let e = Bundle::load(dir.path()).unwrap_err();
    assert!(matches!(e, Error::SourceTooLarge { size, .. } if size == 2 << 30), "{e}");
    // a lower limit applies to small files too
    let dir = bundle_with(GOOD);
    let e = Bundle::load_with(dir.path(), LoadOptions::default().with_max_source_bytes(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSource);
}

#[test]
fn decode_errors_name_the_source() {
    let dir = bundle_with(GOOD);
    write(dir.path(), "metrics/cpu.json", &PROM[..PROM.len() / 2]);
    let e = Bundle::load(dir.path()).unwrap().decode().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.to_string().contains("metrics/cpu.json"), "{e}");
}

#[test]
fn save_is_canonical_and_json_manifests_work() {
    let dir = bundle_with(GOOD);
    let mut b = Bundle::load(dir.path()).unwrap();
    b.seal().unwrap();
    let first = std::fs::read(dir.path().join("bundle.yaml")).unwrap();
    Bundle::load(dir.path()).unwrap().save().unwrap();
    assert_eq!(std::fs::read(dir.path().join("bundle.yaml")).unwrap(), first);

    // the same manifest as JSON
    let m: Manifest = serde_yaml_ng::from_slice(&first).unwrap();
    std::fs::remove_file(dir.path().join("bundle.yaml")).unwrap();
    std::fs::write(dir.path().join("bundle.json"), serde_json::to_string_pretty(&m).unwrap() + "\n").unwrap();
    let b = Bundle::load(dir.path()).unwrap();
    assert_eq!(b.manifest(), &m);
    let before = std::fs::read(dir.path().join("bundle.json")).unwrap();
    b.save().unwrap();
    assert_eq!(std::fs::read(dir.path().join("bundle.json")).unwrap(), before);
}

#[test]
fn every_format_has_a_kind_and_a_name() {
    for f in SourceFormat::ALL {
        let s: SourceFormat = serde_json::from_value(serde_json::Value::String(f.as_str().into())).unwrap();
        assert_eq!(s, f);
        let _ = f.kind();
    }
}

#[test]
fn decode_bytes_dispatches_by_format() {
    let d = faultlens_core::decode_bytes(
        SourceFormat::PrometheusQueryRange,
        "m.json",
        PROM.as_bytes(),
        &Default::default(),
    )
    .unwrap();
    assert!(matches!(d.records, Records::Metrics(ref s) if s.len() == 1));
}

/// The committed schema must match the types; regenerate with `make schema`.
#[test]
fn json_schema_has_not_drifted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bundle-v1.schema.json");
    let generated = serde_json::to_string_pretty(&Manifest::json_schema()).unwrap() + "\n";
    if std::env::var_os("FAULTLENS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "docs/bundle-v1.schema.json is stale: run `make schema` and commit it");
}
