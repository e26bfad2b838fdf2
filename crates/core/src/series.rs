//! Metric series stored column-wise.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::time::{TimeRange, Timestamp};

/// One metric series: a name, labels, and two equally long columns of
/// timestamps (milliseconds since the Unix epoch) and `f64` values.
///
/// Values may be NaN or infinite: Prometheus reports them (`"NaN"`, `"+Inf"`) and they are
/// kept as data; detectors decide what they mean.
///
/// ```
/// use faultlens_core::{Labels, MetricSeries};
/// let mut s = MetricSeries::new("up", Labels::new(), vec![2000, 1000, 2000], vec![1.0, 0.0, 3.0])?;
/// let report = s.normalize();
/// assert_eq!((report.reordered, report.duplicates_merged), (true, 1));
/// assert_eq!(s.timestamps_ms(), &[1000, 2000]);
/// assert_eq!(s.values(), &[0.0, 3.0]); // the last sample for a timestamp wins
/// # Ok::<(), faultlens_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawSeries")]
pub struct MetricSeries {
    name: String,
    labels: Labels,
    timestamps_ms: Vec<i64>,
    values: Vec<f64>,
}

#[derive(Deserialize, JsonSchema)]
struct RawSeries {
    name: String,
    #[serde(default)]
    labels: Labels,
    timestamps_ms: Vec<i64>,
    values: Vec<f64>,
}

impl TryFrom<RawSeries> for MetricSeries {
    type Error = Error;
    fn try_from(r: RawSeries) -> Result<Self> {
        Self::new(r.name, r.labels, r.timestamps_ms, r.values)
    }
}

/// What [`MetricSeries::normalize`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NormalizeReport {
    /// Whether the samples were out of time order and had to be sorted.
    pub reordered: bool,
    /// Samples folded into a later sample with the same timestamp.
    pub duplicates_merged: usize,
}

/// Median step between consecutive increasing timestamps, in milliseconds (the upper median
/// for an even count of steps; 0 for fewer than two timestamps). Repeated or decreasing
/// timestamps are skipped.
#[must_use]
pub fn median_step(ts: &[i64]) -> i64 {
    let mut d: Vec<i64> = ts
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b > a => Some(b - a),
            _ => None,
        })
        .collect();
    if d.is_empty() {
        return 0;
    }
    let mid = d.len() / 2;
    *d.select_nth_unstable(mid).1
}

/// The mean of several series per timestamp, over their finite values (pods of one service
/// averaged into one service-level series): `(timestamps, means)`, ascending. Equal times are
/// summed in member order, so the result is deterministic.
#[must_use]
pub fn mean_by_time(members: &[&MetricSeries]) -> (Vec<i64>, Vec<f64>) {
    // every member is in time order: concatenate and stable-sort (which merges the runs)
    let mut points: Vec<(i64, f64)> = members
        .iter()
        .flat_map(|s| s.timestamps_ms().iter().copied().zip(s.values().iter().copied()))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if members.len() > 1 {
        points.sort_by_key(|&(t, _)| t);
    }
    let (mut ts, mut vs) = (Vec::with_capacity(points.len()), Vec::with_capacity(points.len()));
    let mut i = 0;
    while let Some(&(t, first)) = points.get(i) {
        let (mut sum, mut n) = (0.0 + first, 1u32);
        i += 1;
        while let Some(&(_, v)) = points.get(i).filter(|p| p.0 == t) {
            sum += v;
            n += 1;
            i += 1;
        }
        ts.push(t);
        vs.push(sum / f64::from(n));
    }
    (ts, vs)
}

impl MetricSeries {
    /// A series from its columns.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the columns differ in length.
    pub fn new(name: impl Into<String>, labels: Labels, timestamps_ms: Vec<i64>, values: Vec<f64>) -> Result<Self> {
        if timestamps_ms.len() != values.len() {
            return Err(Error::invalid(
                "metric series",
                format!("{} timestamps but {} values", timestamps_ms.len(), values.len()),
            ));
        }
        Ok(Self { name: name.into(), labels, timestamps_ms, values })
    }

