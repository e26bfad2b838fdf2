//! Alarm handling: a sustained excursion is reported once, at its onset.

use serde::{Deserialize, Serialize};

/// When an excursion opens and closes, and how later points inside it are damped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Tail probability that opens an event.
    pub open_p: f64,
    /// Tail probability above which a point counts as quiet. With calibrated tail
    /// probabilities, ordinary points fall below 0.005 one time in two hundred, so fifty quiet
    /// points in a row close an event soon after the excursion ends.
    pub quiet_p: f64,
    /// Quiet points in a row that close an event.
    pub quiet_points: u32,
    /// Factor by which a point must be rarer than the event's rarest point to alarm again.
    pub realarm_factor: f64,
    /// Exponent applied to the tail probability of points inside an open event (`p^damping`:
    /// 1 leaves them alone, 0.2 turns 1e-5 into 0.1).
    pub damping: f64,
    /// Memory, in points, of the record of past events' peak rarities (0 turns it off). An
    /// excursion no rarer than ones the series keeps producing is not news: a point's tail
    /// probability is raised to the observed rate of past events at least as rare.
    pub recurrence_memory: f64,
    /// Past events at least as rare that are allowed before the recurrence rate applies.
    pub recurrence_free: f64,
    /// Points over which the recurrence rate is taken: a recurring excursion's tail probability
    /// is raised to the chance of one within this many points (`1 - exp(-rate * span)`); 2 was
    /// the best whole number on the NAB development half.
    pub recurrence_span: f64,
}

impl Default for EventConfig {
    fn default() -> Self {
        Self {
            open_p: 0.01,
            quiet_p: 0.005,
            quiet_points: 50,
            realarm_factor: 0.1,
            damping: 0.2,
            recurrence_memory: 3000.0,
            recurrence_free: 1.0,
            recurrence_span: 2.0,
        }
    }
}

/// The running state of the alarm handler.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct EventState {
    open: bool,
    min_p: f64,
    quiet_run: u32,
    /// The smallest tail probability of the open event before the recurrence record raised it.
    raw_min_p: f64,
    recurrence: Recurrence,
}

/// Half-decades of rarity recorded, from `10^-2` down to `10^-12`.
const LEVELS: usize = 20;

/// A decayed record of the peak rarity of past events, by half-decade of tail probability.
///
/// Decay is applied only when the record is read or written (both happen at events, which are
/// rare), from the number of points since the last touch, so ordinary points cost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Recurrence {
    counts: [f32; LEVELS],
    /// Point count at the last decay.
    at: u64,
}

fn level_of(p: f64) -> usize {
    (((super::tail::decades(p) - 2.0) * 2.0).max(0.0) as usize).min(LEVELS - 1)
}

impl Recurrence {
    /// Decays the counts to point `n` for a memory of `memory` points.
    fn decay_to(&mut self, n: u64, memory: f64) {
        let gap = n.saturating_sub(self.at);
        if gap > 0 {
            let f = (-(gap as f64) / memory.max(10.0)).exp() as f32;
            for c in &mut self.counts {
                *c *= f;
            }
            self.at = n;
        }
    }

    fn add_event(&mut self, n: u64, memory: f64, p: f64) {
        self.decay_to(n, memory);
        if let Some(c) = self.counts.get_mut(level_of(p)) {
            *c += 1.0;
        }
    }

    /// Rate per point, at point `n`, of past events at least as rare as `p`, beyond `free` of
    /// them; the decayed number of points seen is `memory * (1 - exp(-n / memory))`.
    fn rate(&mut self, n: u64, memory: f64, p: f64, free: f64) -> f64 {
        self.decay_to(n, memory);
        let above = f64::from(self.counts.get(level_of(p)..).unwrap_or_default().iter().sum::<f32>());
        if above <= free {
            return 0.0;
        }
        let memory = memory.max(10.0);
        let seen = memory * (1.0 - (-(n as f64) / memory).exp());
        ((above - free) / seen.max(1.0)).min(1.0)
    }
}

