//! Rewrites that make regorus accept Rego that OPA accepts.
//!
//! regorus 0.14 differs from OPA on a few constructs. Those we can fix in the source, before
//! parsing, without changing what the policy means:
//! - **Rules with several bodies** (Rego v0): `p { a } { b }` is OPA's shorthand for two rules,
//!   `p { a }` and `p { b }`; regorus rejects the second body ("else cannot be used with set
//!   rules"). [`split_multi_body_rules`] repeats the head before each further body.
//!
//! - **`sprintf` with missing arguments**: OPA (Go's `fmt`) writes `%!s(MISSING)` for a verb
//!   without an argument; regorus fails the call, the expression is undefined and a `deny` rule
//!   that builds its message that way silently vanishes. [`guard_sprintf`] rewrites
//!   `sprintf(f, a)` to `sprintf(faultlens_sprintf_format(f, a), a)`, whose format has each verb
//!   without an argument replaced by OPA's text (see [`sprintf_format`]).
//!
//! The differences we cannot mend here are tested and documented in `policy::tests`.

use std::borrow::Cow;

/// Repeats a rule's head before each of its further bodies: `p[x] { a } { b }` becomes
/// `p[x] { a }` and `p[x] { b }` on the next line. Strings, raw strings and comments are
/// skipped; nothing else is touched, and a module without such rules is returned as it is.
#[must_use]
pub fn split_multi_body_rules(src: &str) -> Cow<'_, str> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // Start of the current top-level statement and the end of its head (its first body's `{`).
    let mut stmt_start: Option<usize> = None;
    let mut head: Option<(usize, usize)> = None;
    let mut at_line_start = true;
    // Whether the open top-level `{` is a rule body (not a value such as `f(x) = {"a": x} {`).
    let mut in_body = false;
    let mut prev = b'\n';
    let mut inserts: Vec<(usize, (usize, usize))> = Vec::new();
    while let Some(&c) = bytes.get(i) {
        match c {
            b'#' | b'"' | b'`' => {
                i = skip_literal(bytes, i);
                // A string starts (or continues) a statement; a comment does not.
                at_line_start &= c == b'#';
                continue;
            }
            b'\n' => {
                at_line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 && at_line_start && (c.is_ascii_alphabetic() || c == b'_') {
            stmt_start = Some(i);
            head = None;
        }
        at_line_start = false;
        match c {
            b'{' | b'[' | b'(' => {
                if depth == 0 && c == b'{' {
                    in_body =
                        !matches!(prev, b'=' | b':' | b',' | b'+' | b'-' | b'*' | b'/' | b'|' | b'&' | b'<' | b'>');
                    if in_body && head.is_none() {
                        head = stmt_start.map(|s| (s, i));
                    }
                }
                depth += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && c == b'}' && std::mem::take(&mut in_body) {
                    // A further body follows when the next token is `{`.
                    let next = next_token(bytes, i + 1);
                    if bytes.get(next) == Some(&b'{')
                        && let Some(h) = head
                    {
                        inserts.push((next, h));
                    }
                }
            }
            _ => {}
        }
        prev = c;
        i += 1;
    }
    if inserts.is_empty() {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + inserts.len() * 32);
    let mut from = 0;
    for (at, (hs, he)) in inserts {
        out.push_str(src.get(from..at).unwrap_or_default());
        out.push('\n');
        out.push_str(src.get(hs..he).unwrap_or_default().trim_end());
        out.push(' ');
        from = at;
    }
    out.push_str(src.get(from..).unwrap_or_default());
    Cow::Owned(out)
}

/// The extension [`guard_sprintf`] calls: its name in Rego.
pub const SPRINTF_FORMAT: &str = "faultlens_sprintf_format";

/// Rewrites every `sprintf(f, a)` call to `sprintf(faultlens_sprintf_format(f, a), a)`.
#[must_use]
pub fn guard_sprintf(src: &str) -> Cow<'_, str> {
    if !src.contains("sprintf(") {
        return Cow::Borrowed(src);
    }
    Cow::Owned(rewrite_sprintf(src))
}

