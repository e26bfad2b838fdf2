//! Printing helpers.

use serde::Serialize;

use crate::Failure;

/// Prints a value as pretty JSON on stdout.
pub(crate) fn json<T: Serialize>(v: &T) -> Result<(), Failure> {
    let s =
        serde_json::to_string_pretty(v).map_err(|e| Failure { reported: false, code: 3, message: e.to_string() })?;
    println!("{s}");
    Ok(())
}

/// `12.3 MB`-style sizes.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B")) }
}

/// `+12m`, `-1h05m` offsets relative to a reference instant.
pub(crate) fn offset(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let m = ms.abs() / 60_000;
    if m >= 60 { format!("{sign}{}h{:02}m", m / 60, m % 60) } else { format!("{sign}{m}m") }
}

/// "; test: ..." naming the test that found an anomaly window, or nothing when it is unknown.
pub(crate) fn kind_suffix(kind: Option<faultlens::detect::metrics::AnomalyKind>) -> String {
    kind.map(|k| format!("; test: {k}")).unwrap_or_default()
}

/// A number in four significant digits with an SI suffix for large magnitudes.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 1.0 {
        3
    } else {
        4
    };
    format!("{x:.digits$}{suffix}")
}