impl EventState {
    /// Whether an excursion is in progress.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Returns the damped tail probability of a point and whether it opened (or re-opened) an
    /// event.
    /// `n` counts the points scored so far (it dates the record of past events).
    pub(crate) fn step(&mut self, n: u64, raw_p: f64, c: &EventConfig) -> (f64, bool) {
        let p = raw_p;
        let p = if c.recurrence_memory > 0.0 && p < c.open_p {
            let rate = self.recurrence.rate(n, c.recurrence_memory, p, c.recurrence_free);
            p.max(-(-rate * c.recurrence_span.max(1.0)).exp_m1())
        } else {
            p
        };
        if self.open {
            self.raw_min_p = self.raw_min_p.min(raw_p);
            let out = if p < self.min_p * c.realarm_factor {
                self.min_p = p;
                (p, true)
            } else {
                self.min_p = self.min_p.min(p);
                (p.powf(c.damping), false)
            };
            if p > c.quiet_p {
                self.quiet_run += 1;
                if self.quiet_run >= c.quiet_points {
                    self.open = false;
                    if c.recurrence_memory > 0.0 {
                        self.recurrence.add_event(n, c.recurrence_memory, self.raw_min_p);
                    }
                }
            } else {
                self.quiet_run = 0;
            }
            out
        } else if p < c.open_p {
            *self = Self { open: true, min_p: p, quiet_run: 0, raw_min_p: raw_p, recurrence: self.recurrence };
            (p, true)
        } else {
            (p, false)
        }
    }
}

/// Applies the alarm handler to a whole series of tail probabilities, in order.
pub(crate) fn damp_events(p: &mut [f64], c: &EventConfig) {
    let mut st = EventState::default();
    for (n, v) in (1u64..).zip(p.iter_mut()) {
        *v = st.step(n, *v, c).0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tail probabilities with an excursion of `p_peak` lasting 5 points every `every` points.
    fn recurring(p_peak: f64, every: usize, n: usize) -> Vec<f64> {
        (0..n).map(|i| if i % every < 5 && i >= every { p_peak } else { 0.5 }).collect()
    }

    #[test]
    fn an_excursion_is_reported_once_at_onset() {
        let mut p = recurring(1e-4, 10_000, 400);
        damp_events(&mut p, &EventConfig::default());
        // no excursion in the first 10,000 points: nothing changes
        assert!(p.iter().all(|&v| v == 0.5));
        let mut p: Vec<f64> = (0..200).map(|i| if (100..110).contains(&i) { 1e-4 } else { 0.5 }).collect();
        damp_events(&mut p, &EventConfig::default());
        assert_eq!(p.get(100).copied(), Some(1e-4));
        assert!(p.get(101..110).unwrap_or_default().iter().all(|&v| v > 0.1), "damped inside the event");
    }

    #[test]
    fn recurring_excursions_stop_being_news() {
        let c = EventConfig::default();
        let mut p = recurring(1e-4, 200, 6_000);
        damp_events(&mut p, &c);
        let onsets: Vec<f64> = p.iter().copied().filter(|&v| v < c.open_p).collect();
        assert!(onsets.len() >= 2);
        // the first two are news; later ones are raised to the rate at which they recur
        assert_eq!(onsets.first().copied(), Some(1e-4));
        let last = p.get(5_800).copied().unwrap_or(0.0);
        assert!(last > 1e-3, "the 29th identical excursion still scores p = {last}");
        // and with the record off, every onset keeps its own rarity
        let off = EventConfig { recurrence_memory: 0.0, ..c };
        let mut q = recurring(1e-4, 200, 6_000);
        damp_events(&mut q, &off);
        assert_eq!(q.get(5_800).copied(), Some(1e-4));
    }

    #[test]
    fn a_rarer_excursion_than_the_recurring_ones_is_still_news() {
        let c = EventConfig::default();
        let mut p = recurring(1e-3, 200, 6_000);
        if let Some(v) = p.get_mut(5_800) {
            *v = 1e-7;
        }
        damp_events(&mut p, &c);
        assert_eq!(p.get(5_800).copied(), Some(1e-7));
    }
}
