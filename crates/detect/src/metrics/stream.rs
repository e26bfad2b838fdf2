//! The causal streaming scorer: one point at a time, O(1) work and under 2 KiB of state per
//! series.
//!
//! For each point the scorer
//! 1. removes a learned daily profile when the series has one ([`super::season`]),
//! 2. forms the residual against a robust running level and divides it by a robust running
//!    scale, floored by the series' quantum so integer counters and flat series do not explode;
//!    with a daily profile in use, the residual is measured against its own hour of the day
//!    (scaled by the ratio of the whole day's residual spread to that hour's),
//! 3. smooths the standardised residual at several time scales and standardises each smoothed
//!    residual by its own running magnitude, so that sustained shifts stand out as clearly as
//!    spikes, whatever the autocorrelation of the series,
//! 4. turns each of these statistics into a tail probability against the series' own history of
//!    that statistic (a decayed log-scale histogram with an exponential tail), and takes the
//!    smallest, Bonferroni-corrected, together with a value-range novelty term (a new extreme
//!    measured in units of how far the series' own tail reaches, see [`super::range`], a mere
//!    graze of the tail counting in proportion, see [`StreamConfig::range_margin`]); calibrating each
//!    time scale on its own history is what makes scores comparable across series, and
//! 5. reports a sustained excursion once, at its onset: while an event is open, scores are
//!    damped unless the excursion becomes much rarer than the one that opened it,
//! 6. judges, once every block of 25 points, the mean of the last six blocks of raw values
//!    against the series' own past stretch means (the level of step 2 follows the series within
//!    a few dozen points, so a raised stretch of a few hundred would otherwise become the new
//!    normal before it looks rare); an excursion of that mean is reported at its onset, and
//! 7. holds an excursion at the alarm level, not beyond, when excursions opened within an hour of
//!    the same time of day on each of the previous two days and it is at most about ten times
//!    rarer than they were (a nightly job's spike), see [`super::repeats`], and
//! 8. lowers the score of a point whose last sixteen deviations from the expected value trace a
//!    shape the series drew in its last 384 points more closely than most shapes match their
//!    nearest earlier one (a burst like the ones of a few hours before), see [`super::shapes`].

use serde::{Deserialize, Serialize};

use super::events::{EventConfig, EventState, Fatigue};
use super::range::RangeTracker;
use super::repeats::DailyRepeats;
use super::season::DailyProfile;
use super::shapes::ShapeMemory;
use super::stretch::{StretchTracker, two_sided_p};
use super::tail::{RarityHistogram, Stat, fast_ln, score_of_ln_p, unit_growth};
use super::windows::AnomalyKind;

/// Tail probability below which a point's [`PointScore::kind`] names the test that found it.
const KIND_P: f64 = 0.05;

