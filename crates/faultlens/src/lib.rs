#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use faultlens_core as core;

#[cfg(feature = "detect")]
#[doc(inline)]
pub use faultlens_detect as detect;

#[cfg(feature = "correlate")]
#[doc(inline)]
pub use faultlens_correlate as correlate;

#[cfg(feature = "remediate")]
#[doc(inline)]
pub use faultlens_remediate as remediate;

#[cfg(feature = "verify")]
#[doc(inline)]
pub use faultlens_verify as verify;

#[cfg(feature = "sim")]
#[doc(inline)]
pub use faultlens_sim as sim;

pub use faultlens_core::{
    Bundle, ChangeEvent, Confidence, ContentHash, Error, ErrorKind, Evidence, EvidenceList, Finding, Hypothesis,
    IncidentData, LogRecord, MetricSeries, Result, TimeRange, Timestamp, Topology,
};

/// The repository README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
