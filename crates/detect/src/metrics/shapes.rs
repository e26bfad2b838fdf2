//! Familiar shapes for the streaming scorer: whether the last few points trace a shape the
//! series drew not long ago.
//!
//! A bursty series (tweet volumes, request counts, CPU of a busy host) keeps producing spikes
//! and dips that are rare by the point's own statistics, yet look just like ones a few hours
//! before. The shape of the last [`SHAPE`] deviations from the expected value, with their mean
//! removed, is compared with every earlier shape in a history of the last [`HISTORY`] points
//! (the left matrix profile of that stretch): when its nearest earlier shape is closer than
//! most shapes' nearest ones are (the running [`FAMILIAR_QUANTILE`] of the nearest distances,
//! sampled every [`SAMPLE_EVERY`] points), the shape is familiar, and the scorer lowers the
//! point's score (see `StreamConfig::shape_damping`).
//!
//! The deviations are kept as `i8`, in quarters of a slow running scale of the deviations
//! (clamped at 32 of them), so the history costs one byte a point. The search runs only at the
//! samples and for points whose score could reach an alarm; ordinary points are staged in the
//! state and written to the history eight at a time, so with many series in memory the history
//! is touched once every eight points.

use serde::{Deserialize, Serialize};

/// Points of history kept.
pub(crate) const HISTORY: usize = 384;

/// Points in a shape.
pub(crate) const SHAPE: usize = 16;

/// Quantisation steps per slow scale.
const UNITS: f32 = 4.0;

/// Weight of a point in the slow scale.
const SLOW: f32 = 0.002;

/// Points between the samples of the nearest distance that calibrate what is familiar.
const SAMPLE_EVERY: u8 = 64;

/// The quantile of the sampled nearest distances below which a shape is familiar.
const FAMILIAR_QUANTILE: f32 = 0.86;

/// Relative step of that quantile's estimate per sample.
const STEP: f32 = 0.2;

/// Samples before a shape is judged.
const MIN_SAMPLES: u16 = 5;

/// Earlier shapes needed in the history before a nearest distance is taken.
const MIN_CANDIDATES: usize = 21;

/// Points staged in the state itself before they are written to the history in one go, so the
/// history (on the heap) is touched once every this many points.
const STAGE: usize = 8;

/// The history of quantised deviations and the calibration of nearest distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ShapeMemory {
    /// The last [`HISTORY`] points written (empty until the first is), a ring whose oldest
    /// point is at `head` once it is full.
    #[serde(with = "ring")]
    ring: Option<Box<[i8; HISTORY]>>,
    /// Where the next staged block goes (a multiple of [`STAGE`]).
    head: u16,
    /// Points held in the ring (at most [`HISTORY`]).
    len: u16,
    /// The points not yet written, oldest first.
    staged: [i8; STAGE],
    staged_len: u8,
    /// Points to the next sample.
    countdown: u8,
    samples: u16,
    /// Running mean absolute deviation, the unit of the quantisation.
    slow_scale: f32,
    /// Running estimate of the [`FAMILIAR_QUANTILE`] of the sampled nearest distances.
    familiar: f32,
}

/// The ring saved as a list: empty, or one value per point of history.
mod ring {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::HISTORY;

