//! Untrusted input never panics: dry-run output, YAML and JSON documents, Rego rewrites and
//! policies of any text give a value or an error.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use faultlens_remediate::policy::compat::{guard_sprintf, split_multi_body_rules, sprintf_format};
use faultlens_remediate::policy::conftest::{Conftest, ConftestConfig};
use faultlens_remediate::policy::parse_documents;
use faultlens_remediate::preflight::parse_dry_run;
use proptest::prelude::*;

fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[{}\\[\\]\"'`#:,\\- \n\ta-z0-9%]{0,80}",
        Just("diff -u a b\n--- a\n+++ b\n-x\n".to_string()),
        Just("{\"resource_changes\": [{\"change\": {\"actions\": [\"delete\"]}}]}".to_string()),
        Just("---\n---\n- a\n: b\n".to_string()),
        Just("package main\np { a } { b } {".to_string()),
        Just("sprintf(sprintf(\"%s\", [".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dry_run_output_parses_or_errs(text in texty()) {
        let _ = parse_dry_run(&text);
    }

    #[test]
    fn documents_parse_or_err(text in texty()) {
        if let Ok(docs) = parse_documents(Path::new("x.yaml"), &text) {
            for d in docs {
                prop_assert!(d.line >= 1);
            }
        }
    }

    #[test]
    fn rego_rewrites_never_panic_and_leave_plain_text_alone(text in texty()) {
        let split = split_multi_body_rules(&text);
        let guarded = guard_sprintf(&split);
        if !text.contains("sprintf(") && !text.contains('}') {
            prop_assert_eq!(guarded.as_ref(), text.as_str());
        }
        let _ = sprintf_format(&text, 2);
    }

    #[test]
    fn any_module_compiles_or_errs(text in texty()) {
        let _ = Conftest::from_modules(&[(PathBuf::from("p.rego"), text)], &ConftestConfig::default(), Path::new("p"));
    }
}
