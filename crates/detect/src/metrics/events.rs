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
}

impl Default for EventConfig {
    fn default() -> Self {
        Self { open_p: 0.01, quiet_p: 0.005, quiet_points: 50, realarm_factor: 0.1, damping: 0.2 }
    }
}

/// The running state of the alarm handler.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct EventState {
    open: bool,
    min_p: f64,
    quiet_run: u32,
}

impl EventState {
    /// Whether an excursion is in progress.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Returns the damped tail probability of a point and whether it opened (or re-opened) an
    /// event.
    pub(crate) fn step(&mut self, p: f64, c: &EventConfig) -> (f64, bool) {
        if self.open {
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
                }
            } else {
                self.quiet_run = 0;
            }
            out
        } else if p < c.open_p {
            *self = Self { open: true, min_p: p, quiet_run: 0 };
            (p, true)
        } else {
            (p, false)
        }
    }
}

/// Applies the alarm handler to a whole series of tail probabilities, in order.
pub(crate) fn damp_events(p: &mut [f64], c: &EventConfig) {
    let mut st = EventState::default();
    for v in p.iter_mut() {
        *v = st.step(*v, c).0;
    }
}
