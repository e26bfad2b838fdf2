//! Analysis settings. The defaults are the one configuration used on every benchmark set.

use serde::{Deserialize, Serialize};

/// How [`crate::analyze`] works. Every field has a default; `with_*` setters change one.
///
/// ```
/// use faultlens_correlate::AnalyzeConfig;
/// let c = AnalyzeConfig::default().with_use_changes(false).with_max_hypotheses(3);
/// assert!(!c.use_changes);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyzeConfig {
    /// Share of the time before detection that counts as the incident's lead-in (not baseline).
    pub lead_fraction: f64,
    /// Upper bound of the lead-in, in milliseconds.
    pub max_lead_ms: i64,
    /// Floor of a series' robust scale, as a share of its largest magnitude, so a flat baseline
    /// does not make every wobble infinitely rare. For a metric that is bad when it falls
    /// (availability, success ratio) the magnitude is its largest shortfall below its own top.
    pub scale_floor: f64,
    /// Robust z a series must reach to count as anomalous.
    pub min_z: f64,
    /// Largest robust z a series with a degenerate baseline (no spread, or fewer than five
    /// samples) can score.
    pub degenerate_cap: f64,
    /// Share of an anomalous dependency's strength at which it explains a caller's errors or
    /// latency (or a caller's traffic explains a callee's).
    pub explain_ratio: f64,
    /// Weight of a root's explanatory power: an unexplained anomaly gains this times
    /// `ln(1 + n)`, where `n` counts the anomalous services whose chain of explanations ends at
    /// it. When two candidates are about as anomalous (robust z saturates near 100 on a rise
    /// from nothing), the one that accounts for more of what is seen is the more likely cause.
    pub explains_weight: f64,
    /// Weight of a plausible change on a service, added to its root score (a prompt change on
    /// an anomalous service adds the whole weight).
    pub change_weight: f64,
    /// How fast a change's weight fades with its lead over the onset, in milliseconds: a change
    /// this long past the first five minutes weighs half.
    pub change_horizon_ms: i64,
    /// Use change events (off: metrics, logs and topology only).
    pub use_changes: bool,
    /// Use log signals.
    pub use_logs: bool,
    /// Softmax temperature that turns final scores into confidences. 0.25 was fitted on a
    /// simulated suite (`faultlens sim suite --seed 1`) for the lowest calibration error and
    /// checked on the dev sets; see the README's calibration table.
    pub temperature: f64,
    /// Hypotheses reported.
    pub max_hypotheses: usize,
    /// Knowledge sections attached per hypothesis.
    pub citations_per_hypothesis: usize,
    /// Fused retrieval score a knowledge section needs to be attached.
    pub min_citation_score: f64,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        Self {
            lead_fraction: 0.1,
            max_lead_ms: 30 * 60_000,
            scale_floor: 0.01,
            min_z: 3.0,
            degenerate_cap: 10.0,
            explain_ratio: 0.8,
            explains_weight: 0.1,
            change_weight: 3.0,
            change_horizon_ms: 10 * 60_000,
            use_changes: true,
            use_logs: true,
            temperature: 0.25,
            max_hypotheses: 5,
            citations_per_hypothesis: 2,
            min_citation_score: 0.35,
        }
    }
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $field:ident: $ty:ty;)*) => {
        impl AnalyzeConfig {
            $($(#[$m])* #[must_use] pub fn $name(mut self, v: $ty) -> Self { self.$field = v; self })*
        }
    };
}

setters! {
    /// Sets [`AnalyzeConfig::lead_fraction`].
    with_lead_fraction: lead_fraction: f64;
    /// Sets [`AnalyzeConfig::max_lead_ms`].
    with_max_lead_ms: max_lead_ms: i64;
    /// Sets [`AnalyzeConfig::scale_floor`].
    with_scale_floor: scale_floor: f64;
    /// Sets [`AnalyzeConfig::min_z`].
    with_min_z: min_z: f64;
    /// Sets [`AnalyzeConfig::degenerate_cap`].
    with_degenerate_cap: degenerate_cap: f64;
    /// Sets [`AnalyzeConfig::explain_ratio`].
    with_explain_ratio: explain_ratio: f64;
    /// Sets [`AnalyzeConfig::explains_weight`].
    with_explains_weight: explains_weight: f64;
    /// Sets [`AnalyzeConfig::change_weight`].
    with_change_weight: change_weight: f64;
    /// Sets [`AnalyzeConfig::change_horizon_ms`].
    with_change_horizon_ms: change_horizon_ms: i64;
    /// Sets [`AnalyzeConfig::use_changes`].
    with_use_changes: use_changes: bool;
    /// Sets [`AnalyzeConfig::use_logs`].
    with_use_logs: use_logs: bool;
    /// Sets [`AnalyzeConfig::temperature`].
    with_temperature: temperature: f64;
    /// Sets [`AnalyzeConfig::max_hypotheses`].
    with_max_hypotheses: max_hypotheses: usize;
    /// Sets [`AnalyzeConfig::citations_per_hypothesis`].
    with_citations_per_hypothesis: citations_per_hypothesis: usize;
    /// Sets [`AnalyzeConfig::min_citation_score`].
    with_min_citation_score: min_citation_score: f64;
}

impl AnalyzeConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad =
            |field: &'static str, message: &str| Err(crate::Error::Config { field, message: message.to_string() });
        if !(0.0..=1.0).contains(&self.lead_fraction) {
            return bad("lead_fraction", "must be in [0, 1]");
        }
        if self.max_lead_ms < 0 {
            return bad("max_lead_ms", "must be at least 0");
        }
        if self.change_horizon_ms <= 0 {
            return bad("change_horizon_ms", "must be positive");
        }
        if !(self.scale_floor.is_finite() && self.scale_floor >= 0.0) {
            return bad("scale_floor", "must be a finite number >= 0");
        }
        if !(self.min_z.is_finite()
            && self.degenerate_cap.is_finite()
            && self.explain_ratio.is_finite()
            && self.change_weight.is_finite())
        {
            return bad("min_z", "thresholds and weights must be finite");
        }
        if !(self.explains_weight.is_finite() && self.explains_weight >= 0.0) {
            return bad("explains_weight", "must be a finite number >= 0");
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad("temperature", "must be a finite number > 0");
        }
        if self.max_hypotheses == 0 {
            return bad("max_hypotheses", "must be at least 1");
        }
        if !self.min_citation_score.is_finite() {
            return bad("min_citation_score", "must be finite");
        }
        Ok(())
    }
}
