//! The evidence model: every finding and hypothesis cites the data it rests on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::time::TimeRange;

/// One piece of evidence: which data, selected how, over what time, with what content hash.
///
/// ```
/// use faultlens_core::{ContentHash, Evidence};
/// let ev = Evidence::new("metrics/cpu.json", r#"cpu{service="cart"}"#, ContentHash::of(b"..."), "cpu at 98% from 14:02");
/// assert_eq!(ev.source, "metrics/cpu.json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// Identifier unique within a report (`ev-3`); empty until a report numbers it.
    #[serde(default)]
    pub id: String,
    /// The bundle-relative source file (or a policy file, a change source).
    pub source: String,
    /// The query or selector within the source (a PromQL selector, a template id, a change id,
    /// a policy rule and input path).
    pub query: String,
    /// The time range the evidence covers, when it has one.
    pub range: Option<TimeRange>,
    /// SHA-256 of the data the evidence rests on.
    pub sha256: ContentHash,
    /// Human-readable detail.
    pub detail: String,
}

impl Evidence {
    /// Evidence without a time range.
    pub fn new(
        source: impl Into<String>,
        query: impl Into<String>,
        sha256: ContentHash,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            id: String::new(),
            source: source.into(),
            query: query.into(),
            range: None,
            sha256,
            detail: detail.into(),
        }
    }

    /// Sets the time range.
    #[must_use]
    pub fn with_range(mut self, range: TimeRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
}

/// A list of evidence that holds at least one item. Deserialising an empty list fails,
/// so a finding without evidence cannot be read from the wire either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Vec<Evidence>", into = "Vec<Evidence>")]
#[schemars(with = "Vec<Evidence>")]
pub struct EvidenceList(Vec<Evidence>);

impl EvidenceList {
    /// A list with one item.
    #[must_use]
    pub fn one(first: Evidence) -> Self {
        Self(vec![first])
    }

    /// Adds an item.
    pub fn push(&mut self, e: Evidence) {
        self.0.push(e);
    }

    /// The first item (always present).
    #[must_use]
    pub fn first(&self) -> Option<&Evidence> {
        self.0.first()
    }

    /// All items.
    #[must_use]
    pub fn as_slice(&self) -> &[Evidence] {
        &self.0
    }

    /// Number of items (at least one).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; present for API symmetry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Mutable access to the items (the list cannot be emptied through it).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Evidence> {
        self.0.iter_mut()
    }
}

impl TryFrom<Vec<Evidence>> for EvidenceList {
    type Error = Error;
    fn try_from(v: Vec<Evidence>) -> Result<Self> {
        if v.is_empty() {
            return Err(Error::invalid("evidence list", "at least one evidence item is required"));
        }
        Ok(Self(v))
    }
}

impl From<EvidenceList> for Vec<Evidence> {
    fn from(l: EvidenceList) -> Self {
        l.0
    }
}

/// A confidence or score in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schemars(with = "f64")]
pub struct Confidence(f64);

impl Confidence {
    /// `v` clamped to `[0, 1]`; NaN becomes 0 (no confidence), never a silent 1.
    #[must_use]
    pub fn saturating(v: f64) -> Self {
        if v.is_nan() { Self(0.0) } else { Self(v.clamp(0.0, 1.0)) }
    }

    /// The value.
    #[must_use]
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Confidence {
    type Error = Error;
    fn try_from(v: f64) -> Result<Self> {
        if (0.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(Error::invalid("confidence", format!("{v} is not in [0, 1]")))
        }
    }
}

impl From<Confidence> for f64 {
    fn from(c: Confidence) -> Self {
        c.0
    }
}

/// Something detected in the data (an anomaly, a log pattern, a scored change), with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// What kind of finding (`metric_anomaly`, `new_log_template`, ...).
    pub kind: String,
    /// The service it concerns, when known.
    pub service: Option<String>,
    /// Strength in `[0, 1]`.
    pub score: Confidence,
    /// One-line summary.
    pub summary: String,
    /// The data it rests on (never empty).
    pub evidence: EvidenceList,
}

impl Finding {
    /// A finding; the evidence argument makes it impossible to build one without evidence.
    pub fn new(kind: impl Into<String>, score: Confidence, summary: impl Into<String>, evidence: EvidenceList) -> Self {
        Self { kind: kind.into(), service: None, score, summary: summary.into(), evidence }
    }

    /// Sets the service.
    #[must_use]
    pub fn with_service(mut self, s: impl Into<String>) -> Self {
        self.service = Some(s.into());
        self
    }
}

/// What a hypothesis blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HypothesisKind {
    /// A change event.
    Change,
    /// A service's own fault.
    Service,
    /// A dependency of the alerting service.
    Dependency,
    /// Resource exhaustion (CPU, memory, disk).
    Resource,
    /// A traffic surge.
    Traffic,
    /// Unknown cause.
    Unknown,
}

/// A candidate explanation that was considered and rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuledOut {
    /// What was ruled out (a service, a change id).
    pub subject: String,
    /// Why.
    pub reason: String,
    /// The data behind the reason, when any.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A ranked root-cause hypothesis (report contract in `specs/bundle-v1.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hypothesis {
    /// 1-based rank.
    pub rank: u32,
    /// What it blames.
    pub kind: HypothesisKind,
    /// The service blamed.
    pub service: Option<String>,
    /// The change blamed, for `kind: change`.
    pub change_id: Option<String>,
    /// Calibrated probability of being right.
    pub confidence: Confidence,
    /// One-line summary.
    pub summary: String,
    /// Supporting evidence (never empty).
    pub evidence: EvidenceList,
    /// What argues against it.
    #[serde(default)]
    pub counter_evidence: Vec<Evidence>,
    /// Alternatives rejected, and why.
    #[serde(default)]
    pub ruled_out: Vec<RuledOut>,
    /// Checks that would confirm it.
    #[serde(default)]
    pub next_checks: Vec<String>,
    /// Knowledge sections (runbooks, postmortems, ADRs) that match it, best first.
    #[serde(default)]
    pub citations: Vec<Citation>,
}

/// A knowledge section cited by a hypothesis: which file, which heading, which lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Citation {
    /// Bundle-relative path of the document.
    pub path: String,
    /// Heading path of the section, outermost first.
    pub headings: Vec<String>,
    /// First line of the section (1-based).
    pub line_start: u64,
    /// Last line of the section (1-based, inclusive).
    pub line_end: u64,
    /// SHA-256 of the section's text.
    pub sha256: ContentHash,
    /// Retrieval score in `[0, 1]` (lexical and vector scores fused).
    pub score: f64,
    /// The query terms the section matched.
    pub matched_terms: Vec<String>,
}

impl Hypothesis {
    /// A hypothesis; requires its evidence.
    pub fn new(
        kind: HypothesisKind,
        confidence: Confidence,
        summary: impl Into<String>,
        evidence: EvidenceList,
    ) -> Self {
        Self {
            rank: 0,
            kind,
            service: None,
            change_id: None,
            confidence,
            summary: summary.into(),
            evidence,
            counter_evidence: Vec::new(),
            ruled_out: Vec::new(),
            next_checks: Vec::new(),
            citations: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_evidence_cannot_be_deserialised() {
        let j = r#"{"kind":"x","service":null,"score":0.5,"summary":"s","evidence":[]}"#;
        assert!(serde_json::from_str::<Finding>(j).is_err());
    }

    #[test]
    fn confidence_is_bounded() {
        assert!(Confidence::try_from(1.01).is_err());
        assert!(Confidence::try_from(f64::NAN).is_err());
        assert!(Confidence::try_from(0.0).is_ok());
    }
}
