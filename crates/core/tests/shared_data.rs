//! Loads and decodes the real benchmark bundles of `../shared/data/rca-dev` when present.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use faultlens_core::Bundle;

/// `$FAULTLENS_SHARED/data/rca-dev` (the Makefile sets it from `SHARED`), else
/// `../shared/data/rca-dev` beside the repository.
fn rca_dev() -> Option<PathBuf> {
    let shared = std::env::var_os("FAULTLENS_SHARED")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"), PathBuf::from);
    let p = shared.join("data/rca-dev");
    p.is_dir().then_some(p)
}

#[test]
fn real_bundles_load_verify_and_decode() {
    let Some(root) = rca_dev() else {
        eprintln!("SKIPPED: ../shared/data/rca-dev is absent; real-bundle checks not run");
        return;
    };
    let mut checked = 0;
    for set in ["sockshop1", "petshop"] {
        let mut dirs: Vec<_> =
            std::fs::read_dir(root.join(set)).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for dir in dirs.iter().take(6) {
            let b = Bundle::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert!(b.verify().unwrap().is_empty(), "{}", dir.display());
            let d = b.decode().unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert!(!d.series.is_empty());
            assert!(!d.topology.is_empty());
            assert!(d.series.iter().all(|s| s.service(None).is_some()));
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