/// Settings of the streaming scorer. The defaults are the one configuration used everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Points seen before any non-zero score.
    pub warmup: u32,
    /// Weight of a new point in the running level.
    pub level_alpha: f64,
    /// Weight of a new point in the running residual scale.
    pub scale_alpha: f64,
    /// Weights of the smoothed residuals (one per time scale).
    pub smooth_alphas: [f64; 3],
    /// Weight of a new point in each smoothed residual's magnitude.
    pub smooth_scale_alpha: f64,
    /// Effective memory of the rarity histogram, in points.
    pub memory: f64,
    /// Alarm handling: one reported onset per sustained excursion.
    pub events: EventConfig,
    /// Step of the range quantile trackers, as a fraction of the spread.
    pub range_rate: f64,
    /// How far past the tracked tail a value must lie for the value-range term to count in
    /// full, in units of how far that tail reaches beyond its quartile. A value nearer the
    /// tail than this is within the tail estimate's own uncertainty (a tail at one in a
    /// thousand is estimated from a handful of past extremes), so its tail probability is
    /// multiplied by `range_margin / excursion`: half the margin past the tail counts as half
    /// as rare. Without it a bounded series (uniform noise, a gauge pinned near its limits)
    /// alarms each time it grazes its own bounds, and those grazes feed alarm fatigue. 0 turns
    /// it off. On the NAB development half (standard profile), margins of 0.2 to 0.4 scored
    /// 75.5 to 76.7, 0.5 scored 74.4 and 0 scored 73.8. Margins of 0.1 to 0.19 scored 72.2 to
    /// 73.1: there a graze just before a larger excursion still opens an event, which damps
    /// the larger one (one file's window).
    pub range_margin: f64,
    /// Learn and remove a daily profile when it explains the series.
    pub seasonality: bool,
    /// With a daily profile in use, a residual is scaled by the ratio of the whole day's
    /// residual spread to its own hour's, limited to `[1 / limit, limit]`; 1 turns it off.
    pub hour_spread_limit: f64,
    /// Score given by a tail probability of `10^-score_decades` is 1.
    pub score_decades: f64,
    /// Raised or lowered stretches: points per block (a stretch is the last six blocks, judged
    /// as each block completes); 0 turns the statistic off.
    pub stretch_block: u32,
    /// Blocks between the stretch means recorded as the series' history.
    pub stretch_record_every: u32,
    /// Memory of that history, in recorded stretch means.
    pub stretch_memory: f64,
    /// Two-sided normal tail probability of a stretch mean, against the history, that opens an
    /// excursion (reported once, at its onset).
    pub stretch_onset_p: f64,
    /// An excursion that opens within an hour of the same time of day as excursions on each of
    /// this many previous days, and is at most about ten times rarer than they were, is expected
    /// (a nightly job's spike): it scores at the alarm level `events.open_p`, not beyond; 0
    /// turns this off.
    pub daily_repeat_days: u32,
    /// Factor applied to the score of a point whose shape is familiar: when the deviations of
    /// its last sixteen points, with their mean removed, trace a shape the series drew in the
    /// last 384 points more closely than most shapes match their nearest earlier one (a burst
    /// like the ones of a few hours before). Judged for scores of 0.25 or more, below which the
    /// damping could not bring an alarm down; 1 turns it off.
    pub shape_damping: f64,
    /// Alarm fatigue: memory, in points, of the decayed count of the alarms the series has
    /// raised (onsets scoring at least the score of `events.open_p`); 0 turns it off. A series
    /// that keeps raising alarms is believed less at each new one: a point's tail probability
    /// is multiplied by `1 + alarms / fatigue_free`, so its score drops by
    /// `log10(1 + alarms / fatigue_free) / score_decades`. The default, 30,000 points, is about
    /// a hundred days of five-minute points; every memory from 10,000 to 100,000 points with 5
    /// to 20 free alarms scored 76.1 to 77.1 on the NAB development half (75.2 without), and
    /// 73.1 to 74.0 (72.4 without) before [`StreamConfig::range_margin`].
    pub fatigue_memory: f64,
    /// The number of past alarms that doubles a new point's tail probability under
    /// [`StreamConfig::fatigue_memory`].
    pub fatigue_free: f64,
}

/// Score from which a point's shape is judged for [`StreamConfig::shape_damping`].
const FAMILIAR_FROM: f64 = 0.25;

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            warmup: 30,
            level_alpha: 0.05,
            scale_alpha: 0.02,
            smooth_alphas: [1.0, 0.25, 0.06],
            smooth_scale_alpha: 0.01,
            memory: 3000.0,
            events: EventConfig::default(),
            range_rate: 0.03,
            range_margin: 0.25,
            seasonality: true,
            hour_spread_limit: 4.0,
            score_decades: 6.0,
            stretch_block: 25,
            stretch_record_every: 3,
            stretch_memory: 100.0,
            stretch_onset_p: 1e-4,
            daily_repeat_days: 2,
            shape_damping: 0.8,
            fatigue_memory: 30_000.0,
            fatigue_free: 10.0,
        }
    }
}

/// The state of one series. It serialises, so a process can restart without relearning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    n: u64,
    last_t: i64,
    level: f64,
    scale: f32,
    quantum: f32,
    last_x: f64,
    smooth: [f32; 3],
    smooth_mag: [f32; 3],
    profile: Option<DailyProfile>,
    scale_hists: [RarityHistogram; 3],
    range: RangeTracker,
    range_hist: RarityHistogram,
    range_share: f32,
    events: EventState,
    /// The sum of the raw values of the stretch block being filled, and its points still to
    /// come.
    stretch_sum: f64,
    stretch_left: u32,
    stretch: StretchTracker,
    skipped: u64,
    repeats: DailyRepeats,
    shapes: ShapeMemory,
    fatigue: Fatigue,
}

