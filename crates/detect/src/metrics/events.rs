//! Alarm handling: a sustained excursion is reported once, at its onset.

use serde::{Deserialize, Serialize};

use super::stream::StreamConfig;
use super::tail::{fast_ln, score_of_ln_p};

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

/// Alarm fatigue: the decayed count of the alarms a series has raised, which lowers the score of
/// its later points (see [`StreamConfig::fatigue_memory`]).
///
/// An alarm is an onset (of an excursion, or of a rarer point within one) whose score, before
/// fatigue, reaches the alarm level, so fatigue does not hide the alarms that feed it, and a
/// sustained excursion counts once. The count is decayed lazily, from the points since it was
/// last touched, and touched only by points that score above zero.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Fatigue {
    alarms: f32,
    /// The point (its count, modulo 2^32) to which `alarms` is decayed.
    at: u32,
}

impl Fatigue {
    /// Lowers the `score` of point `n` by the fatigue of the series' past alarms, then counts
    /// the point as an alarm when it is an `onset` and `score` reaches the score of
    /// `events.open_p`.
    pub(crate) fn apply(&mut self, n: u64, score: f64, onset: bool, c: &StreamConfig) -> f64 {
        if score <= 0.0 {
            return score;
        }
        // the count modulo 2^32: a gap is right as long as it is below four billion points
        let now = n as u32;
        if self.alarms > 0.0 {
            let gap = now.wrapping_sub(self.at);
            if gap > 0 {
                self.alarms *= (-f64::from(gap) / c.fatigue_memory.max(1.0)).exp() as f32;
            }
        }
        self.at = now;
        let mut out = score;
        if self.alarms > 0.0 {
            // the tail probability times 1 + alarms / free: the score less the score of its inverse
            let ln_factor = fast_ln(1.0 + f64::from(self.alarms) / c.fatigue_free.max(1e-9));
            out = (score - score_of_ln_p(-ln_factor, c.score_decades)).max(0.0);
        }
        if onset && score >= score_of_ln_p(fast_ln(c.events.open_p), c.score_decades) {
            self.alarms += 1.0;
        }
        out
    }

    /// The count of past alarms, decayed to the last point that touched it.
    #[cfg(test)]
    pub(crate) fn alarms(&self) -> f32 {
        self.alarms
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

    /// Runs the fatigue over points `from..to` of a series that opens an alarm (score 0.5 at
    /// an onset, then 0.45 for two points) every `every` points and scores 0.1 between.
    fn run(f: &mut Fatigue, c: &StreamConfig, every: u64, from: u64, to: u64) -> Vec<f64> {
        (from..to)
            .map(|n| match n % every {
                0 => f.apply(n, 0.5, true, c),
                1 | 2 => f.apply(n, 0.45, false, c),
                _ => f.apply(n, 0.1, false, c),
            })
            .collect()
    }

    #[test]
    fn fatigue_counts_alarms_at_onsets_and_lowers_later_scores_by_its_factor() {
        let c = StreamConfig::default();
        let mut f = Fatigue::default();
        let out = run(&mut f, &c, 100, 100, 2_100);
        // twenty onsets count twenty alarms, less a little decay; the points inside count none
        assert!((19.0..20.0).contains(&f.alarms()), "counted {}", f.alarms());
        // the first onset is news; later points lose log10(1 + alarms / free) decades
        assert_eq!(out.first().copied(), Some(0.5));
        let last = out.get(1_900).copied().unwrap_or(1.0);
        let drop = (1.0 + 19.0 / c.fatigue_free).log10() / c.score_decades;
        assert!((0.5 - last - drop).abs() < 0.01, "score {last}, drop {drop}");
        assert!(out.iter().all(|s| (0.0..=0.5).contains(s)));
        // an onset below the alarm level is not an alarm
        let before = f.alarms();
        f.apply(2_100, 0.3, true, &c);
        assert!(f.alarms() <= before);
    }

    #[test]
    fn fatigue_wears_off_over_its_memory_and_leaves_quiet_series_alone() {
        let c = StreamConfig { fatigue_memory: 1_000.0, ..StreamConfig::default() };
        let mut f = Fatigue::default();
        run(&mut f, &c, 50, 50, 1_050);
        let tired = f.apply(1_050, 0.5, false, &c);
        assert!(tired < 0.45, "score {tired} after twenty alarms");
        // ten memories later, touched again only now, a crossing is news again
        assert!(f.apply(11_050, 0.5, true, &c) > 0.499);
        // the decay takes the gap modulo 2^32: across the wrap, 2,005 points decay the count of
        // one alarm to exp(-2.005)
        let mut w = Fatigue::default();
        w.apply(u64::from(u32::MAX) - 5, 0.5, true, &c);
        w.apply(u64::from(u32::MAX) + 2_000, 0.5, false, &c);
        assert!((w.alarms() - (-2.005f32).exp()).abs() < 1e-4, "{} left", w.alarms());
        // a series that never reaches the alarm level keeps its scores
        let mut q = Fatigue::default();
        assert!((0..5_000u64).all(|n| {
            let s = [0.0, 0.3, 0.33][(n % 3) as usize];
            q.apply(n, s, n % 7 == 0, &c) == s
        }));
        assert_eq!(q.alarms(), 0.0);
    }

    #[test]
    fn fatigue_with_wild_settings_gives_scores_in_range() {
        for (memory, free) in [(f64::NAN, 10.0), (-5.0, 10.0), (30_000.0, 0.0), (30_000.0, -1.0), (30_000.0, f64::NAN)]
        {
            let c = StreamConfig { fatigue_memory: memory, fatigue_free: free, ..StreamConfig::default() };
            let mut f = Fatigue::default();
            for s in run(&mut f, &c, 10, 10, 1_000) {
                assert!((0.0..=0.5).contains(&s), "memory {memory}, free {free}: score {s}");
            }
        }
    }
}
