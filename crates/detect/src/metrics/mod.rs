//! Anomaly detection in metric series.
//!
//! The [`StreamingDetector`] scores one point at a time, causally, with a few hundred bytes of
//! state per series; [`score_streaming`] runs it over a whole series.

mod range;
mod season;
mod stream;
mod tail;

pub use stream::{PointScore, StreamConfig, StreamState};

/// A streaming detector for one series: its configuration and its state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamingDetector {
    config: StreamConfig,
    state: StreamState,
}

impl StreamingDetector {
    /// A detector with the given configuration.
    #[must_use]
    pub fn new(config: StreamConfig) -> Self {
        let state = StreamState::new(&config);
        Self { config, state }
    }

    /// Scores one point (see [`StreamState::update`]).
    pub fn update(&mut self, t_ms: i64, value: f64) -> PointScore {
        self.state.update(&self.config, t_ms, value)
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> &StreamState {
        &self.state
    }
}

impl Default for StreamingDetector {
    fn default() -> Self {
        Self::new(StreamConfig::default())
    }
}

/// Scores a whole series causally, point by point.
#[must_use]
pub fn score_streaming(timestamps_ms: &[i64], values: &[f64], config: &StreamConfig) -> Vec<PointScore> {
    let mut d = StreamingDetector::new(config.clone());
    timestamps_ms.iter().zip(values).map(|(&t, &v)| d.update(t, v)).collect()
}
