//! Verification: canary judging, post-change verification, SLOs and DORA metrics.
//!
//! - [`canary`]: the canary judge, reading Kayenta canary configs, with Kayenta's classification
//!   and scoring plus explicit Insufficient data, counter, tail and plain-words explanations.
//! - [`dora`]: DORA's four keys from deployments and incidents, placed in versioned tier tables;
//!   `dora_frame` (feature `polars`) computes them over polars DataFrames, per service too, and
//!   returns reports as DataFrames.
//! - [`postchange`]: post-change verification of a bundle's change (before and after, canary and
//!   baseline by version), deciding promote, hold or roll back with evidence.
//! - [`report`]: incident reports as Markdown, a self-contained HTML page with SVG charts
//!   (metric timelines, SLO burn rates, DORA deployments), and PDF; a report whose hypotheses
//!   do not cite evidence is refused.
//! - [`samples`]: canary samples from CSV (long `metric,value` or wide, one column per metric).
//! - [`slo`]: error budgets, burn rates, multi-window multi-burn-rate evaluation and
//!   Prometheus rules in Sloth's naming.
//! - [`stats`]: the Mann-Whitney test with the Hodges-Lehmann-style shift estimate and its
//!   confidence interval, following R's `wilcox.test` conventions (what Kayenta ports).

pub mod canary;
mod chart;
pub mod dora;
#[cfg(feature = "polars")]
pub mod dora_frame;
pub mod postchange;
pub mod report;
mod report_pdf;
pub mod samples;
pub mod slo;
mod sort;
pub mod stats;

pub use canary::{
    CanaryConfig, CanaryResult, CanaryVerdict, Classification, JudgeConfig, JudgeError, MetricSamples, judge,
};

pub use faultlens_core as core;
