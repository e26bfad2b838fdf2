//! Tail probabilities against a series' own history: a decayed histogram of `ln(1 + s)`
//! with an exponential tail beyond its 99th percentile.

use serde::{Deserialize, Serialize};

const BINS: usize = 32;
const WIDTH: f64 = 0.25;
/// Prior pseudo-count, spread as an exponential distribution of the statistic.
const PRIOR: f64 = 20.0;

/// Past points at or beyond a statistic that make it a recurring pattern rather than a novelty.
const RECURRING: f64 = 3.0;

/// Marks a percentile not yet known (`u` is never negative; NaN would not survive JSON).
const UNKNOWN: f32 = -1.0;

/// Adds between refreshes of the cached tail quantiles.
const REFRESH: u16 = 64;

/// A decayed histogram of a non-negative statistic.
///
/// Decay is lazy: instead of shrinking every count on each add, a new point is worth `unit`,
/// which grows by `1 / decay` per add (everything is rescaled when it gets large), so an add is
/// O(1). The 90th and 99th percentiles that shape the tail are cached and refreshed every
/// [`REFRESH`] adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RarityHistogram {
    #[serde(with = "counts")]
    counts: [f32; BINS],
    total: f32,
    unit: f32,
    u90: f32,
    u99: f32,
    since_refresh: u16,
}

mod counts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(c: &[f32; super::BINS], s: S) -> Result<S::Ok, S::Error> {
        c.as_slice().serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; super::BINS], D::Error> {
        let v = Vec::<f32>::deserialize(d)?;
        v.try_into().map_err(|v: Vec<f32>| serde::de::Error::invalid_length(v.len(), &"one count per histogram bin"))
    }
}

/// `ln(1 + x)` for `x >= 0`, to about 1e-12 absolute (see [`fast_ln`]).
#[must_use]
pub(crate) fn fast_ln_1p(x: f64) -> f64 {
    fast_ln(1.0 + x.max(0.0))
}

/// The anomaly score of a tail probability given by its natural log: `-log10(p) / decades`,
/// in `[0, 1]`. A probability of one or more (`ln_p >= 0`), and NaN, score exactly `+0.0`,
/// not `-0.0` (which `-ln_p / ...` would give at `p = 1` and a CSV would print as
/// `-0.000000`).
#[must_use]
pub(crate) fn score_of_ln_p(ln_p: f64, decades: f64) -> f64 {
    let s = -ln_p / std::f64::consts::LN_10 / decades;
    if s > 0.0 { s.min(1.0) } else { 0.0 }
}

/// The rarity of a tail probability in decades, `-log10(p)` (probabilities below `1e-300`
/// count as `1e-300`).
#[must_use]
pub(crate) fn decades(p: f64) -> f64 {
    -fast_ln(p.max(1e-300)) / std::f64::consts::LN_10
}

/// `ln(y)` for `y > 0`, to about 1e-12 absolute: the exponent from the bits, a table of `ln`
/// at 128 points of the mantissa, and a short series for the remainder. Pure arithmetic (no
/// division, no libm), so it gives the same bits everywhere, and several times cheaper than
/// the libm call, which matters at millions of points per second.
/// Subnormal and non-positive inputs give `-745` (about `ln` of the smallest double).
#[must_use]
pub(crate) fn fast_ln(y: f64) -> f64 {
    if !y.is_finite() {
        return y;
    }
    if y < f64::MIN_POSITIVE {
        return -745.0;
    }
    let bits = y.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let k = ((bits >> 45) & 0x7f) as usize;
    let (inv, ln_k) = LN_TABLE.get(k).copied().unwrap_or((1.0, 0.0));
    // m = (1 + k/128)(1 + r) with 0 <= r < 1/128, so four terms of ln(1 + r) reach 1e-12
    let r = m * inv - 1.0;
    let ln_r = r * (1.0 - r * (0.5 - r * (1.0 / 3.0 - r * 0.25)));
    e as f64 * std::f64::consts::LN_2 + ln_k + ln_r
}

