//! Where regorus 0.14 and OPA differ, and what our layer does about it. Each test states OPA's
//! answer; a test fails when our layer stops giving it (or, for the remaining difference, when
//! regorus changes and the note in `policy::compat` should be revisited).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use faultlens_remediate::policy::{PolicyError, Rego, RegoVersion};
use serde_json::{Value, json};

fn eval(modules: &[(&str, &str)], rule: &str) -> Result<Option<Value>, PolicyError> {
    let m: Vec<(PathBuf, String)> = modules.iter().map(|(p, s)| (PathBuf::from(p), (*s).to_owned())).collect();
    Rego::compile(&m, RegoVersion::V0)?.eval_rule(rule, &json!({"a": 1, "name": "web"}), None)
}

#[test]
fn several_bodies_of_one_rule_are_several_rules() {
    // OPA: `p { a } { b }` is `p { a }` plus `p { b }`. regorus alone rejects it; we split it.
    let src = "package x\nviolation[{\"msg\": msg}] {\n  input.a == 2\n  msg := \"two\"\n} {\n  input.a == 1\n  msg := \"one\"\n}\n";
    assert_eq!(eval(&[("x.rego", src)], "data.x.violation").unwrap(), Some(json!([{"msg": "one"}])));
}

#[test]
fn sprintf_with_missing_arguments_prints_go_text() {
    // OPA: "web has %!d(MISSING)". regorus alone makes the call undefined, and with it the rule.
    let src = "package x\ndeny[msg] {\n  msg := sprintf(\"%s has %d\", [input.name])\n}\n";
    assert_eq!(eval(&[("x.rego", src)], "data.x.deny").unwrap(), Some(json!(["web has %!d(MISSING)"])));
}

#[test]
fn parenthesised_expressions_may_continue_on_the_next_line() {
    // OPA: 3 and true. regorus 0.14.1 agrees (earlier versions did not): no rewrite needed.
    assert_eq!(eval(&[("x.rego", "package x\np := (1 +\n  2)\n")], "data.x.p").unwrap(), Some(json!(3)));
    let body = "package x\np {\n  (input.a\n  == 1)\n}\n";
    assert_eq!(eval(&[("x.rego", body)], "data.x.p").unwrap(), Some(json!(true)));
}

#[test]
fn not_over_an_undefined_reference_is_true() {
    // OPA: true in each case. regorus 0.14.1 agrees.
    for body in ["not input.missing.field", "not data.nope.rule", "not input.a.b == 2", "not q[\"k\"]"] {
        let src = format!("package x\np {{ {body} }}\nq[v] {{ v := input.none }}\n");
        assert_eq!(eval(&[("x.rego", &src)], "data.x.p").unwrap(), Some(json!(true)), "{body}");
    }
}

#[test]
fn whole_package_queries_remain_unsupported() {
    // OPA: `data.a` is the package's object of rules. regorus's `eval_rule` takes rules only,
    // and two packages importing each other are taken as a cycle even when no rule depends on
    // itself (OPA: `data.a.p` is 2). Our layer never queries a whole package: conftest rules are
    // found by name in the parsed modules and queried one by one. A cycle is an error, so a
    // policy set written that way blocks rather than passes.
    let two = [
        ("a.rego", "package a\nimport data.b\np := b.q + 1\n"),
        ("b.rego", "package b\nimport data.a\nq := 1\nr := a.p\n"),
    ];
    assert!(eval(&two, "data.a").is_err());
    assert!(eval(&two, "data.a.p").is_err());
    // Without the back edge the same query works.
    let one_way = [("a.rego", "package a\nimport data.b\np := b.q + 1\n"), ("b.rego", "package b\nq := 1\n")];
    assert_eq!(eval(&one_way, "data.a.p").unwrap(), Some(json!(2)));
}
