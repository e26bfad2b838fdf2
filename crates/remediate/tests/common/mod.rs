//! Helpers shared by the integration tests: fixtures, and checks with external tools.
#![allow(dead_code)] // each test file uses its own share of the helpers

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Whether `name` runs; under `FAULTLENS_REQUIRE_TOOLS` (as `make test` sets it) a missing
/// tool fails the test instead of skipping it.
pub(crate) fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var_os("FAULTLENS_REQUIRE_TOOLS").is_none(), "{name} is required (FAULTLENS_REQUIRE_TOOLS)");
        println!("SKIPPED: {name} is not installed");
    }
    found
}

/// Asserts that shellcheck accepts `script` as a POSIX sh script at style severity.
pub(crate) fn assert_shellcheck(script: &str) {
    let mut child = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stdout));
}

/// A change `id` of the `billing` service from `from` to `to`.
pub(crate) fn change(id: &str, kind: faultlens_core::ChangeKind, from: &str, to: &str) -> faultlens_core::ChangeEvent {
    faultlens_core::ChangeEvent {
        id: id.into(),
        at: faultlens_core::Timestamp::from_millis(0),
        service: "billing".into(),
        kind,
        from: Some(from.into()),
        to: Some(to.into()),
        source: None,
        author: None,
        description: None,
    }
}

/// Values telemetry might hold, hostile to shells, YAML and Jinja: command substitutions and
/// quote breaks that would create `canary` if a generated command ever ran them, glob and
/// tilde characters, option lookalikes, line breaks, and arbitrary text (NUL removed, as no
/// argument can carry it).
pub(crate) fn hostile(canary: &'static str) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        Just(format!("$(touch {canary})")),
        Just(format!("`touch {canary}`")),
        Just(format!("'; touch {canary}; '")),
        Just(format!("{{{{ lookup('pipe', 'touch {canary}') }}}}")),
        Just("\"quoted\" \\back".to_string()),
        Just("a'b\"c\\d".to_string()),
        Just("\nnew line".to_string()),
        Just("line\nbreak; rm -rf /".to_string()),
        Just("*".to_string()),
        Just("~root".to_string()),
        Just(String::new()),
        Just("-rf".to_string()),
        "[ -~]{0,12}",
        any::<String>(),
    ]
    .prop_map(|s| s.replace('\0', ""))
}
