//! The canary judge, compatible with Kayenta's canary configs and judge semantics, plus the
//! checks Kayenta's users ask for.
//!
//! **Kayenta semantics** (`NetflixACAJudge-v1.0` with the Mann-Whitney classifier), per metric:
//! 1. the NaN strategy (`remove` drops NaN; `replace` turns it into 0), then, when configured,
//!    outlier removal (Tukey fences at `outlierFactor` interquartile ranges, each sample alone);
//! 2. an empty sample is **Nodata**, or **NodataFail** when the metric `mustHaveData`;
//! 3. identical samples, or a single distinct value across both, **Pass**;
//! 4. a two-sided Mann-Whitney test with the shift's confidence interval (98% by default) and
//!    the effect size (`meanRatio` = experiment mean / control mean, or `cles` = probability that
//!    an experiment value exceeds a control value): **High** when the direction allows an increase,
//!    the whole interval is above zero and the effect reaches `allowedIncrease`; **Low** likewise
//!    below zero and at most `allowedDecrease`; **Pass** otherwise;
//! 5. a High or Low metric marked `critical`, whose effect also crosses `criticalIncrease` or
//!    `criticalDecrease`, fails the whole canary.
//!
//! The score is Kayenta's weighted sum: per group, the share of counted metrics that passed
//! (Nodata does not count), weighted by `groupWeights` (groups without a weight share what is
//! left of 100 evenly), 0 on a critical failure; the verdict compares it with the pass and
//! marginal thresholds.
//!
//! **Beyond Kayenta** (each reported on its own, so the Kayenta classification stays readable):
//! - **Insufficient data**: a metric that passed but whose samples are too small to detect the
//!   smallest effect that matters (the allowed ratio, or [`JudgeConfig::min_detectable_ratio`])
//!   with [`JudgeConfig::power`] is classified Insufficient, with the sample size per side that
//!   would do (normal approximation, scaled by the Mann-Whitney test's efficiency `π/3`). It does
//!   not count toward the score; on a critical metric it makes the verdict Insufficient.
//! - **Counters**: a metric whose values are non-negative integers, mostly zero (sparse error
//!   counts), is judged as a rate with an exact conditional binomial test on the totals instead
//!   of ranks, which ties make powerless.
//! - **Tails**: a canary whose median holds but whose tail grows (variance, p99) is caught by
//!   its share of the values above the pooled 95th percentile of both samples, tested against
//!   its share of all values (exact one-sided hypergeometric test at half the interval's alpha,
//!   like each side of the Mann-Whitney interval), when that share is at least 1.5 times the
//!   expected one. Under no change every value is equally likely to be among the largest, so the
//!   test holds its level whatever the distribution.
//!
//! A judgement never passes on missing data: no counted metric at all is Insufficient.

use std::collections::BTreeMap;

use faultlens_core::{format_number as num, quantile_sorted as quantile};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::stats::{RootSearch, TestError, mann_whitney_sorted_with, normal_quantile};

/// Which way a metric may fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase is bad (latency, errors).
    Increase,
    /// Only a decrease is bad (throughput, success).
    Decrease,
    /// Either way.
    #[default]
    Either,
}

/// What to do with NaN values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them.
    #[default]
    Remove,
    /// Replace them with zero.
    Replace,
}

/// How the effect size is measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectMeasure {
    /// Experiment mean over control mean.
    #[default]
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// Common-language effect size: P(experiment > control), ties counting one half.
    #[serde(rename = "cles")]
    Cles,
}

impl EffectMeasure {
    /// The effect of no change.
    #[must_use]
    pub fn neutral(self) -> f64 {
        match self {
            Self::MeanRatio => 1.0,
            Self::Cles => 0.5,
        }
    }
}

/// Effect-size thresholds (Kayenta's `effectSize`); unset thresholds are neutral.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EffectSize {
    /// Smallest increase that fails (e.g. 1.1 for 10% with `meanRatio`).
    pub allowed_increase: Option<f64>,
    /// Largest decrease that fails (e.g. 0.9).
    pub allowed_decrease: Option<f64>,
    /// Increase from which a critical metric fails the canary.
    pub critical_increase: Option<f64>,
    /// Decrease from which a critical metric fails the canary.
    pub critical_decrease: Option<f64>,
    /// The measure.
    pub measure: EffectMeasure,
}

/// Outlier handling (Kayenta's `outliers`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Outliers {
    /// `keep` or `remove`.
    pub strategy: OutlierStrategy,
    /// Tukey fence width in interquartile ranges.
    pub outlier_factor: f64,
}

impl Default for Outliers {
    fn default() -> Self {
        Self { strategy: OutlierStrategy::Keep, outlier_factor: 3.0 }
    }
}

/// Keep or remove outliers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    /// Keep every value.
    #[default]
    Keep,
    /// Remove values beyond the fences.
    Remove,
}

/// One metric's analysis settings (Kayenta's `analysisConfigurations.canary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricAnalysis {
    /// Which way it may fail.
    pub direction: Direction,
    /// NaN handling.
    pub nan_strategy: NanStrategy,
    /// A failure of this metric fails the canary.
    pub critical: bool,
    /// No data is a failure.
    pub must_have_data: bool,
    /// Effect-size thresholds.
    pub effect_size: EffectSize,
    /// Outlier handling.
    pub outliers: Outliers,
}

