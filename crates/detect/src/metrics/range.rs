//! Value novelty: how far a value lies outside the range the series has occupied.
//!
//! Tracks slowly decaying estimates of a low and a high quantile and of the interquartile
//! spread with stochastic-approximation updates (O(1), no stored history).

use serde::{Deserialize, Serialize};

/// Running range of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RangeTracker {
    q: [f64; 4],
    n: u32,
    /// The first [`SEED`] values, from which the quantiles start; emptied afterwards.
    seed: Vec<f32>,
}

const SEED: usize = 32;

/// Points before excursions are reported.
const MATURE: usize = 200;

/// Quantiles tracked: low tail, lower quartile, upper quartile, high tail. The tails sit at one in
/// a thousand: an excursion beyond them is news, and its rarity is the share of such excursions
/// times how far this one goes among them.
const TAUS: [f64; 4] = [0.001, 0.25, 0.75, 0.999];

impl RangeTracker {
    pub(crate) fn new() -> Self {
        Self { q: [0.0; 4], n: 0, seed: Vec::new() }
    }

    /// The spread used to measure excursions: the interquartile range, floored.
    fn spread(&self, floor: f64) -> f64 {
        let [lo, q1, q3, hi] = self.q;
        (q3 - q1).max((hi - lo) * 0.05).max(floor)
    }

    /// Distance of `x` beyond the tracked tails, in units of how far that tail reaches beyond
    /// the quartile on its side (at least half the spread).
    ///
    /// Measuring a new extreme against the series' own tail is what calibrates it across
    /// series: on a heavy-tailed series, whose tails lie far beyond its quartiles, going a given
    /// distance past the tail is ordinary; on a compact series the same distance is news.
    pub(crate) fn excursion(&self, x: f64, floor: f64) -> f64 {
        // the tails need a few hundred points before an excursion beyond them means anything
        if (self.n as usize) < MATURE {
            return 0.0;
        }
        let [lo, q1, q3, hi] = self.q;
        let min_width = 0.5 * self.spread(floor);
        let up = (x - hi) / (hi - q3).max(min_width);
        let down = (lo - x) / (q1 - lo).max(min_width);
        up.max(down).max(0.0)
    }

    /// Learns from `x`; `rate` is the step as a fraction of the spread.
    pub(crate) fn learn(&mut self, x: f64, rate: f64, floor: f64) {
        self.n = self.n.saturating_add(1);
        if (self.n as usize) <= SEED {
            self.seed.push(x as f32);
            if self.seed.len() == SEED {
                let mut v = std::mem::take(&mut self.seed);
                v.sort_by(f32::total_cmp);
                for (q, tau) in self.q.iter_mut().zip(TAUS) {
                    let i = ((tau * (SEED - 1) as f64).round() as usize).min(SEED - 1);
                    *q = f64::from(v.get(i).copied().unwrap_or(0.0));
                }
            }
            return;
        }
        let s = self.spread(floor);
        for (q, tau) in self.q.iter_mut().zip(TAUS) {
            let eta = rate * s;
            // a value equal to the estimate leaves it alone (constant series stay put)
            if x < *q {
                *q -= eta * (1.0 - tau) * 4.0;
            } else if x > *q {
                *q += eta * tau * 4.0;
            }
        }
        // keep the quantiles ordered (one insertion pass: they are almost always in order)
        for i in 1..self.q.len() {
            let mut k = i;
            while k > 0 {
                let (Some(&a), Some(&b)) = (self.q.get(k - 1), self.q.get(k)) else { break };
                if a <= b {
                    break;
                }
                self.q.swap(k - 1, k);
                k -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tracker fed 50,000 seeded values, a share `heavy` of which come from a long right tail.
    fn tracker(heavy: f64) -> RangeTracker {
        let mut r = RangeTracker::new();
        let mut s = 7u64;
        let mut unit = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..50_000 {
            let x = if unit() < heavy { 1.0 + 20.0 * unit() } else { unit() };
            r.learn(x, 0.03, 1e-9);
        }
        r
    }

    #[test]
    fn a_step_past_a_long_tail_is_a_smaller_excursion_than_past_a_short_one() {
        let (compact, heavy) = (tracker(0.0), tracker(0.02));
        let [_, q1, q3, hi] = compact.q;
        let [_, h1, h3, hhi] = heavy.q;
        // the bodies agree (similar quartiles), the tails do not
        assert!((q3 - q1 - (h3 - h1)).abs() < 0.1, "{:?} vs {:?}", compact.q, heavy.q);
        assert!(hhi > hi + 5.0, "{:?} vs {:?}", compact.q, heavy.q);
        let near = compact.excursion(hi + 0.5, 1e-9);
        let far = heavy.excursion(hhi + 0.5, 1e-9);
        assert!(near > 1.0, "{near}");
        assert!(far < near / 5.0, "half a unit past a long tail: {far}; past a short one: {near}");
        assert_eq!(compact.excursion((q1 + q3) / 2.0, 1e-9), 0.0);
        assert!(compact.excursion(compact.q[0] - 0.5, 1e-9) > 1.0, "the low side is measured too");
    }
}
