//! Daily seasonality for the streaming scorer: a time-of-day profile learned online.
//!
//! The profile has one bin per sampling step over the UTC day, between [`MIN_BINS`] and
//! [`MAX_BINS`] (so hourly data gets 24 bins and 5-minute data 96), read with linear
//! interpolation. It is learned from every point but only used once it has seen two days and
//! explains most of the variance, so non-seasonal series are scored exactly as without it.
//!
//! Each bin also learns how large the residuals are at its time of day. Many daily series are
//! quiet at some hours and busy at others (night traffic is calmer than day traffic; a daily
//! wave's steep edges leave large residuals wherever their timing wobbles). One scale for the
//! whole day makes a jump in a quiet hour look ordinary and the busy hours' noise look rare;
//! measured against its own time of day's spread, each residual means the same rarity at any
//! hour. The spread sits beside the level in each bin, so reading both costs one memory access.

use serde::{Deserialize, Serialize};

/// Fewest bins per day.
pub(crate) const MIN_BINS: usize = 24;
/// Most bins per day (15-minute resolution).
pub(crate) const MAX_BINS: usize = 96;
const DAY_MS: i64 = 86_400_000;

/// A bfloat16: the upper half of an `f32` (its range, 8 significant bits), rounded to nearest
/// even. The profile's bins, stored this way, take half the space (384 bytes at 96 bins), which
/// pays for the scorer's history of shapes within the 2 KiB state. The price: a bin's value
/// moves in steps of 1/128 to 1/256 of itself, and an update smaller than half a step is lost.
/// With the averaging weight of 0.1, a point within about 4% of a bin's value (16% for a point
/// at the far edge of the bin's interpolation) leaves it unchanged; the noise the profile
/// averages is wider than that, so it still moves about its average (the NAB development
/// scores are the same to two decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Bf16(u16);

impl Bf16 {
    const ZERO: Self = Self(0);

    fn new(x: f32) -> Self {
        let bits = x.to_bits();
        if x.is_nan() {
            return Self(0x7fc0);
        }
        // round to nearest, ties to even, on the 16 bits dropped
        let round = 0x7fff + ((bits >> 16) & 1);
        Self((bits.wrapping_add(round) >> 16) as u16)
    }

    fn get(self) -> f32 {
        f32::from_bits(u32::from(self.0) << 16)
    }
}

/// A learned time-of-day profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DailyProfile {
    /// Per bin: the profile's value, and the mean absolute residual from it there, as bfloat16
    /// (see [`Bf16`]).
    bins: Vec<[Bf16; 2]>,
    visits: Vec<u8>,
    /// The residual spread over the whole day (the bins' mean), refreshed with the profile.
    spread_mean: f32,
    first_t: i64,
    last_t: i64,
    /// Milliseconds into the UTC day of `last_t`, advanced by each step (no division).
    day_ms: i64,
    /// Bins per millisecond.
    bin_rate: f64,
    /// The last step between points, and the base's weight for it.
    last_dt: i64,
    a_base: f64,
    base: f64,
    total_var: f32,
    resid_var: f32,
    active: bool,
    #[serde(skip)]
    active_before: bool,
    last_block: u16,
}