/// Kayenta's `analysisConfigurations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisConfigurations {
    /// The canary analysis settings.
    pub canary: MetricAnalysis,
}

/// One metric of a canary config. The query is kept as given and not interpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryMetric {
    /// The metric's name, which the samples are keyed by.
    pub name: String,
    /// Groups it is scored in (`default` when none).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Analysis settings.
    #[serde(default)]
    pub analysis_configurations: AnalysisConfigurations,
    /// The metrics-store query (not interpreted here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<serde_json::Value>,
    /// Kayenta's scope name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_name: Option<String>,
}

/// Kayenta's `classifier` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClassifierConfig {
    /// Group weights (out of 100).
    pub group_weights: BTreeMap<String, f64>,
}

/// A Kayenta canary config (the fields the judge uses; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfig {
    /// Config name.
    #[serde(default)]
    pub name: Option<String>,
    /// The metrics.
    pub metrics: Vec<CanaryMetric>,
    /// Group weights.
    #[serde(default)]
    pub classifier: ClassifierConfig,
}

/// Score thresholds (Kayenta's `scoreThresholds`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreThresholds {
    /// Score from which the canary passes.
    pub pass: f64,
    /// Score from which it is marginal rather than failed.
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        Self { pass: 95.0, marginal: 75.0 }
    }
}

/// Judge settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JudgeConfig {
    /// Confidence level of the shift interval (Kayenta's default 0.98).
    pub confidence: f64,
    /// Pass and marginal thresholds.
    pub thresholds: ScoreThresholds,
    /// Check that each passing metric had enough data to see a failure (Insufficient data).
    pub power_check: bool,
    /// Power that counts as enough.
    pub power: f64,
    /// Smallest mean ratio that matters when a metric allows no change at all (1.1: 10%).
    pub min_detectable_ratio: f64,
    /// Judge sparse integer counters as rates.
    pub count_test: bool,
    /// Catch tail growth with a median that holds.
    pub tail_test: bool,
    /// How the shift interval's ends are found: [`RootSearch::Local`] (default, fast) or
    /// [`RootSearch::FullRange`] (R's iterates exactly).
    pub root_search: RootSearch,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            confidence: 0.98,
            thresholds: ScoreThresholds::default(),
            power_check: true,
            power: 0.8,
            min_detectable_ratio: 1.1,
            count_test: true,
            tail_test: true,
            root_search: RootSearch::Local,
        }
    }
}

impl JudgeConfig {
    /// Kayenta's judge alone: no power, counter or tail checks.
    #[must_use]
    pub fn kayenta() -> Self {
        Self { power_check: false, count_test: false, tail_test: false, ..Self::default() }
    }

    /// Sets how the interval's ends are searched for.
    #[must_use]
    pub fn with_root_search(mut self, search: RootSearch) -> Self {
        self.root_search = search;
        self
    }

    /// Sets the interval's confidence level.
    #[must_use]
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = confidence;
        self
    }

    /// Sets the score thresholds.
    #[must_use]
    pub fn with_thresholds(mut self, thresholds: ScoreThresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Turns the power check on or off.
    #[must_use]
    pub fn with_power_check(mut self, on: bool) -> Self {
        self.power_check = on;
        self
    }

    /// Sets the power that counts as enough.
    #[must_use]
    pub fn with_power(mut self, power: f64) -> Self {
        self.power = power;
        self
    }

    /// Sets the smallest ratio that matters.
    #[must_use]
    pub fn with_min_detectable_ratio(mut self, ratio: f64) -> Self {
        self.min_detectable_ratio = ratio;
        self
    }

    /// Turns the counter test on or off.
    #[must_use]
    pub fn with_count_test(mut self, on: bool) -> Self {
        self.count_test = on;
        self
    }

    /// Turns the tail test on or off.
    #[must_use]
    pub fn with_tail_test(mut self, on: bool) -> Self {
        self.tail_test = on;
        self
    }

    fn validate(&self) -> Result<(), JudgeError> {
        let bad = |field: &'static str, value: f64, expected: &'static str| {
            Err(JudgeError::InvalidConfig { field, value: value.to_string(), expected })
        };
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad("confidence", self.confidence, "between 0 and 1");
        }
        if !(self.power > 0.0 && self.power < 1.0) {
            return bad("power", self.power, "between 0 and 1");
        }
        if !(self.min_detectable_ratio.is_finite() && self.min_detectable_ratio > 1.0) {
            return bad("min_detectable_ratio", self.min_detectable_ratio, "a finite ratio above 1");
        }
        let t = self.thresholds;
        if !(t.pass.is_finite()
            && t.marginal.is_finite()
            && (0.0..=100.0).contains(&t.marginal)
            && t.marginal <= t.pass)
            || t.pass > 100.0
        {
            return bad("thresholds", t.pass, "0 <= marginal <= pass <= 100");
        }
        Ok(())
    }
}

