//! Excursions that repeat at the same time of day: a nightly job's spike is not news.
//!
//! The daily profile removes a daily shape only when it explains most of a series' variance,
//! and its bins are a quarter of an hour wide, so a short spike that a job causes at 02:00 every
//! night is left in the residuals and alarms every night. This record keeps the times of the
//! last excursions to open and how rare each was; one that opens within an hour of the same time
//! of day on each of the previous days, and is at most about ten times rarer than those were,
//! is expected: its score is held at the alarm level (`events.open_p`, a score of 1/3). A
//! nightly spike more than ten times rarer than the nights before is still news.

use serde::{Deserialize, Serialize};

/// Excursion onsets remembered (enough for several a day over the days checked).
const KEPT: usize = 16;

/// Minutes in a day.
const DAY_MIN: i64 = 1440;

/// How far from the same time of day an earlier onset may lie, in minutes.
const TOLERANCE_MIN: i64 = 60;

/// How much rarer than the earlier onsets, in tenths of a decade of tail probability, an onset
/// may be and still count as their repeat (ten: ten times rarer).
const RARER_LEVELS: u8 = 10;

/// The times of the last excursion onsets, in minutes since the epoch (wrapping at 2^32, which
/// only the differences of recent times are read through), and their rarity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct DailyRepeats {
    onsets: [u32; KEPT],
    levels: [u8; KEPT],
    len: u8,
    head: u8,
}

/// Minutes since the epoch of `t_ms`, wrapped to 32 bits.
fn minutes(t_ms: i64) -> u32 {
    t_ms.div_euclid(60_000) as u32
}

/// The rarity of a tail probability in tenths of a decade (`p = 1e-3` is 30), from 0 to 240.
fn level(p: f64) -> u8 {
    (10.0 * super::tail::decades(p)).clamp(0.0, 240.0) as u8
}

impl DailyRepeats {
    /// Whether an excursion opening at `t_ms` with tail probability `p` repeats ones that opened
    /// within an hour of the same time of day on each of the `days` previous days, being at most
    /// about ten times rarer than they were (never, for `days == 0`).
    pub(crate) fn is_repeat(&self, t_ms: i64, p: f64, days: u32) -> bool {
        let (now, rarity) = (minutes(t_ms), level(p));
        let n = usize::from(self.len);
        let kept = self.onsets.get(..n).unwrap_or_default().iter().zip(self.levels.get(..n).unwrap_or_default());
        days > 0
            && (1..=i64::from(days)).all(|d| {
                kept.clone().any(|(&m, &l)| {
                    (i64::from(now.wrapping_sub(m)) - d * DAY_MIN).abs() <= TOLERANCE_MIN
                        && l.saturating_add(RARER_LEVELS) >= rarity
                })
            })
    }

    /// Records an excursion opening at `t_ms` with tail probability `p`.
    pub(crate) fn record(&mut self, t_ms: i64, p: f64) {
        if let (Some(slot), Some(l)) =
            (self.onsets.get_mut(usize::from(self.head)), self.levels.get_mut(usize::from(self.head)))
        {
            *slot = minutes(t_ms);
            *l = level(p);
        }
        self.head = ((usize::from(self.head) + 1) % KEPT) as u8;
        self.len = (usize::from(self.len) + 1).min(KEPT) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_repeat_needs_every_previous_day_within_the_hour() {
        let mut r = DailyRepeats::default();
        let day = 24 * HOUR;
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % day + 2 * HOUR;
        let p = 1e-4;
        assert!(!r.is_repeat(t0, p, 2));
        r.record(t0, p);
        // the next day, 40 minutes later: one previous day, not two
        let t1 = t0 + day + 40 * 60_000;
        assert!(r.is_repeat(t1, p, 1) && !r.is_repeat(t1, p, 2));
        r.record(t1, p);
        // the third day, back at 02:00: within the hour of both earlier onsets
        let t2 = t0 + 2 * day;
        assert!(r.is_repeat(t2, p, 2));
        assert!(r.is_repeat(t2, p / 8.0, 2), "up to about ten times rarer is a repeat");
        assert!(!r.is_repeat(t2, p / 13.0, 2), "more than that is news");
        assert!(!r.is_repeat(t2, p, 3), "no onset three days before");
        assert!(!r.is_repeat(t2 + 2 * HOUR, p, 2), "two hours off is another time of day");
        assert!(!r.is_repeat(t2, p, 0), "0 turns the record off");
    }

    #[test]
    fn only_the_last_onsets_are_kept() {
        let mut r = DailyRepeats::default();
        let t0 = 1_700_000_000_000;
        r.record(t0, 1e-3);
        r.record(t0 + 24 * HOUR, 1e-3);
        // a busy day pushes the earliest onsets out of the record
        for k in 0..KEPT as i64 {
            r.record(t0 + 30 * HOUR + k * 60_000, 1e-3);
        }
        assert!(!r.is_repeat(t0 + 48 * HOUR, 1e-3, 2));
        assert_eq!(usize::from(r.len), KEPT);
    }

    #[test]
    fn times_before_the_epoch_and_across_the_wrap_work() {
        // the third onset of the second case lies past 2^32 minutes
        for t0 in [-5 * 24 * HOUR, i64::from(u32::MAX) * 60_000 - 24 * HOUR] {
            let mut r = DailyRepeats::default();
            r.record(t0, 1e-3);
            r.record(t0 + 24 * HOUR, 1e-3);
            assert!(r.is_repeat(t0 + 48 * HOUR, 1e-3, 2), "{t0}");
        }
    }
}