    /// The metric name (`__name__`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The labels (without `__name__`).
    #[must_use]
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Mutable labels.
    pub fn labels_mut(&mut self) -> &mut Labels {
        &mut self.labels
    }

    /// Timestamps in milliseconds since the Unix epoch.
    #[must_use]
    pub fn timestamps_ms(&self) -> &[i64] {
        &self.timestamps_ms
    }

    /// Sample values.
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the series has no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Appends one sample.
    pub fn push(&mut self, t: Timestamp, v: f64) {
        self.timestamps_ms.push(t.as_millis());
        self.values.push(v);
    }

    /// The service this series belongs to (see [`Labels::service`]).
    #[must_use]
    pub fn service(&self, preferred_label: Option<&str>) -> Option<&str> {
        self.labels.service(preferred_label)
    }

    /// The PromQL selector naming this series.
    #[must_use]
    pub fn selector(&self) -> String {
        self.labels.selector(&self.name)
    }

    /// The span from the first to the last sample, if any (after [`Self::normalize`]).
    #[must_use]
    pub fn range(&self) -> Option<TimeRange> {
        let first = *self.timestamps_ms.first()?;
        let last = *self.timestamps_ms.last()?;
        TimeRange::new(Timestamp::from_millis(first.min(last)), Timestamp::from_millis(first.max(last))).ok()
    }

    /// Sorts samples by time (stable) and folds samples with equal timestamps into the
    /// last one seen. This is the documented normalisation for out-of-order and duplicate
    /// samples; the report says what it did.
    pub fn normalize(&mut self) -> NormalizeReport {
        let mut report = NormalizeReport::default();
        let sorted = self.timestamps_ms.windows(2).all(|w| matches!(w, [a, b] if a <= b));
        if !sorted {
            report.reordered = true;
            let mut idx: Vec<usize> = (0..self.len()).collect();
            idx.sort_by_key(|&i| self.timestamps_ms.get(i).copied().unwrap_or_default());
            self.timestamps_ms = idx.iter().filter_map(|&i| self.timestamps_ms.get(i).copied()).collect();
            self.values = idx.iter().filter_map(|&i| self.values.get(i).copied()).collect();
        }
        let n = self.len();
        let mut w = 0usize;
        for r in 0..n {
            let (Some(&t), Some(&v)) = (self.timestamps_ms.get(r), self.values.get(r)) else {
                break;
            };
            if w > 0 && self.timestamps_ms.get(w - 1) == Some(&t) {
                if let Some(slot) = self.values.get_mut(w - 1) {
                    *slot = v;
                }
                report.duplicates_merged += 1;
                continue;
            }
            if let (Some(ts), Some(vs)) = (self.timestamps_ms.get_mut(w), self.values.get_mut(w)) {
                *ts = t;
                *vs = v;
            }
            w += 1;
        }
        self.timestamps_ms.truncate(w);
        self.values.truncate(w);
        report
    }

    /// The samples within `range`, as a new series (expects a normalised series).
    #[must_use]
    pub fn slice(&self, range: TimeRange) -> Self {
        let lo = self.timestamps_ms.partition_point(|&t| t < range.start.as_millis());
        let hi = self.timestamps_ms.partition_point(|&t| t <= range.end.as_millis());
        let hi = hi.max(lo);
        Self {
            name: self.name.clone(),
            labels: self.labels.clone(),
            timestamps_ms: self.timestamps_ms.get(lo..hi).unwrap_or_default().to_vec(),
            values: self.values.get(lo..hi).unwrap_or_default().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_columns_are_rejected() {
        assert!(MetricSeries::new("m", Labels::new(), vec![1], vec![]).is_err());
        assert!(serde_json::from_str::<MetricSeries>(r#"{"name":"m","timestamps_ms":[1,2],"values":[1]}"#).is_err());
    }

    #[test]
    fn slice_is_inclusive() {
        let s = MetricSeries::new("m", Labels::new(), vec![1, 2, 3, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let r = TimeRange::new(Timestamp::from_millis(2), Timestamp::from_millis(3)).unwrap();
        assert_eq!(s.slice(r).values(), &[2.0, 3.0]);
    }
}
