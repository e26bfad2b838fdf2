//! Verification: canary judging, post-change verification, SLOs and DORA metrics.
//!
//! - [`stats`]: the Mann-Whitney test with the Hodges-Lehmann-style shift estimate and its
//!   confidence interval, following R's `wilcox.test` conventions (what Kayenta ports).

pub mod stats;

pub use faultlens_core as core;