    pub(super) fn serialize<S: Serializer>(r: &Option<Box<[i8; HISTORY]>>, s: S) -> Result<S::Ok, S::Error> {
        r.as_deref().map_or(&[][..], |r| r.as_slice()).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<[i8; HISTORY]>>, D::Error> {
        let v = Vec::<i8>::deserialize(d)?;
        if v.is_empty() {
            return Ok(None);
        }
        let r: Box<[i8; HISTORY]> = v.into_boxed_slice().try_into().map_err(|v: Box<[i8]>| {
            serde::de::Error::invalid_length(v.len(), &"no points, or one per point of history (384)")
        })?;
        Ok(Some(r))
    }
}

impl ShapeMemory {
    pub(crate) fn new() -> Self {
        Self {
            ring: None,
            head: 0,
            len: 0,
            staged: [0; STAGE],
            staged_len: 0,
            countdown: SAMPLE_EVERY,
            samples: 0,
            slow_scale: 0.0,
            familiar: 0.0,
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ring.as_ref().map_or(0, |r| r.len())
    }

    /// Records the deviation `dev` of a point from its expected value, learns from the nearest
    /// distance when a sample is due, and says whether the shape ending at this point is
    /// familiar; it is judged only when `candidate` (a score that could alarm), so the search
    /// runs at samples and candidates alone.
    pub(crate) fn step(&mut self, dev: f64, candidate: bool) -> bool {
        self.push(dev);
        self.countdown = self.countdown.saturating_sub(1);
        let sample = self.countdown == 0;
        if sample {
            self.countdown = SAMPLE_EVERY;
        }
        if !sample && !candidate {
            return false;
        }
        let Some(d) = self.nearest() else { return false };
        let familiar = self.samples >= MIN_SAMPLES && d < self.familiar;
        if sample {
            self.learn(d);
        }
        candidate && familiar
    }

    /// Quantises `dev` against the slow scale (before learning from it) and stages it, writing
    /// the staged block to the ring when it is full.
    fn push(&mut self, dev: f64) {
        let dev = dev as f32;
        let q = if self.slow_scale > 0.0 { (UNITS * dev / self.slow_scale).round().clamp(-127.0, 127.0) } else { 0.0 };
        if let Some(slot) = self.staged.get_mut(usize::from(self.staged_len)) {
            *slot = q as i8;
        }
        self.staged_len = self.staged_len.saturating_add(1);
        if usize::from(self.staged_len) >= STAGE {
            let ring = self.ring.get_or_insert_with(|| Box::new([0; HISTORY]));
            let head = usize::from(self.head);
            if let Some(block) = ring.get_mut(head..head + STAGE) {
                block.copy_from_slice(&self.staged);
            }
            self.head = ((head + STAGE) % HISTORY) as u16;
            self.len = (usize::from(self.len) + STAGE).min(HISTORY) as u16;
            self.staged_len = 0;
        }
        let abs = dev.abs();
        if abs.is_finite() {
            self.slow_scale =
                if self.slow_scale > 0.0 { self.slow_scale + SLOW * (abs - self.slow_scale) } else { abs };
        }
    }

    /// One step of the stochastic quantile estimate, relative to its value so it is scale-free.
    fn learn(&mut self, d: f32) {
        self.familiar = if self.samples == 0 || self.familiar <= 0.0 {
            d
        } else if d > self.familiar {
            self.familiar * (1.0 + STEP * FAMILIAR_QUANTILE)
        } else {
            self.familiar * (1.0 - STEP * (1.0 - FAMILIAR_QUANTILE))
        };
        self.samples = self.samples.saturating_add(1);
    }

    /// The distance, in quantisation steps with the means removed, from the shape of the last
    /// [`SHAPE`] points to the nearest shape that ended at least [`SHAPE`] points earlier
    /// (so the two do not overlap); `None` until the history holds enough of them.
    fn nearest(&self) -> Option<f32> {
        let ring: &[i8] = self.ring.as_deref().map_or(&[], |r| r.as_slice());
        let (ring_len, staged_len) = (usize::from(self.len).min(ring.len()), usize::from(self.staged_len));
        let n = ring_len + staged_len;
        let count = (n + 1).checked_sub(2 * SHAPE)?;
        if count < MIN_CANDIDATES {
            return None;
        }
        // the history in time order (oldest first), then the staged points
        let mut hist = [0i8; HISTORY + STAGE];
        let head = usize::from(self.head).min(ring.len());
        let (newer, older) = ring.split_at(head);
        let older = if ring_len < HISTORY { &[][..] } else { older };
        let newer = newer.get(..ring_len - older.len())?;
        hist.get_mut(..older.len())?.copy_from_slice(older);
        hist.get_mut(older.len()..ring_len)?.copy_from_slice(newer);
        hist.get_mut(ring_len..n)?.copy_from_slice(self.staged.get(..staged_len)?);
        let hist = hist.get(..n)?;
        let mut cur = [0i16; SHAPE];
        for (c, &v) in cur.iter_mut().zip(hist.get(n - SHAPE..)?) {
            *c = i16::from(v);
        }
        let cur_sum: i32 = cur.iter().map(|&c| i32::from(c)).sum();
        // sq[s] = sum (c - p)^2 over the shape p starting at s, column by column so the inner
        // loop runs over contiguous values and vectorises (a square of a difference of two i8
        // is below 2^16, so it is multiplied in 16 bits)
        let mut sq = [0u32; HISTORY];
        let sq = sq.get_mut(..count)?;
        for (k, &c) in cur.iter().enumerate() {
            for (q, &v) in sq.iter_mut().zip(hist.get(k..k + count)?) {
                let d = c.wrapping_sub(i16::from(v));
                *q += u32::from(d.wrapping_mul(d) as u16);
            }
        }
        // m * |(c - mean c) - (p - mean p)|^2 = m * sum (c - p)^2 - (sum c - sum p)^2, exact in
        // i32, with the shapes' sums slid along the history
        let m = SHAPE as i32;
        let mut sum: i32 = hist.iter().take(SHAPE).map(|&v| i32::from(v)).sum();
        let mut best = i32::MAX;
        for ((&q, &out), &inc) in sq.iter().zip(hist).zip(hist.iter().skip(SHAPE)) {
            let diff = cur_sum - sum;
            best = best.min(m * q as i32 - diff * diff);
            sum += i32::from(inc) - i32::from(out);
        }
        Some((best.max(0) as f32 / m as f32).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_noise as noise;
    use super::*;

    /// Feeds `dev` and asks, at the last point, whether its shape is familiar.
    fn familiar_at_end(devs: &[f64]) -> bool {
        let mut m = ShapeMemory::new();
        let (last, rest) = devs.split_last().unwrap_or((&0.0, &[]));
        for &d in rest {
            m.step(d, false);
        }
        m.step(*last, true)
    }

    /// Noise, a spike of `height` at point `at`, then the 16 points that ended there again,
    /// with the spike's height times `scale` (fresh noise instead when `fresh`).
    fn repeat(at: usize, height: f64, scale: f64, fresh: bool) -> Vec<f64> {
        let mut rnd = noise(3);
        let mut devs: Vec<f64> = (0..2000).map(|_| rnd()).collect();
        if let Some(v) = devs.get_mut(at) {
            *v += height;
        }
        let mut shape: Vec<f64> = devs.get(at + 1 - SHAPE..=at).unwrap_or_default().to_vec();
        if fresh {
            shape = (0..SHAPE).map(|_| rnd()).collect();
            if let Some(v) = shape.last_mut() {
                *v += height;
            }
        }
        if let Some(v) = shape.last_mut() {
            *v *= scale;
        }
        devs.extend(shape);
        devs
    }

    #[test]
    fn a_shape_drawn_a_few_hours_ago_is_familiar_and_others_are_not() {
        assert!(familiar_at_end(&repeat(1800, 3.0, 1.0, false)), "the same sixteen points again");
        assert!(!familiar_at_end(&repeat(1800, 3.0, 3.0, false)), "the same with a spike three times higher");
        assert!(!familiar_at_end(&repeat(1800, 3.0, 1.0, true)), "a spike as high in other noise");
        // and a shape from before the history is forgotten
        assert!(!familiar_at_end(&repeat(2000 - HISTORY - 50, 3.0, 1.0, false)), "a shape older than the history");
    }

    #[test]
    fn nothing_is_judged_before_the_history_and_calibration_fill() {
        let mut m = ShapeMemory::new();
        for i in 0..(2 * SHAPE + MIN_CANDIDATES) {
            assert!(!m.step(0.0, true), "point {i}");
        }
        assert!(m.nearest().is_some());
        // a constant series: every shape is the same, the nearest distance is zero, and with
        // the calibration at zero too, nothing is strictly closer than familiar
        for _ in 0..1000 {
            m.step(0.0, false);
        }
        assert!(!m.step(0.0, true));
    }

    #[test]
    fn a_tampered_state_is_refused_or_runs_without_panicking() {
        let mut m = ShapeMemory::new();
        for i in 0..500 {
            m.step(f64::from(i % 7), false);
        }
        let mut v = serde_json::to_value(&m).unwrap_or_default();
        v["ring"] = serde_json::json!([1, 2, 3]);
        assert!(serde_json::from_value::<ShapeMemory>(v).is_err(), "a ring of the wrong length");
        for (field, value) in [("head", 9_999), ("len", 60_000), ("staged_len", 200), ("countdown", 0)] {
            let mut w = serde_json::to_value(&m).unwrap_or_default();
            w[field] = serde_json::json!(value);
            let Ok(mut t) = serde_json::from_value::<ShapeMemory>(w) else { continue };
            for i in 0..1000 {
                t.step(f64::from(i % 5), true);
            }
        }
    }

    #[test]
    fn the_history_wraps_and_huge_or_odd_deviations_are_clamped() {
        let mut m = ShapeMemory::new();
        let mut rnd = noise(9);
        for i in 0..3 * HISTORY {
            let d = if i % 97 == 0 {
                1e300
            } else if i % 89 == 0 {
                f64::NAN
            } else {
                rnd()
            };
            m.step(d, i % 7 == 0);
        }
        assert_eq!(usize::from(m.len), HISTORY);
        assert_eq!(m.heap_bytes(), HISTORY);
        assert!(m.slow_scale.is_finite() && m.slow_scale > 0.0, "{}", m.slow_scale);
        assert!(m.nearest().is_some_and(f32::is_finite));
    }
}