/// Errors of the judge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// A setting is out of range.
    #[error("judge setting `{field}` is {value}, expected {expected}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The canary config is unusable.
    #[error("canary config: {0}")]
    Config(String),
    /// A samples file could not be read.
    #[error(transparent)]
    Input(#[from] crate::samples::InputError),
}

/// A metric's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No significant difference.
    Pass,
    /// The canary is higher.
    High,
    /// The canary is lower.
    Low,
    /// No data (not counted).
    Nodata,
    /// No data on a metric that must have it (a failure).
    NodataFail,
    /// The test could not be computed (a failure).
    Error,
    /// Passed, but with too little data to see a failure (not counted; ours, not Kayenta's).
    Insufficient,
}

/// Which test decided a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Mann-Whitney on the values.
    MannWhitney,
    /// Conditional binomial test on the totals of a counter.
    Counts,
    /// Exceedances of the control's 95th percentile.
    Tail,
    /// None (no data, identical samples).
    None,
}

/// Summary of one sample after cleaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleSummary {
    /// Values used.
    pub n: usize,
    /// Values removed (NaN, infinities, outliers).
    pub removed: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// 95th percentile.
    pub p95: f64,
}

/// One metric judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
    /// The classification.
    pub classification: Classification,
    /// The test that decided it.
    pub test: TestKind,
    /// It fails the canary by itself.
    pub critical_failure: bool,
    /// Control summary.
    pub control: SampleSummary,
    /// Experiment summary.
    pub experiment: SampleSummary,
    /// p-value of the deciding test, when one ran.
    pub p_value: Option<f64>,
    /// Shift estimate (experiment minus control) and its interval, when Mann-Whitney ran.
    pub shift: Option<(f64, f64, f64)>,
    /// Effect size in the configured measure.
    pub effect_size: Option<f64>,
    /// Sample size per side needed to see the smallest effect that matters, when short of it.
    pub needed_per_side: Option<usize>,
    /// In plain words.
    pub explanation: String,
}

/// The whole canary's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryVerdict {
    /// Score at or above the pass threshold.
    Pass,
    /// Between the thresholds.
    Marginal,
    /// Below the marginal threshold, or a critical failure.
    Fail,
    /// Not enough data to judge (never a pass).
    Insufficient,
}

/// Per-group score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// Group name.
    pub group: String,
    /// Its weight (normalised over the counted groups).
    pub weight: f64,
    /// Share of counted metrics that passed, 0 to 100.
    pub score: f64,
    /// Metrics counted.
    pub counted: usize,
    /// Metrics that passed.
    pub passed: usize,
}

/// A judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryResult {
    /// The verdict.
    pub verdict: CanaryVerdict,
    /// Score from 0 to 100 (`None` when nothing was counted).
    pub score: Option<f64>,
    /// The thresholds applied.
    pub thresholds: ScoreThresholds,
    /// Per group.
    pub groups: Vec<GroupScore>,
    /// Per metric, in config order.
    pub metrics: Vec<MetricResult>,
    /// Why, in plain words.
    pub reasons: Vec<String>,
}

/// Control and experiment samples of one metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSamples {
    /// Baseline (control) values.
    pub control: Vec<f64>,
    /// Canary (experiment) values.
    pub experiment: Vec<f64>,
}

/// Judges a canary: `samples` maps metric names to their samples; a metric of the config
/// without samples is Nodata.
///
/// # Errors
/// [`JudgeError::InvalidConfig`] for settings out of range, [`JudgeError::Config`] for a config
/// without metrics or with a negative or non-finite group weight.
pub fn judge(
    config: &CanaryConfig,
    samples: &BTreeMap<String, MetricSamples>,
    settings: &JudgeConfig,
) -> Result<CanaryResult, JudgeError> {
    settings.validate()?;
    if config.metrics.is_empty() {
        return Err(JudgeError::Config("no metrics".into()));
    }
    if let Some((g, w)) = config.classifier.group_weights.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
        return Err(JudgeError::Config(format!("group weight of `{g}` is {w}")));
    }
    let empty = MetricSamples::default();
    // metrics are independent: judged in parallel, collected in config order
    let metrics: Vec<MetricResult> = config
        .metrics
        .par_iter()
        .map(|m| WORKSPACE.with_borrow_mut(|work| classify(m, samples.get(&m.name).unwrap_or(&empty), settings, work)))
        .collect();
    Ok(score(config, metrics, settings.thresholds))
}