/// `(1 / c, ln c)` for `c = 1 + k / 128`, `k` in `0..128`, computed at compile time.
#[allow(clippy::indexing_slicing, reason = "a compile-time loop; an index out of range fails the build")]
const LN_TABLE: [(f64, f64); 128] = {
    let mut t = [(0.0, 0.0); 128];
    let mut k = 0;
    while k < 128 {
        let c = 1.0 + k as f64 / 128.0;
        t[k] = (1.0 / c, const_ln(c));
        k += 1;
    }
    t
};

/// `ln(c)` for `c` in `[1, 2]` by the atanh series, for the compile-time table.
const fn const_ln(c: f64) -> f64 {
    let t = (c - 1.0) / (c + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    let mut i = 0;
    while i < 40 {
        sum += term / (2 * i + 1) as f64;
        term *= t2;
        i += 1;
    }
    2.0 * sum
}

/// A statistic prepared once for every histogram lookup and add: its value, `u = ln(1 + s)`
/// and its bin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    value: f64,
    u: f64,
    bin: usize,
}

impl Stat {
    pub(crate) fn new(value: f64) -> Self {
        let value = value.max(0.0);
        let u = if value > 0.0 { fast_ln_1p(value) } else { 0.0 };
        Self { value, u, bin: bin_of(u) }
    }
}

/// The per-add growth of the unit for a memory of `memory` points (see [`RarityHistogram`]).
pub(crate) fn unit_growth(memory: f64) -> f32 {
    (1.0 / (1.0 - 1.0 / memory.max(10.0))) as f32
}

fn bin_of(u: f64) -> usize {
    // through i32: float to usize conversion is several times dearer on x86-64
    ((u * (1.0 / WIDTH)) as i32).clamp(0, BINS as i32 - 1) as usize
}

/// The prior's tail at `u = ln(1 + s)`: `exp(-2u) = 1 / (1 + s)^2`.
fn prior_tail(one_plus_stat: f64) -> f64 {
    1.0 / (one_plus_stat * one_plus_stat)
}

impl RarityHistogram {
    pub(crate) fn new() -> Self {
        Self { counts: [0.0; BINS], total: 0.0, unit: 1.0, u90: UNKNOWN, u99: UNKNOWN, since_refresh: REFRESH }
    }

    /// Adds a statistic, decaying old counts so the memory is about `memory` points.
    pub(crate) fn add(&mut self, stat: f64, memory: f64) {
        self.add_stat(&Stat::new(stat), unit_growth(memory));
    }

    /// [`Self::add`] for a prepared statistic; `growth` is [`unit_growth`] of the memory.
    pub(crate) fn add_stat(&mut self, stat: &Stat, growth: f32) {
        if let Some(c) = self.counts.get_mut(stat.bin) {
            *c += self.unit;
        }
        self.total += self.unit;
        self.unit *= growth;
        if self.unit > 1e20 {
            for c in &mut self.counts {
                *c /= self.unit;
            }
            self.total /= self.unit;
            self.unit = 1.0;
        }
        self.since_refresh = self.since_refresh.saturating_add(1);
    }

    fn refresh(&mut self) {
        if self.since_refresh >= REFRESH {
            self.u99 = self.quantile_from_top(0.01).map_or(UNKNOWN, |v| v as f32);
            self.u90 = self.quantile_from_top(0.10).map_or(UNKNOWN, |v| v as f32);
            self.since_refresh = 0;
        }
    }

    /// P(S >= stat) under the history, blended with a weak prior, never exactly zero.
    pub(crate) fn tail_probability(&mut self, stat: f64) -> f64 {
        self.tail_probability_stat(&Stat::new(stat))
    }

