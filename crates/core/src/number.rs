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

/// The `p` quantile of values sorted ascending, interpolated linearly between the two nearest
/// ranks (R's type 7, numpy's default); 0 for no values.
#[must_use]
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let pos = p * sorted.len().saturating_sub(1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (a, b) = (sorted.get(lo).copied().unwrap_or(0.0), sorted.get(hi).copied().unwrap_or(0.0));
    a + (b - a) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::{format_number, quantile_sorted};

    #[test]
    fn type_7_quantiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert_eq!(quantile_sorted(&v, 0.25), 1.75);
        assert_eq!(quantile_sorted(&v, 1.0), 4.0);
        assert_eq!(quantile_sorted(&[], 0.5), 0.0);
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(format_number(0.012_345), "0.01235");
        assert_eq!(format_number(1234.5), "1234");
        assert_eq!(format_number(-12.345), "-12.35");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(f64::NAN), "NaN");
    }
}
