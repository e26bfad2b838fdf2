//! Quoting against real shells: whatever the value, a POSIX shell hands the program exactly
//! that value as one argument, and shellcheck accepts the scripts.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

use faultlens_remediate::shell::{Cmd, Script};
use proptest::prelude::*;

mod common;

/// The arguments `shell` passes to `printf '%s\000'` when it runs `line`.
fn through(shell: &str, line: &str) -> Vec<String> {
    let out = Command::new(shell).arg("-c").arg(line).output().unwrap();
    assert!(out.status.success(), "{shell}: {line}: {}", String::from_utf8_lossy(&out.stderr));
    let mut parts: Vec<String> =
        out.stdout.split(|&b| b == 0).map(|p| String::from_utf8(p.to_vec()).unwrap()).collect();
    parts.pop(); // after the last NUL
    parts
}

fn shells() -> Vec<&'static str> {
    ["/bin/sh", "/bin/bash", "/bin/dash"].into_iter().filter(|s| std::path::Path::new(s).exists()).collect()
}

/// Where a hostile value that ran would leave its mark.
const CANARY: &str = "/tmp/faultlens-pwned";

fn hostile() -> impl Strategy<Value = String> {
    common::hostile(CANARY)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Every value arrives as itself, one argument, in every shell here.
    #[test]
    fn every_value_arrives_as_itself(values in proptest::collection::vec(hostile(), 1..6)) {
        let line = Cmd::new("printf").arg("%s\\000").args(values.clone()).render().unwrap();
        for shell in shells() {
            prop_assert_eq!(&through(shell, &line), &values, "{}: {}", shell, line);
        }
        prop_assert!(!std::path::Path::new(CANARY).exists());
    }
}

#[test]
fn scripts_pass_shellcheck() {
    if !common::tool("shellcheck") {
        return;
    }
    let mut s = Script::default();
    s.comment("roll back billing: the deploy argocd:billing:1 is the likely cause\n$(not a command)");
    for v in ["$(touch /tmp/x)", "`id`", "it's", "a\nb", "*", "", "--all", "~", "a b\tc", "ünïcødé"] {
        s.run(Cmd::new("kubectl").args(["--namespace", v, "rollout", "undo", "--", v]));
    }
    common::assert_shellcheck(&s.render().unwrap());
}
