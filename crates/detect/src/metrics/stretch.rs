//! Raised or lowered stretches for the streaming scorer: the mean of the last stretch of raw
//! values against the means of the series' own past stretches.
//!
//! The scorer's level follows the series within a few dozen points, so a stretch of a few
//! hundred points that sits higher (or lower) than usual becomes the new normal before it looks
//! rare. This statistic does not adapt that fast: it compares the mean of the last stretch of
//! raw values with the mean and spread of stretch means recorded over the past thousands of
//! points, and reports only the onset of each excursion.

use serde::{Deserialize, Serialize};

/// Blocks in a stretch: the stretch mean is over the last this many complete blocks.
const BLOCKS: usize = 6;

/// Past stretch means recorded before the statistic can report anything.
const WARMUP_SAMPLES: u32 = 20;

/// `z` below which an open excursion closes (a two-sided tail probability of 0.05).
const CLOSE_Z: f64 = 1.96;

/// The running state: block sums of the last stretch and the spread of past stretch means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StretchTracker {
    sums: [f64; BLOCKS],
    head: u8,
    full: u8,
    blocks_seen: u32,
    mean: f64,
    var: f64,
    samples: u32,
    open: bool,
}

impl StretchTracker {
    pub(crate) fn new() -> Self {
        Self { sums: [0.0; BLOCKS], head: 0, full: 0, blocks_seen: 0, mean: 0.0, var: 0.0, samples: 0, open: false }
    }

    /// Takes the sum of a complete block of `block` points and returns the stretch's `z`
    /// (distance of the mean of the last six blocks from past stretch means, in their standard
    /// deviations) when an excursion opens with it: when its two-sided normal tail probability
    /// falls below `open_p` (computed only past `z = 1.96`, once a block). Every
    /// `record_every` blocks the stretch mean is recorded with weight `1 / memory` (a plain
    /// average until that many are recorded). Called once a block, so the points between cost
    /// the scorer one addition.
    pub(crate) fn end_block(
        &mut self,
        sum: f64,
        block: u32,
        record_every: u64,
        memory: f64,
        open_p: f64,
    ) -> Option<f64> {
        if let Some(slot) = self.sums.get_mut(usize::from(self.head)) {
            *slot = sum;
        }
        self.head = ((usize::from(self.head) + 1) % BLOCKS) as u8;
        self.full = (self.full + 1).min(BLOCKS as u8);
        self.blocks_seen = self.blocks_seen.wrapping_add(1);
        if usize::from(self.full) < BLOCKS {
            return None;
        }
        let m = self.sums.iter().sum::<f64>() / (BLOCKS as f64 * f64::from(block));
        let mut onset = None;
        if self.samples >= WARMUP_SAMPLES {
            let (dev, sd) = ((m - self.mean).abs(), self.var.sqrt());
            // a series whose stretch means never varied has no scale to judge by
            if !self.open && sd > 0.0 && dev > CLOSE_Z * sd && two_sided_p(dev / sd) < open_p {
                self.open = true;
                onset = Some(dev / sd);
            } else if self.open && dev < CLOSE_Z * sd {
                self.open = false;
            }
        }
        if u64::from(self.blocks_seen).is_multiple_of(record_every.max(1)) {
            self.record(m, memory);
        }
        onset
    }

    /// Records one stretch mean in the exponentially weighted mean and variance.
    fn record(&mut self, m: f64, memory: f64) {
        self.samples = self.samples.saturating_add(1);
        let a = (1.0 / f64::from(self.samples)).max(1.0 / memory.max(1.0));
        let d = m - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
}

/// The two-sided normal tail probability of `z`.
pub(crate) fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `values` in blocks of 25 and returns the points where an excursion opened.
    fn onsets(values: impl Iterator<Item = f64>) -> Vec<usize> {
        let mut t = StretchTracker::new();
        let (mut sum, mut out) = (0.0, Vec::new());
        for (i, v) in values.enumerate() {
            sum += v;
            if (i + 1) % 25 == 0 {
                if t.end_block(sum, 25, 3, 100.0, 1e-4).is_some() {
                    out.push(i);
                }
                sum = 0.0;
            }
        }
        out
    }

    #[test]
    fn a_raised_stretch_opens_once_and_a_steady_series_never() {
        let mut noise = super::super::test_noise(17);
        let raised: Vec<f64> =
            (0..6000).map(|i| 10.0 + noise() + if (5000..5300).contains(&i) { 1.0 } else { 0.0 }).collect();
        let found = onsets(raised.iter().copied());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found.first().is_some_and(|&i| (5000..5200).contains(&i)), "{found:?}");
        let steady: Vec<f64> = raised.iter().take(5000).copied().collect();
        assert!(onsets(steady.into_iter()).is_empty());
    }

    #[test]
    fn a_flat_series_opens_nothing_and_a_step_in_it_once_at_most() {
        assert!(onsets(std::iter::repeat_n(3.0, 5000)).is_empty());
        let step = onsets((0..5000).map(|i| if i < 4000 { 3.0 } else { 4.0 }));
        assert!(step.len() <= 1, "{step:?}");
    }
}