impl DailyProfile {
    pub(crate) fn new() -> Self {
        Self {
            bins: Vec::new(),
            visits: Vec::new(),
            spread_mean: 0.0,
            first_t: i64::MIN,
            last_t: i64::MIN,
            day_ms: 0,
            bin_rate: 0.0,
            last_dt: -1,
            a_base: 0.0,
            base: 0.0,
            total_var: 0.0,
            resid_var: 0.0,
            active: false,
            active_before: false,
            last_block: u16::MAX,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bins.capacity() * 4 + self.visits.capacity()
    }

    /// Bin `i`'s profile value and spread.
    fn bin(&self, i: usize) -> [f32; 2] {
        self.bins.get(i).map_or([0.0; 2], |[b, s]| [b.get(), s.get()])
    }

    /// Bin, next bin and the fraction between them at `self.day_ms`.
    fn position(&self) -> (usize, usize, f32) {
        let n = self.bins.len().max(1);
        let pos = self.day_ms as f64 * self.bin_rate;
        // through i32: float to usize conversion is several times dearer on x86-64
        let i = ((pos as i32).max(0) as usize).min(n - 1);
        let frac = (pos - i as f64) as f32;
        (i, if i + 1 >= n { 0 } else { i + 1 }, frac)
    }

    /// Returns the profile's value at `t_ms` and the hour factor there, then learns from `x`;
    /// the position in the day is computed once for all three.
    ///
    /// The hour factor measures the point's residual against its own time of day: the whole
    /// day's residual spread divided by the spread there (interpolated between bins), limited to
    /// `[1 / limit, limit]`. Above 1 at a quiet hour, below 1 at a busy one. While the profile
    /// is not in use, the value is 0 and the factor exactly 1.
    pub(crate) fn step(&mut self, t_ms: i64, x: f64, limit: f64) -> (f64, f64) {
        let (pv, ratio) = self.learn(t_ms, x);
        if !self.active_before {
            return (0.0, 1.0);
        }
        let limit = limit.max(1.0) as f32;
        (f64::from(pv), f64::from(ratio.clamp(1.0 / limit, limit)))
    }

    /// Learns from the raw value `x` at `t_ms`; returns the raw profile value there before
    /// learning, and the day's spread divided by the spread there (1 where the spread is not
    /// known yet).
    fn learn(&mut self, t_ms: i64, x: f64) -> (f32, f32) {
        self.active_before = self.active;
        if self.first_t == i64::MIN {
            self.first_t = t_ms;
            self.last_t = t_ms;
            self.day_ms = t_ms.rem_euclid(DAY_MS);
            self.base = x;
            return (0.0, 1.0);
        }
        let dt = (t_ms - self.last_t).max(0);
        self.last_t = t_ms;
        self.day_ms += dt;
        if self.day_ms >= DAY_MS {
            self.day_ms = if self.day_ms < 2 * DAY_MS { self.day_ms - DAY_MS } else { t_ms.rem_euclid(DAY_MS) };
        }
        if self.bins.is_empty() {
            // the resolution follows the sampling step seen between the first two points
            let per_day = if dt > 0 { (DAY_MS / dt) as usize } else { MAX_BINS };
            let n = per_day.clamp(MIN_BINS, MAX_BINS);
            self.bins = vec![[Bf16::ZERO; 2]; n];
            self.visits = vec![0; n];
            self.bin_rate = n as f64 / DAY_MS as f64;
        }
        // the base is a one-day exponential average of the deseasonalised value
        // (x / (1 + x) stands in for 1 - exp(-x) at these small steps); steps rarely change
        if dt != self.last_dt {
            let xd = dt as f64 / DAY_MS as f64;
            self.a_base = xd / (1.0 + xd);
            self.last_dt = dt;
        }
        let a_base = self.a_base;
        let (i, j, f) = self.position();
        let ([a, a_spread], [b, b_spread]) = (self.bin(i), self.bin(j));
        let pv = a + (b - a) * f;
        let spread_here = a_spread + (b_spread - a_spread) * f;
        let ratio = if spread_here > 0.0 { self.spread_mean / spread_here } else { 1.0 };
        self.base += a_base * (x - f64::from(pv) - self.base);
        let dev = (x - self.base) as f32;
        // clipped, as the scorer's own scale is, so an anomaly does not teach its time of day
        // that it is busy before it has been scored against it
        let clip = if spread_here > 0.0 { 4.0 * spread_here.max(0.25 * self.spread_mean) } else { f32::INFINITY };
        let abs_resid = (dev - pv).abs().min(clip);
        for (k, w) in [(i, 1.0 - f), (j, f)] {
            if let (Some([b16, spread16]), Some(v)) = (self.bins.get_mut(k), self.visits.get_mut(k))
                && w > 0.25
            {
                let (mut b, mut spread) = (b16.get(), spread16.get());
                // a running mean for the first ten visits, then an exponential average
                let rate = if *v >= 10 {
                    0.1 * w
                } else {
                    *v += 1;
                    w / f32::from(*v)
                };
                b += rate * (dev - b);
                spread += rate * (abs_resid - spread);
                (*b16, *spread16) = (Bf16::new(b), Bf16::new(spread));
            }
        }
        let r = dev - pv;
        self.resid_var += 0.01 * (r * r - self.resid_var);
        self.total_var += 0.01 * (dev * dev - self.total_var);
        // re-centre and re-decide every eighth of the bins, not on every point
        let block = (self.day_ms * 8 / DAY_MS) as u16;
        if block != self.last_block {
            self.last_block = block;
            self.refresh(t_ms);
        }
        (pv, ratio)
    }

    /// Re-centres the profile and decides whether it is worth using.
    fn refresh(&mut self, t_ms: i64) {
        let n = self.bins.len().max(1);
        let mean = self.bins.iter().map(|[b, _]| b.get()).sum::<f32>() / n as f32;
        self.spread_mean = self.bins.iter().map(|[_, s]| s.get()).sum::<f32>() / n as f32;
        for [b, _] in &mut self.bins {
            *b = Bf16::new(b.get() - mean);
        }
        let days = (t_ms - self.first_t) as f64 / DAY_MS as f64;
        let covered = self.visits.iter().filter(|&&v| v >= 2).count();
        let ready = days >= 2.0 && covered * 10 >= n * 9;
        let explained = 1.0 - self.resid_var / self.total_var.max(f32::MIN_POSITIVE);
        // hysteresis: switch on when the profile explains most of the variance, off when it fades
        self.active = ready && if self.active { explained > 0.3 } else { explained > 0.5 };
    }
}

#[cfg(test)]
mod tests {
    use super::Bf16;

    #[test]
    fn bfloat16_rounds_to_nearest_within_half_a_step_and_keeps_the_range() {
        for x in [0.0f32, 1.0, -2.5, 0.15625, 3.0e7, -1.0e30, 1.0e-30] {
            let y = Bf16::new(x).get();
            assert!((y - x).abs() <= x.abs() / 256.0, "{x} -> {y}");
        }
        // exactly representable values come back as they were
        assert_eq!(Bf16::new(1.5).get(), 1.5);
        // halfway between 1 and its next bfloat16 (1 + 2^-7): ties go to the even one, 1
        assert_eq!(Bf16::new(1.0 + 1.0 / 256.0).get(), 1.0);
        assert_eq!(Bf16::new(1.0 + 3.0 / 256.0).get(), 1.0 + 4.0 / 256.0);
        assert!(Bf16::new(f32::NAN).get().is_nan());
        assert_eq!(Bf16::new(f32::INFINITY).get(), f32::INFINITY);
    }
}