/// What the scorer concluded about one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointScore {
    /// Calibrated anomaly score in `[0, 1]`.
    pub score: f64,
    /// Tail probability of the point's statistic against the series' history (1 when not scored).
    pub p_value: f64,
    /// Signed standardised residual of the point.
    pub z: f64,
    /// The value expected (level plus seasonal profile).
    pub expected: f64,
    /// Robust scale of residuals, in the series' units.
    pub scale: f64,
    /// Whether this point opened an event (the onset of a reported excursion).
    pub onset: bool,
    /// The test that gave the point its tail probability, when that is under 5% (`None` for
    /// ordinary points, before the scorer's warm-up ends, and for skipped points). A score of
    /// 0.22 or more always has a kind.
    pub kind: Option<AnomalyKind>,
}

impl PointScore {
    fn none(expected: f64) -> Self {
        Self { score: 0.0, p_value: 1.0, z: 0.0, expected, scale: 0.0, onset: false, kind: None }
    }
}

impl StreamState {
    /// A fresh state.
    #[must_use]
    pub fn new(config: &StreamConfig) -> Self {
        Self {
            n: 0,
            last_t: i64::MIN,
            level: 0.0,
            scale: 0.0,
            quantum: 0.0,
            last_x: f64::NAN,
            smooth: [0.0; 3],
            smooth_mag: [0.0; 3],
            profile: config.seasonality.then(DailyProfile::new),
            scale_hists: [RarityHistogram::new(), RarityHistogram::new(), RarityHistogram::new()],
            range: RangeTracker::new(),
            range_hist: RarityHistogram::new(),
            range_share: 0.0,
            events: EventState::default(),
            stretch_sum: 0.0,
            stretch_left: config.stretch_block,
            stretch: StretchTracker::new(),
            skipped: 0,
            repeats: DailyRepeats::default(),
            shapes: ShapeMemory::new(),
            fatigue: Fatigue::default(),
        }
    }

    /// Points consumed.
    #[must_use]
    pub fn points(&self) -> u64 {
        self.n
    }

