//! Daily seasonality for the streaming scorer: a time-of-day profile learned online.
//!
//! The profile has [`BINS`] bins over the UTC day, read with linear interpolation. It is
//! learned from every point but only used once it has seen two days and its amplitude is
//! comparable to the noise, so non-seasonal series are scored exactly as without it.

use serde::{Deserialize, Serialize};

/// Bins per day (15-minute resolution).
pub(crate) const BINS: usize = 96;
const DAY_MS: i64 = 86_400_000;
const BIN_MS: f64 = DAY_MS as f64 / BINS as f64;

/// A learned time-of-day profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DailyProfile {
    bins: Vec<f32>,
    visits: Vec<u16>,
    first_t: i64,
    last_t: i64,
    base: f64,
    total_var: f32,
    resid_var: f32,
    active: bool,
    last_bin: u16,
}

impl DailyProfile {
    pub(crate) fn new() -> Self {
        Self {
            bins: vec![0.0; BINS],
            visits: vec![0; BINS],
            first_t: i64::MIN,
            last_t: i64::MIN,
            base: 0.0,
            total_var: 0.0,
            resid_var: 0.0,
            active: false,
            last_bin: u16::MAX,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bins.capacity() * 4 + self.visits.capacity() * 2
    }

    fn position(t_ms: i64) -> (usize, usize, f32) {
        let pos = t_ms.rem_euclid(DAY_MS) as f64 / BIN_MS;
        let i = (pos as usize).min(BINS - 1);
        let frac = (pos - i as f64) as f32;
        (i, (i + 1) % BINS, frac)
    }

    fn raw_value(&self, t_ms: i64) -> f32 {
        let (i, j, f) = Self::position(t_ms);
        let a = self.bins.get(i).copied().unwrap_or(0.0);
        let b = self.bins.get(j).copied().unwrap_or(0.0);
        a + (b - a) * f
    }

    /// The profile's value at `t_ms` (0 while inactive).
    pub(crate) fn value(&self, t_ms: i64) -> f64 {
        if self.active { f64::from(self.raw_value(t_ms)) } else { 0.0 }
    }

    /// Learns from the raw value `x` at `t_ms`.
    pub(crate) fn learn(&mut self, t_ms: i64, x: f64) {
        if self.first_t == i64::MIN {
            self.first_t = t_ms;
            self.last_t = t_ms;
            self.base = x;
        }
        // the base is a one-day exponential average of the deseasonalised value
        let dt = (t_ms - self.last_t).max(0) as f64;
        self.last_t = t_ms;
        // 1 - exp(-x) for the small steps involved, without the exp
        let xd = dt / DAY_MS as f64;
        let a_base = xd / (1.0 + xd);
        let pv = self.raw_value(t_ms);
        self.base += a_base * (x - f64::from(pv) - self.base);
        let dev = (x - self.base) as f32;
        let (i, _, _) = Self::position(t_ms);
        if let (Some(b), Some(v)) = (self.bins.get_mut(i), self.visits.get_mut(i)) {
            *v = v.saturating_add(1);
            let rate = (1.0 / f32::from(*v)).max(0.1);
            *b += rate * (dev - *b);
        }
        let r = dev - pv;
        self.resid_var += 0.01 * (r * r - self.resid_var);
        self.total_var += 0.01 * (dev * dev - self.total_var);
        // re-centre and re-decide every two hours of the day, not on every bin
        let block = (i / 8) as u16;
        if block != self.last_bin {
            self.last_bin = block;
            self.refresh(t_ms);
        }
    }

    /// Re-centres the profile and decides whether it is worth using.
    fn refresh(&mut self, t_ms: i64) {
        let mean = self.bins.iter().sum::<f32>() / BINS as f32;
        for b in &mut self.bins {
            *b -= mean;
        }
        let days = (t_ms - self.first_t) as f64 / DAY_MS as f64;
        let covered = self.visits.iter().filter(|&&v| v >= 2).count();
        let ready = days >= 2.0 && covered * 10 >= BINS * 9;
        let explained = 1.0 - self.resid_var / self.total_var.max(f32::MIN_POSITIVE);
        // hysteresis: switch on when the profile explains most of the variance, off when it fades
        self.active = ready && if self.active { explained > 0.3 } else { explained > 0.5 };
    }
}
