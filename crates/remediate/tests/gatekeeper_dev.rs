//! The Gatekeeper library's development suites (`../shared/data/gatekeeper-dev`), when present.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use faultlens_remediate::policy::gatekeeper::verify_path;

#[test]
fn every_dev_suite_case_passes() {
    // `$FAULTLENS_SHARED` (the Makefile sets it from `SHARED`), else `../shared` beside the
    // repository.
    let shared = std::env::var_os("FAULTLENS_SHARED")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"), std::path::PathBuf::from);
    let root = shared.join("data/gatekeeper-dev/library");
    if !root.exists() {
        eprintln!("SKIP: {} is absent; the Gatekeeper dev suites were not run", root.display());
        return;
    }
    let report = verify_path(&root).unwrap();
    for c in report.cases.iter().filter(|c| !c.passed) {
        eprintln!("FAIL {} / {} / {}: {:?}", c.suite.display(), c.test, c.case, c.failures);
    }
    eprintln!("{} passed, {} failed", report.passed(), report.failed());
    assert!(report.cases.len() >= 100, "only {} cases found", report.cases.len());
    assert_eq!(report.failed(), 0);
}
