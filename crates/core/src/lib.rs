#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod alert;
pub mod bundle;
pub mod change;
pub mod decode;
pub mod error;
pub mod evidence;
pub mod hash;
pub mod knowledge;
pub mod labels;
pub mod log;
pub mod number;
pub mod series;
pub mod stage;
pub mod time;
pub mod topology;

pub use alert::{Alert, AlertStatus, Incident};
pub use bundle::{
    Bundle, GroundTruth, IncidentData, IncidentSpec, IntegrityIssue, LoadOptions, MANIFEST_FORMAT, Manifest,
    SourceFormat, SourceKind, SourceOptions, SourceSpec, SourceSummary,
};
pub use change::{ChangeEvent, ChangeKind};
pub use decode::{DecodeReport, Decoded, Records, decode_bytes};
pub use error::{Error, ErrorKind, Location, Result};
pub use evidence::{Citation, Confidence, Evidence, EvidenceList, Finding, Hypothesis, HypothesisKind, RuledOut};
pub use hash::{ContentHash, ContentHasher};
pub use knowledge::{KnowledgeDoc, PolicyFile, Section};
pub use labels::Labels;
pub use log::{LogRecord, Severity};
pub use number::{format_number, quantile_sorted};
pub use series::{MetricSeries, NormalizeReport, mean_by_time, median_step};
pub use stage::{SeriesDetector, SeriesStream};
pub use time::{TimeRange, Timestamp};
pub use topology::{Edge, Reached, Topology};
