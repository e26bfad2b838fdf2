//! Numbers in human-readable reports.

/// `v` with four significant digits in fixed notation (`0.01235`, `1235`, `12.35`); zero and
/// non-finite values as Rust prints them.
#[must_use]
pub fn format_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{v:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::format_number;

    #[test]
    fn four_significant_digits() {
        assert_eq!(format_number(0.012_345), "0.01235");
        assert_eq!(format_number(1234.5), "1234");
        assert_eq!(format_number(-12.345), "-12.35");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(f64::NAN), "NaN");
    }
}