/// Kayenta's weighted-sum scorer, failing closed.
fn score(config: &CanaryConfig, metrics: Vec<MetricResult>, thresholds: ScoreThresholds) -> CanaryResult {
    let mut by_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in &metrics {
        let counted = !matches!(m.classification, Classification::Nodata | Classification::Insufficient);
        for g in &m.groups {
            let e = by_group.entry(g.clone()).or_default();
            if counted {
                e.0 += 1;
                e.1 += usize::from(m.classification == Classification::Pass);
            }
        }
    }
    let weights = &config.classifier.group_weights;
    let given: f64 = by_group.keys().filter_map(|g| weights.get(g)).sum();
    let unweighted = by_group.keys().filter(|g| !weights.contains_key(*g)).count();
    let share = if unweighted > 0 { (100.0 - given).max(0.0) / unweighted as f64 } else { 0.0 };
    let mut groups: Vec<GroupScore> = by_group
        .iter()
        .map(|(g, &(counted, passed))| GroupScore {
            group: g.clone(),
            weight: weights.get(g).copied().unwrap_or(share),
            score: if counted > 0 { 100.0 * passed as f64 / counted as f64 } else { 0.0 },
            counted,
            passed,
        })
        .collect();
    let total_weight: f64 = groups.iter().filter(|g| g.counted > 0).map(|g| g.weight).sum();
    for g in &mut groups {
        g.weight = if g.counted > 0 && total_weight > 0.0 { g.weight / total_weight } else { 0.0 };
    }
    let counted_any = groups.iter().any(|g| g.counted > 0);
    let mut reasons = Vec::new();
    let critical: Vec<&str> = metrics.iter().filter(|m| m.critical_failure).map(|m| m.name.as_str()).collect();
    let short_critical: Vec<&str> = metrics
        .iter()
        .filter(|m| m.classification == Classification::Insufficient)
        .filter(|m| {
            config.metrics.iter().any(|c| {
                c.name == m.name
                    && (c.analysis_configurations.canary.critical || c.analysis_configurations.canary.must_have_data)
            })
        })
        .map(|m| m.name.as_str())
        .collect();
    let score = if !critical.is_empty() {
        Some(0.0)
    } else if counted_any && total_weight > 0.0 {
        Some(groups.iter().map(|g| g.weight * g.score).sum())
    } else {
        None
    };
    let verdict = if !critical.is_empty() {
        reasons.push(format!("critical metric failed: {}", critical.join(", ")));
        CanaryVerdict::Fail
    } else if let Some(s) = score {
        if s < thresholds.marginal {
            reasons.push(format!("score {s:.1} is below the marginal threshold {}", thresholds.marginal));
            CanaryVerdict::Fail
        } else if !short_critical.is_empty() {
            reasons
                .push(format!("too little data on critical metrics to see a failure: {}", short_critical.join(", ")));
            CanaryVerdict::Insufficient
        } else if s < thresholds.pass {
            reasons.push(format!(
                "score {s:.1} is between the marginal {} and pass {} thresholds",
                thresholds.marginal, thresholds.pass
            ));
            CanaryVerdict::Marginal
        } else {
            reasons.push(format!("score {s:.1} reaches the pass threshold {}", thresholds.pass));
            CanaryVerdict::Pass
        }
    } else {
        reasons.push("no metric had enough data to be judged".to_string());
        CanaryVerdict::Insufficient
    };
    CanaryResult { verdict, score, thresholds, groups, metrics, reasons }
}

thread_local! {
    /// The memory each thread judges metrics in, kept from metric to metric and from judge to
    /// judge: a fresh workspace for every piece of work the thread pool hands out would
    /// page-fault its buffers in again.
    static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::new(Workspace::default());
}

/// Memory one worker judges its metrics in, reused from metric to metric.
#[derive(Debug, Default)]
struct Workspace {
    control: Vec<f64>,
    experiment: Vec<f64>,
    sort: crate::sort::SortBuffers,
}

/// Cleans one sample into `v`: NaN strategy, infinities dropped, outliers removed when
/// configured; sorted ascending. Returns how many values were removed.
fn clean(values: &[f64], a: &MetricAnalysis, v: &mut Vec<f64>, sort: &mut crate::sort::SortBuffers) -> usize {
    if !crate::sort::sort_finite_into(values, v, sort) {
        v.extend(values.iter().filter_map(|&x| match (x.is_nan(), a.nan_strategy) {
            (true, NanStrategy::Replace) => Some(0.0),
            (true, NanStrategy::Remove) => None,
            (false, _) => x.is_finite().then_some(x),
        }));
        crate::sort::sort_floats(v, sort);
    }
    if a.outliers.strategy == OutlierStrategy::Remove && v.len() >= 4 {
        let (q1, q3) = (quantile(v, 0.25), quantile(v, 0.75));
        let k = a.outliers.outlier_factor * (q3 - q1);
        v.retain(|&x| x >= q1 - k && x <= q3 + k);
    }
    values.len() - v.len()
}

/// Summary of a sorted sample.
fn summary(sorted: &[f64], removed: usize) -> SampleSummary {
    if sorted.is_empty() {
        return SampleSummary { removed, ..SampleSummary::default() };
    }
    SampleSummary {
        n: sorted.len(),
        removed,
        mean: sum_in_lanes(sorted, |x| x) / sorted.len() as f64,
        median: quantile(sorted, 0.5),
        p95: quantile(sorted, 0.95),
    }
}