    /// [`Self::tail_probability`] for a prepared statistic.
    pub(crate) fn tail_probability_stat(&mut self, stat: &Stat) -> f64 {
        let one_plus_stat = 1.0 + stat.value;
        let (u, b) = (stat.u, stat.bin);
        self.refresh();
        // fast path: below the history's 90th percentile a point is unremarkable, and its tail
        // probability is interpolated between 1 at zero and 0.1 at that percentile
        let u90 = f64::from(self.u90);
        if u90 > 0.0 && u <= u90 && self.total > 0.0 {
            return 1.0 - 0.9 * (u / u90);
        }
        let unit = f64::from(self.unit);
        let total = f64::from(self.total) / unit;
        // empirical mass at or above u (linear within the bin), summed from the nearer end
        let mut above = if b < BINS / 2 {
            f64::from(self.total) - f64::from(self.counts.get(..=b).unwrap_or_default().iter().sum::<f32>())
        } else {
            f64::from(self.counts.get(b + 1..).unwrap_or_default().iter().sum::<f32>())
        }
        .max(0.0);
        let frac = 1.0 - (u / WIDTH - b as f64).clamp(0.0, 1.0);
        above += f64::from(self.counts.get(b).copied().unwrap_or(0.0)) * frac;
        let above = above / unit;
        // exponential tail beyond the 99th percentile of the history, its decay measured
        // between the 90th and 99th percentiles so a few extreme points cannot flatten it
        let (u99, u90) = (f64::from(self.u99), f64::from(self.u90));
        let emp = match (u99 >= 0.0, u90 >= 0.0) {
            (true, true) if total > 0.0 && u > u99 => {
                let beta = ((u99 - u90) / std::f64::consts::LN_10).max(WIDTH / 2.0);
                // a pattern that recurred (three or more times at or beyond u) is never rarer than
                // the history shows; one earlier anomaly does not make the next one ordinary
                let extrapolated = 0.01 * total * (-(u - u99) / beta).exp();
                if above >= RECURRING { extrapolated.max(above) } else { extrapolated }
            }
            _ => above,
        };
        let p = (emp + PRIOR * prior_tail(one_plus_stat)) / (total + PRIOR);
        p.clamp(1e-12, 1.0)
    }

    /// [`Self::tail_probability_u`] for a point that is itself in the histogram (batch scoring):
    /// its own count is left out, so a point is not made ordinary by its own presence.
    /// Meant for histograms built without decay.
    pub(crate) fn tail_probability_leave_one_out(&mut self, stat: f64) -> f64 {
        let stat = Stat::new(stat);
        let b = stat.bin;
        let one = self.unit;
        if let Some(c) = self.counts.get_mut(b) {
            *c -= one;
        }
        self.total -= one;
        let p = self.tail_probability_stat(&stat);
        if let Some(c) = self.counts.get_mut(b) {
            *c += one;
        }
        self.total += one;
        p
    }

    /// The value of `u` above which a fraction `frac` of the mass lies (upper bin edge).
    fn quantile_from_top(&self, frac: f64) -> Option<f64> {
        let target = frac * f64::from(self.total);
        let mut acc = 0.0;
        for i in (0..BINS).rev() {
            let c = f64::from(self.counts.get(i).copied().unwrap_or(0.0));
            if acc + c >= target && c > 0.0 {
                // interpolate inside the bin
                let within = ((target - acc) / c).clamp(0.0, 1.0);
                return Some((i as f64 + 1.0 - within) * WIDTH);
            }
            acc += c;
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn total(&self) -> f64 {
        f64::from(self.total / self.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ln_1p_is_accurate() {
        for i in 0..100_000 {
            let x = (i as f64 / 1000.0).powi(3);
            assert!((fast_ln_1p(x) - x.ln_1p()).abs() < 2e-5, "{x}: {} vs {}", fast_ln_1p(x), x.ln_1p());
        }
        assert_eq!(fast_ln_1p(0.0), 0.0);
        for p in [1e-300, 1e-12, 3.3e-7, 0.01, 0.5, 1.0, 1.999_999, 2.0, 1e300] {
            assert!((fast_ln(p) - p.ln()).abs() < 1e-11, "{p}: {} vs {}", fast_ln(p), p.ln());
        }
        let mut y = 1e-20;
        while y < 1e20 {
            assert!((fast_ln(y) - y.ln()).abs() < 1e-11, "{y}");
            y *= 1.0137;
        }
    }

    #[test]
    fn tail_is_monotone_and_bounded() {
        let mut h = RarityHistogram::new();
        let mut x = 1u64;
        for _ in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((x >> 33) as f64 / (1u64 << 31) as f64) * 3.0;
            h.add(v, 3000.0);
        }
        assert!(h.total() > 2000.0);
        let mut last = 1.0;
        for i in 0..200 {
            let p = h.tail_probability(i as f64 * 0.5);
            assert!(p <= last + 1e-12 && p > 0.0, "{i}: {p} > {last}");
            last = p;
        }
        assert!(h.tail_probability(0.0) > 0.9);
        assert!(h.tail_probability(50.0) < 1e-4);
    }
}