    /// Points skipped because they were NaN, infinite, or not after the previous timestamp.
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Approximate heap plus inline size of this state in bytes.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.profile.as_ref().map_or(0, DailyProfile::heap_bytes)
            + self.shapes.heap_bytes()
    }

    /// Scores one point. Non-finite values and timestamps that do not advance are skipped
    /// (score 0, state untouched but for the skip counter): the documented behaviour for
    /// NaN, infinities, duplicates and out-of-order samples.
    pub fn update(&mut self, config: &StreamConfig, t_ms: i64, x: f64) -> PointScore {
        if !x.is_finite() || t_ms <= self.last_t {
            self.skipped += 1;
            return PointScore::none(self.level);
        }
        self.last_t = t_ms;
        self.n += 1;
        // quantum: the smallest non-zero step seen between consecutive values
        if self.last_x.is_finite() {
            let d = (x - self.last_x).abs() as f32;
            if d > 0.0 && (self.quantum == 0.0 || d < self.quantum) {
                self.quantum = d;
            }
        }
        self.last_x = x;
        // the profile learns from the raw value only, so it can learn as soon as it is read
        let (seasonal, hour_factor) =
            self.profile.as_mut().map_or((0.0, 1.0), |p| p.step(t_ms, x, config.hour_spread_limit));
        let y = x - seasonal;
        if self.n == 1 {
            self.level = y;
            return PointScore::none(x);
        }
        let expected = self.level + seasonal;
        let resid = y - self.level;
        let floor = f64::from(self.quantum).max(1e-9 * self.level.abs()).max(1e-12);
        let scale = f64::from(self.scale).max(floor * 0.5);
        let z = (resid / scale * hour_factor).clamp(-1e6, 1e6);

        // statistic: the largest standardised smoothed residual over the time scales
        let mut stat = 0f64;
        let mut zs = [0f64; 3];
        for (j, ((sm, mag_j), &a)) in
            self.smooth.iter_mut().zip(&mut self.smooth_mag).zip(&config.smooth_alphas).enumerate()
        {
            *sm += a as f32 * (z as f32 - *sm);
            let mag = f64::from(*mag_j).max(if j == 0 { 0.5 } else { 0.05 });
            stat = stat.max((f64::from(*sm) / mag).abs());
            if let Some(zj) = zs.get_mut(j) {
                *zj = (f64::from(*sm) / mag).abs();
            }
            let m = sm.abs().min(10.0 * mag_j.max(0.1));
            *mag_j += config.smooth_scale_alpha as f32 * (m - *mag_j);
        }

        let scored = self.n > u64::from(config.warmup);
        let exc = self.range.excursion(x, floor);
        let s_exc = Stat::new(exc);
        let prepared = zs.map(Stat::new);
        // the tail probabilities of the point's own residual and of the rarest residual over the
        // time scales, and whether the range term gave `p`, kept to name the test that found a
        // rare point
        let mut tests = (1.0f64, 1.0f64, false);
        let p = if scored {
            let mut p_res = 1.0f64;
            for (j, (h, s)) in self.scale_hists.iter_mut().zip(&prepared).enumerate() {
                let q = h.tail_probability_stat(s);
                if j == 0 {
                    tests.0 = q;
                }
                p_res = p_res.min(q);
            }
            tests.1 = p_res;
            let p_res = (p_res * 3.0).min(1.0);
            // P(outside the range) x P(this far | outside): the excursion's tail is estimated
            // from past excursions only, not from the mass of points inside the range; a graze
            // within the margin counts in proportion to how far past the tail it lies
            let p_val = if exc > 0.0 {
                (f64::from(self.range_share).max(1.0 / config.memory)
                    * self.range_hist.tail_probability_stat(&s_exc)
                    * (config.range_margin / exc).max(1.0))
                .min(1.0)
            } else {
                1.0
            };
            tests.2 = p_val < p_res;
            (2.0 * p_res.min(p_val)).min(1.0)
        } else {
            1.0
        };
        let growth = unit_growth(config.memory);
        for (h, s) in self.scale_hists.iter_mut().zip(&prepared) {
            h.add_stat(s, growth);
        }
        if exc > 0.0 {
            self.range_hist.add_stat(&s_exc, growth);
        }
        self.range_share += (1.0 / config.memory) as f32 * (f32::from(u8::from(exc > 0.0)) - self.range_share);
        self.range.learn(x, config.range_rate, floor);

        // alarm handling: one reported onset per sustained excursion
        let (mut p_out, mut onset) = if scored { self.events.step(self.n, p, &config.events) } else { (1.0, false) };
        let mut p = p;
        let mut stretch_found = false;
        // a raised or lowered stretch of raw values, judged once a block and reported at its
        // onset only
        if config.stretch_block > 0 {
            self.stretch_sum += x;
            // a countdown, not `n % block`: a division on every point costs more than the rest
            self.stretch_left = self.stretch_left.saturating_sub(1);
            if self.stretch_left == 0 {
                self.stretch_left = config.stretch_block;
                let every = u64::from(config.stretch_record_every);
                let sum = std::mem::take(&mut self.stretch_sum);
                if let Some(z) = self.stretch.end_block(
                    sum,
                    config.stretch_block,
                    every,
                    config.stretch_memory,
                    config.stretch_onset_p,
                ) && scored
                {
                    let p_stretch = two_sided_p(z);
                    stretch_found = p_stretch < p;
                    p = p.min(p_stretch);
                    p_out = p_out.min(p_stretch);
                    onset = true;
                }
            }
        }
        // an excursion that opens at the time of day where excursions opened on the previous
        // days is expected: its score stays at the alarm level (looked up at onsets only)
        if onset && p_out < config.events.open_p {
            let rarity = p_out;
            if self.repeats.is_repeat(t_ms, rarity, config.daily_repeat_days) {
                p_out = config.events.open_p;
            }
            self.repeats.record(t_ms, rarity);
        }
        let mut score = score_of_ln_p(fast_ln(p_out), config.score_decades);
        // a burst shaped like one of a few hours before is less news than its rarity says
        if config.shape_damping < 1.0 && self.shapes.step(resid, score >= FAMILIAR_FROM) {
            score *= config.shape_damping.max(0.0);
        }
        // a series that keeps raising alarms is believed less at each new one
        if config.fatigue_memory > 0.0 {
            score = self.fatigue.apply(self.n, score, onset, config);
        }
        let kind = (p < KIND_P).then(|| {
            let (p_point, p_res, from_range) = tests;
            if stretch_found {
                AnomalyKind::Stretch
            } else if from_range {
                AnomalyKind::OutOfRange
            } else if p_res < p_point {
                AnomalyKind::Shift
            } else {
                AnomalyKind::Residual
            }
        });

        // learn, after scoring (causal)
        let clip = 4.0 * scale;
        let alpha = if self.events.is_open() { (config.level_alpha * 3.0).min(1.0) } else { config.level_alpha };
        self.level += alpha * resid.clamp(-clip, clip);
        let abs = resid.abs().min(clip) as f32;
        if self.n == 2 {
            self.scale = abs.max(self.quantum);
        } else {
            self.scale += config.scale_alpha as f32 * (abs - self.scale);
        }

        PointScore { score, p_value: p, z, expected, scale, onset, kind }
    }
}