/// The `k`-th smallest (0-based) of the union of two sorted samples, without merging them:
/// a binary search for how many of the `k + 1` smallest come from `a`.
fn kth_of_two(a: &[f64], b: &[f64], k: usize) -> Option<f64> {
    if k >= a.len() + b.len() {
        return None;
    }
    // take i from a and k + 1 - i from b, with a[i - 1] <= b[k + 1 - i] and b[k - i] <= a[i]
    let (mut lo, mut hi) = ((k + 1).saturating_sub(b.len()), (k + 1).min(a.len()));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        // too few from a when a[i] < b[k - i]
        if a.get(i).zip(b.get(k - i)).is_some_and(|(x, y)| x < y) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let from_a = if i > 0 { a.get(i - 1).copied() } else { None };
    let from_b = if k + 1 > i { b.get(k - i).copied() } else { None };
    match (from_a, from_b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The type-7 quantile of the union of two sorted samples (as `quantile_sorted` of their
/// merge).
fn quantile_of_two(a: &[f64], b: &[f64], q: f64) -> f64 {
    let n = a.len() + b.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let k = h.floor() as usize;
    let lo = kth_of_two(a, b, k).unwrap_or(f64::NAN);
    let hi = kth_of_two(a, b, (k + 1).min(n - 1)).unwrap_or(lo);
    lo + (h - k as f64) * (hi - lo)
}

/// Values of a sorted sample above `cut`.
fn count_above(sorted: &[f64], cut: f64) -> u64 {
    (sorted.len() - sorted.partition_point(|&v| v <= cut)) as u64
}

/// `ln C(n, k)`.
fn ln_choose(n: u64, k: u64) -> f64 {
    libm::lgamma(n as f64 + 1.0) - libm::lgamma(k as f64 + 1.0) - libm::lgamma((n - k) as f64 + 1.0)
}

/// `P(X >= k)` for a unimodal distribution on `lo..=hi` with its mode at `mode`, from the log
/// probability of one value (`ln_p`) and the ratio of neighbouring probabilities (`ratio(i)` =
/// `P(i + 1) / P(i)`): summed outward from `k` when `k` is past the mode, else one minus the
/// lower tail summed downward from `k - 1`. Either way the terms shrink, and the sum stops when
/// they no longer change it; one logarithm of a probability per tail instead of one per term.
fn unimodal_upper_tail(
    k: u64,
    (lo, hi, mode): (u64, u64, u64),
    ln_p: impl Fn(u64) -> f64,
    ratio: impl Fn(u64) -> f64,
) -> f64 {
    if k <= lo {
        return 1.0;
    }
    if k > hi {
        return 0.0;
    }
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    if k > mode {
        for i in k..hi {
            term *= ratio(i);
            sum += term;
            if term <= sum * f64::EPSILON * 0.01 {
                break;
            }
        }
        (ln_p(k).exp() * sum).clamp(0.0, 1.0)
    } else {
        for i in (lo..k - 1).rev() {
            term /= ratio(i);
            sum += term;
            if term <= sum * f64::EPSILON * 0.01 {
                break;
            }
        }
        (1.0 - ln_p(k - 1).exp() * sum).clamp(0.0, 1.0)
    }
}

/// Upper tail of a binomial distribution: P(X >= k) for X ~ Bin(n, p).
fn binomial_upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mode = (((n + 1) as f64 * p).floor() as u64).min(n);
    let odds = p / (1.0 - p);
    unimodal_upper_tail(
        k,
        (0, n, mode),
        |i| ln_choose(n, i) + i as f64 * lp + (n - i) as f64 * lq,
        |i| (n - i) as f64 / (i + 1) as f64 * odds,
    )
}

/// Upper tail of a hypergeometric distribution: P(X >= k) when drawing `n` of `total` items of
/// which `marked` are marked.
fn hypergeometric_upper_tail(k: u64, total: u64, marked: u64, n: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if n > total || marked > total {
        return 0.0;
    }
    let (lo, hi) = ((n + marked).saturating_sub(total), marked.min(n));
    let mode = (((n + 1) as f64 * (marked + 1) as f64 / (total + 2) as f64).floor() as u64).clamp(lo, hi);
    let denom = ln_choose(total, n);
    unimodal_upper_tail(
        k,
        (lo, hi, mode),
        |i| ln_choose(marked, i) + ln_choose(total - marked, n - i) - denom,
        |i| (marked - i) as f64 * (n - i) as f64 / ((i + 1) as f64 * (total - marked + i + 1 - n) as f64),
    )
}

/// A sparse counter: non-negative integers, at least half of them zero.
fn is_counter(c: &[f64], e: &[f64]) -> bool {
    let all = || c.iter().chain(e);
    let n = c.len() + e.len();
    n > 0 && all().all(|&v| v >= 0.0 && v.fract() == 0.0) && all().filter(|&&v| v == 0.0).count() * 2 >= n
}

fn classify(m: &CanaryMetric, s: &MetricSamples, settings: &JudgeConfig, work: &mut Workspace) -> MetricResult {
    let a = &m.analysis_configurations.canary;
    let c_removed = clean(&s.control, a, &mut work.control, &mut work.sort);
    let e_removed = clean(&s.experiment, a, &mut work.experiment, &mut work.sort);
    let (c, e) = (work.control.as_slice(), work.experiment.as_slice());
    let groups = if m.groups.is_empty() { vec!["default".to_string()] } else { m.groups.clone() };
    let mut r = MetricResult {
        name: m.name.clone(),
        groups,
        classification: Classification::Pass,
        test: TestKind::None,
        critical_failure: false,
        control: summary(c, c_removed),
        experiment: summary(e, e_removed),
        p_value: None,
        shift: None,
        effect_size: None,
        needed_per_side: None,
        explanation: String::new(),
    };
    if c.is_empty() || e.is_empty() {
        let side = if c.is_empty() && e.is_empty() {
            "either side"
        } else if c.is_empty() {
            "the baseline"
        } else {
            "the canary"
        };
        r.classification = if a.must_have_data { Classification::NodataFail } else { Classification::Nodata };
        r.explanation = format!("no data from {side}");
        return r;
    }
    if c == e || c.iter().chain(e).all(|&v| Some(v) == c.first().copied()) {
        r.explanation = "canary and baseline are identical".to_string();
        return r;
    }
    let measure = a.effect_size.measure;
    let allowed_inc = a.effect_size.allowed_increase.unwrap_or(measure.neutral());
    let allowed_dec = a.effect_size.allowed_decrease.unwrap_or(measure.neutral());
    let up = matches!(a.direction, Direction::Increase | Direction::Either);
    let down = matches!(a.direction, Direction::Decrease | Direction::Either);
    let alpha = 1.0 - settings.confidence;
    // sparse counters: a rate test on the totals
    if settings.count_test && is_counter(c, e) {
        return classify_counts(r, a, c, e, up, down, alpha);
    }
    let mw = match mann_whitney_sorted_with(e, c, settings.confidence, settings.root_search) {
        Ok(x) => x,
        Err(TestError::AllTied) => {
            r.explanation = "every value is the same".to_string();
            return r;
        }
        Err(err) => {
            r.classification = Classification::Error;
            r.explanation = format!("the test failed: {err}");
            return r;
        }
    };
    let effect = match measure {
        EffectMeasure::MeanRatio => ratio(r.experiment.mean, r.control.mean),
        EffectMeasure::Cles => mw.w / (mw.n_x as f64 * mw.n_y as f64),
    };
    r.test = TestKind::MannWhitney;
    r.p_value = Some(mw.p_value);
    r.shift = Some((mw.estimate, mw.lower, mw.upper));
    r.effect_size = Some(effect);
    let pct = (settings.confidence * 100.0).round();
    let shift = format!("shift {:+} ({pct}% interval {:+} to {:+})", num(mw.estimate), num(mw.lower), num(mw.upper));
    let m_name = match measure {
        EffectMeasure::MeanRatio => "mean ratio",
        EffectMeasure::Cles => "CLES",
    };
    if up && mw.lower > 0.0 && effect >= allowed_inc {
        r.classification = Classification::High;
        r.critical_failure = a.critical && effect >= a.effect_size.critical_increase.unwrap_or(allowed_inc);
        r.explanation =
            format!("canary is higher: {shift}, {m_name} {} (allowed up to {})", num(effect), num(allowed_inc));
        return r;
    }
    if down && mw.upper < 0.0 && effect <= allowed_dec {
        r.classification = Classification::Low;
        r.critical_failure = a.critical && effect <= a.effect_size.critical_decrease.unwrap_or(allowed_dec);
        r.explanation =
            format!("canary is lower: {shift}, {m_name} {} (allowed down to {})", num(effect), num(allowed_dec));
        return r;
    }
    r.explanation = format!("no difference that matters: {shift}, {m_name} {}", num(effect));
    // the tail: the canary's share of the values above the pooled 95th percentile, against its
    // share of all values (exact hypergeometric test; under no change every value is equally
    // likely to be among the largest)
    if settings.tail_test && up && c.len() >= 20 && e.len() >= 20 {
        let cut = quantile_of_two(c, e, 0.95);
        let over_e = count_above(e, cut);
        let over = over_e + count_above(c, cut);
        let (n_all, n_e) = ((c.len() + e.len()) as u64, e.len() as u64);
        let expected = over as f64 * n_e as f64 / n_all as f64;
        let p = hypergeometric_upper_tail(over_e, n_all, over, n_e);
        if over_e as f64 >= 1.5 * expected && p < alpha / 2.0 {
            r.classification = Classification::High;
            r.test = TestKind::Tail;
            r.p_value = Some(p);
            r.critical_failure = a.critical;
            r.explanation = format!(
                "canary's tail is heavier: {over_e} of the {over} values above the pooled 95th percentile {} are \
                 the canary's ({expected:.1} expected, p = {p:.2e}), though the median holds ({shift})",
                num(cut)
            );
            return r;
        }
    }
    // enough data to have seen the smallest failure that matters?
    if settings.power_check && measure == EffectMeasure::MeanRatio {
        let target = if allowed_inc > 1.0 { allowed_inc } else { settings.min_detectable_ratio };
        let samples = [(c, r.control.mean), (e, r.experiment.mean)];
        if let Some(needed) = needed_per_side(samples, target, alpha, settings.power)
            && needed > c.len().min(e.len())
        {
            r.classification = Classification::Insufficient;
            r.needed_per_side = Some(needed);
            r.explanation = format!(
                "{}; but {} baseline and {} canary values cannot show a {:.0}% change with {:.0}% power: about \
                 {needed} per side are needed",
                r.explanation,
                c.len(),
                e.len(),
                100.0 * (target - 1.0),
                100.0 * settings.power
            );
        }
    }
    r
}

/// Sample size per side for a two-sided test at `alpha` with `power` to detect a mean shift of
/// `|mean| * (ratio - 1)`, where `mean` is the control's, from the pooled standard deviation,
/// scaled by `π / 3` (the Mann-Whitney test's efficiency against the t-test). Each sample comes
/// with its mean (the summary's, so it is not summed again). `None` when the effect is zero or
/// the spread is zero or undefined.
fn needed_per_side([(c, mean), (e, e_mean)]: [(&[f64], f64); 2], ratio: f64, alpha: f64, power: f64) -> Option<usize> {
    let var = |v: &[f64], m: f64| squared_deviations(v, m) / (v.len().max(2) - 1) as f64;
    let sd = (0.5 * (var(c, mean) + var(e, e_mean))).sqrt();
    let delta = mean.abs() * (ratio - 1.0);
    if !(sd > 0.0 && delta > 0.0 && sd.is_finite()) {
        return None;
    }
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power);
    let n = std::f64::consts::PI / 3.0 * 2.0 * (z * sd / delta).powi(2);
    n.is_finite().then(|| n.ceil().min(1e12) as usize)
}

/// `sum (x - m)^2` over `v`.
fn squared_deviations(v: &[f64], m: f64) -> f64 {
    sum_in_lanes(v, |x| (x - m) * (x - m))
}

/// `sum f(x)` over `v`, in four running sums side by side (one sum is a chain of dependent
/// additions; four keep the processor's adders busy), added up at the end.
fn sum_in_lanes(v: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut sums = [0.0; 4];
    let mut chunks = v.chunks_exact(4);
    for chunk in &mut chunks {
        for (s, &x) in sums.iter_mut().zip(chunk) {
            *s += f(x);
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest
}

/// A sparse counter judged as a rate: given the total count, the canary's share follows a
/// binomial with its share of the intervals when the rates are equal.
fn classify_counts(
    mut r: MetricResult,
    a: &MetricAnalysis,
    c: &[f64],
    e: &[f64],
    up: bool,
    down: bool,
    alpha: f64,
) -> MetricResult {
    let (kc, ke) = (c.iter().sum::<f64>() as u64, e.iter().sum::<f64>() as u64);
    let share = e.len() as f64 / (c.len() + e.len()) as f64;
    let total = kc + ke;
    let p_high = binomial_upper_tail(ke, total, share);
    // P(X <= ke) = 1 - P(X >= ke + 1)
    let p_low = 1.0 - binomial_upper_tail(ke + 1, total, share);
    let rate = |k: u64, n: usize| k as f64 / n as f64;
    let effect = ratio(rate(ke, e.len()), rate(kc, c.len()));
    r.test = TestKind::Counts;
    r.effect_size = Some(effect);
    let measure = a.effect_size.measure;
    let allowed_inc = a.effect_size.allowed_increase.unwrap_or(measure.neutral()).max(1.0);
    let allowed_dec = a.effect_size.allowed_decrease.unwrap_or(measure.neutral()).min(1.0);
    let what = format!(
        "{ke} events in {} canary intervals against {kc} in {} baseline intervals (rate ratio {})",
        e.len(),
        c.len(),
        num(effect)
    );
    if up && p_high < alpha / 2.0 && effect >= allowed_inc {
        r.classification = Classification::High;
        r.p_value = Some(p_high);
        r.critical_failure = a.critical && effect >= a.effect_size.critical_increase.unwrap_or(allowed_inc);
        r.explanation = format!("canary's event rate is higher: {what}, p = {p_high:.2e}");
    } else if down && p_low < alpha / 2.0 && effect <= allowed_dec {
        r.classification = Classification::Low;
        r.p_value = Some(p_low);
        r.critical_failure = a.critical && effect <= a.effect_size.critical_decrease.unwrap_or(allowed_dec);
        r.explanation = format!("canary's event rate is lower: {what}, p = {p_low:.2e}");
    } else {
        r.p_value = Some((2.0 * p_high.min(p_low)).min(1.0));
        r.explanation = format!("event rates agree: {what}");
    }
    r
}

/// `a / b`, with `0 / 0` as 1 and `x / 0` as infinity.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { if a == 0.0 { 1.0 } else { f64::INFINITY.copysign(a) } } else { a / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Order statistics and quantiles of two sorted samples equal those of their merge.
        #[test]
        fn kth_of_two_equals_the_merge(
            mut a in proptest::collection::vec(-5i32..5, 0..25),
            mut b in proptest::collection::vec(-5i32..5, 0..25),
            q in 0.0f64..=1.0,
        ) {
            a.sort_unstable();
            b.sort_unstable();
            let (a, b): (Vec<f64>, Vec<f64>) =
                (a.iter().map(|&v| f64::from(v)).collect(), b.iter().map(|&v| f64::from(v)).collect());
            let mut all: Vec<f64> = a.iter().chain(&b).copied().collect();
            all.sort_unstable_by(f64::total_cmp);
            for (k, want) in all.iter().enumerate() {
                proptest::prop_assert_eq!(kth_of_two(&a, &b, k), Some(*want));
            }
            proptest::prop_assert_eq!(kth_of_two(&a, &b, all.len()), None);
            if !all.is_empty() {
                let (got, want) = (quantile_of_two(&a, &b, q), quantile(&all, q));
                proptest::prop_assert!((got - want).abs() < 1e-12, "{} vs {}", got, want);
                proptest::prop_assert_eq!(count_above(&a, 0.0) + count_above(&b, 0.0), all.iter().filter(|&&v| v > 0.0).count() as u64);
            }
        }
    }

    #[test]
    fn tails_of_discrete_distributions() {
        // one marked item among ten, five drawn: it is drawn half the time
        assert!((hypergeometric_upper_tail(1, 10, 1, 5) - 0.5).abs() < 1e-12);
        // P(X >= 2), 20 items, 5 marked, 4 drawn = 1 - P(0) - P(1) = 1 - (1365 + 2275) / 4845
        assert!((hypergeometric_upper_tail(2, 20, 5, 4) - (1.0 - 3640.0 / 4845.0)).abs() < 1e-12);
        assert_eq!(hypergeometric_upper_tail(0, 20, 5, 4), 1.0);
        assert_eq!(hypergeometric_upper_tail(6, 20, 5, 4), 0.0);
        // Bin(10, 0.5): P(X >= 8) = 56 / 1024
        assert!((binomial_upper_tail(8, 10, 0.5) - 56.0 / 1024.0).abs() < 1e-12);
        assert_eq!(binomial_upper_tail(0, 10, 0.5), 1.0);
        assert_eq!(binomial_upper_tail(3, 10, 0.0), 0.0);
        assert_eq!(binomial_upper_tail(3, 10, 1.0), 1.0);
    }

    proptest::proptest! {
        /// The outward sums equal the term-by-term sums they replace, on both sides of the mode
        /// and far into the tails.
        #[test]
        fn tails_match_term_by_term_sums(
            total in 1u64..3000,
            marked_share in 0.0f64..1.0,
            drawn_share in 0.0f64..1.0,
            k_share in 0.0f64..1.0,
            p in 0.001f64..0.999,
        ) {
            let sum = |terms: Vec<f64>| -> f64 {
                let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if max.is_finite() { (max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()).exp().min(1.0) } else { 0.0 }
            };
            let marked = (marked_share * total as f64) as u64;
            let n = (drawn_share * total as f64) as u64;
            let hi = marked.min(n);
            let k = (k_share * (hi + 2) as f64) as u64;
            let lo = (k.max((n + marked).saturating_sub(total))).max(1);
            let denom = ln_choose(total, n);
            let brute = if k == 0 { 1.0 } else {
                sum((lo..=hi).map(|i| ln_choose(marked, i) + ln_choose(total - marked, n - i) - denom).collect())
            };
            let ours = hypergeometric_upper_tail(k, total, marked, n);
            proptest::prop_assert!((ours - brute).abs() <= 1e-9 * brute.max(1e-300) + 1e-12, "{} vs {}", ours, brute);
            let kb = (k_share * (total + 2) as f64) as u64;
            let brute = if kb == 0 { 1.0 } else {
                sum((kb..=total).map(|i| ln_choose(total, i) + i as f64 * p.ln() + (total - i) as f64 * (1.0 - p).ln()).collect())
            };
            let ours = binomial_upper_tail(kb, total, p);
            proptest::prop_assert!((ours - brute).abs() <= 1e-9 * brute.max(1e-300) + 1e-12, "{} vs {}", ours, brute);
        }
    }

    #[test]
    fn squared_deviations_add_up_every_value() {
        for n in [0usize, 1, 3, 4, 5, 1001] {
            let v: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 * 0.37 - 11.0).collect();
            let m = 2.5;
            let plain: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
            let ours = squared_deviations(&v, m);
            assert!((ours - plain).abs() <= 1e-12 * plain.max(1.0), "{n}: {ours} vs {plain}");
        }
    }

    #[test]
    fn sample_size_grows_with_noise_and_shrinks_with_effect() {
        let c: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i % 10)).collect();
        let both = [(c.as_slice(), 104.5), (c.as_slice(), 104.5)];
        let n1 = needed_per_side(both, 1.1, 0.02, 0.8).unwrap();
        let n2 = needed_per_side(both, 1.05, 0.02, 0.8).unwrap();
        assert!(n2 > 3 * n1, "{n1} {n2}");
        // twice the spread: four times the sample
        let wide: Vec<f64> = c.iter().map(|x| 2.0 * x - 104.5).collect();
        let n3 = needed_per_side([(c.as_slice(), 104.5), (wide.as_slice(), 104.5)], 1.1, 0.02, 0.8).unwrap();
        assert!(n3 > 2 * n1, "{n1} {n3}");
        let flat = vec![5.0; 10];
        assert_eq!(needed_per_side([(flat.as_slice(), 5.0), (flat.as_slice(), 5.0)], 1.1, 0.02, 0.8), None);
    }
}
