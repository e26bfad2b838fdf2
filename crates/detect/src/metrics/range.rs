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

    /// Distance of `x` beyond the tracked tails, in units of the spread (0 inside).
    pub(crate) fn excursion(&self, x: f64, floor: f64) -> f64 {
        // the tails need a few hundred points before an excursion beyond them means anything
        if (self.n as usize) < MATURE {
            return 0.0;
        }
        let [lo, _, _, hi] = self.q;
        let s = self.spread(floor);
        ((x - hi) / s).max((lo - x) / s).max(0.0)
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
