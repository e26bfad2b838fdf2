//! Stage traits: the seams where users plug their own detectors into the pipeline.

use std::fmt::Debug;

use crate::error::Result;

/// A detector over one metric series. Implementations must give one score per input point,
/// each in `[0, 1]` and never NaN, for any input (NaN values, unsorted or duplicate timestamps,
/// empty series), and the same output for the same input.
pub trait SeriesDetector: Send + Sync + Debug {
    /// A short name (`ensemble`, `stream`, ...).
    fn name(&self) -> &str;

    /// Scores a whole series at once.
    ///
    /// # Errors
    /// When the detector cannot run (for example, mismatched column lengths).
    fn score_batch(&self, timestamps_ms: &[i64], values: &[f64]) -> Result<Vec<f64>>;

    /// Starts a causal stream for one series.
    fn start_stream(&self) -> Box<dyn SeriesStream>;

    /// Resumes a causal stream from a [`SeriesStream::snapshot`], so a process can restart
    /// without relearning.
    ///
    /// # Errors
    /// When the snapshot cannot be resumed by this detector: saved by another detector, another
    /// build's state format, or other settings. Detectors that cannot resume streams at all
    /// (the default) always refuse.
    fn resume_stream(&self, _snapshot: serde_json::Value) -> Result<Box<dyn SeriesStream>> {
        Err(crate::Error::invalid(
            "detector state",
            format!("the {} detector cannot resume a saved stream", self.name()),
        ))
    }
}

/// The causal, point-at-a-time form of a detector: the score of a point depends only on the
/// points before it.
pub trait SeriesStream: Send + Debug {
    /// Consumes one point and returns its score in `[0, 1]`.
    fn update(&mut self, t_ms: i64, value: f64) -> f64;

    /// The state as JSON, so a process can restart without relearning.
    ///
    /// # Errors
    /// When the state cannot be serialised.
    fn snapshot(&self) -> Result<serde_json::Value>;
}