fn rewrite_sprintf(src: &str) -> String {
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut from = 0;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'#' | b'"' | b'`' => {
                i = skip_literal(bytes, i);
                continue;
            }
            b's' if src.get(i..).is_some_and(|r| r.starts_with("sprintf("))
                && !i
                    .checked_sub(1)
                    .and_then(|j| bytes.get(j))
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') =>
            {
                let open = i + "sprintf".len();
                if let Some((comma, close)) = split_two_args(bytes, open) {
                    let fmt = rewrite_sprintf(src.get(open + 1..comma).unwrap_or_default());
                    let args = rewrite_sprintf(src.get(comma + 1..close).unwrap_or_default());
                    out.push_str(src.get(from..i).unwrap_or_default());
                    out.push_str(&format!("sprintf({SPRINTF_FORMAT}({fmt},{args}),{args})"));
                    i = close + 1;
                    from = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(src.get(from..).unwrap_or_default());
    out
}

/// Skips a comment, a string or a raw string starting at `i`; the index after it.
fn skip_literal(bytes: &[u8], mut i: usize) -> usize {
    match bytes.get(i) {
        Some(b'#') => {
            while bytes.get(i).is_some_and(|&b| b != b'\n') {
                i += 1;
            }
            i
        }
        Some(b'"') => {
            i += 1;
            while let Some(&b) = bytes.get(i) {
                i += if b == b'\\' { 2 } else { 1 };
                if b == b'"' || b == b'\n' {
                    break;
                }
            }
            i
        }
        Some(b'`') => {
            i += 1;
            while bytes.get(i).is_some_and(|&b| b != b'`') {
                i += 1;
            }
            i + 1
        }
        _ => i + 1,
    }
}

/// For the call whose `(` is at `open`: the index of the comma between its two arguments and
/// of its closing `)`, when it has exactly two.
fn split_two_args(bytes: &[u8], open: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut comma = None;
    let mut i = open;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'#' | b'"' | b'`' => {
                i = skip_literal(bytes, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return comma.map(|k| (k, i));
                }
            }
            b',' if depth == 1 => {
                if comma.is_some() {
                    return None;
                }
                comma = Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `format` with each verb that has no argument among `n_args` replaced by OPA's text for it
/// (`%!s(MISSING)`, written as `%%!s(MISSING)` so that `sprintf` prints it as it is). Verbs are
/// parsed as regorus parses them: `%%`, or `%`, an optional width or precision, and a letter.
#[must_use]
pub fn sprintf_format(format: &str, n_args: usize) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    let mut verbs = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push_str("%%");
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit() || **d == '.') {
            spec.push(d);
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out.push('%');
            out.push_str(&spec);
            break;
        };
        if verbs < n_args {
            out.push('%');
            out.push_str(&spec);
            out.push(verb);
        } else {
            out.push_str(&format!("%%!{verb}(MISSING)"));
        }
        verbs += 1;
    }
    out
}

/// Index of the next byte that is not white space or inside a comment.
fn next_token(bytes: &[u8], mut i: usize) -> usize {
    loop {
        match bytes.get(i) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
            Some(b'#') => i = skip_literal(bytes, i),
            _ => return i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_the_head_before_each_further_body() {
        let src = "package x\n\nviolation[{\"msg\": msg}] {\n  a\n  msg := \"}{\"\n} {\n  b # } {\n  msg := `x}`\n}\n";
        let out = split_multi_body_rules(src);
        assert_eq!(
            out,
            "package x\n\nviolation[{\"msg\": msg}] {\n  a\n  msg := \"}{\"\n} \nviolation[{\"msg\": msg}] {\n  b # } {\n  msg := `x}`\n}\n"
        );
    }

    #[test]
    fn leaves_else_chains_and_ordinary_rules_alone() {
        let src = "package x\np = 1 { a } else = 2 { b }\nq { c }\nr := {\"a\": 1}\n";
        assert!(matches!(split_multi_body_rules(src), Cow::Borrowed(_)));
    }

    #[test]
    fn an_object_value_in_the_head_is_not_a_body() {
        let src = "package x\nf(c) = {\"p\": p} {\n  p := c\n}\n";
        assert!(matches!(split_multi_body_rules(src), Cow::Borrowed(_)));
        let two = split_multi_body_rules("f(c) = {\"p\": p} {\n  p := c\n} {\n  p := 2\n}\n");
        assert_eq!(two.matches("f(c) = {\"p\": p} {").count(), 2);
    }

    #[test]
    fn sprintf_calls_get_a_guarded_format() {
        let src = "m := sprintf(\"%v: %v\", [a, sprintf(\"x%d\", [1])]) # sprintf(\n";
        let out = guard_sprintf(src);
        assert_eq!(
            out,
            "m := sprintf(faultlens_sprintf_format(\"%v: %v\", [a, sprintf(faultlens_sprintf_format(\"x%d\", [1]), [1])]), \
             [a, sprintf(faultlens_sprintf_format(\"x%d\", [1]), [1])]) # sprintf(\n"
        );
        assert!(matches!(guard_sprintf("x := 1"), Cow::Borrowed(_)));
        // Another function whose name ends in sprintf is left alone.
        assert_eq!(guard_sprintf("my_sprintf(a, b)"), "my_sprintf(a, b)");
    }

    #[test]
    fn missing_arguments_become_opa_text() {
        assert_eq!(sprintf_format("%s and %d", 1), "%s and %%!d(MISSING)");
        assert_eq!(sprintf_format("100%% %.2f %5s", 0), "100%% %%!f(MISSING) %%!s(MISSING)");
        assert_eq!(sprintf_format("%v", 1), "%v");
        assert_eq!(sprintf_format("tail %", 0), "tail %");
    }

    #[test]
    fn three_bodies_get_the_head_twice() {
        let out = split_multi_body_rules("f(x) = y {\n y := 1\n} {\n y := 2\n} {\n y := 3\n}\n");
        assert_eq!(out.matches("f(x) = y {").count(), 3);
    }
}
