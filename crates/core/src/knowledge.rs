//! Knowledge documents (runbooks, postmortems, ADRs) and policy files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;

/// One section of a Markdown document: a heading and the lines under it up to the next
/// heading of any level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Section {
    /// Heading path, outermost first (`["Checkout runbook", "High latency"]`); empty for text
    /// before the first heading.
    pub headings: Vec<String>,
    /// Heading level (1 to 6; 0 for text before the first heading).
    pub level: u8,
    /// First line (1-based, the heading line itself).
    pub line_start: u64,
    /// Last line (1-based, inclusive).
    pub line_end: u64,
    /// The section's text, heading included.
    pub text: String,
}

/// A Markdown document split into sections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KnowledgeDoc {
    /// Bundle-relative path.
    pub path: String,
    /// The first level-1 heading, else the file name.
    pub title: String,
    /// SHA-256 of the file.
    pub sha256: ContentHash,
    /// Sections in document order.
    pub sections: Vec<Section>,
}

/// A Rego policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyFile {
    /// Bundle-relative path.
    pub path: String,
    /// The package it declares (`main`, `k8s.security`).
    pub package: String,
    /// SHA-256 of the file.
    pub sha256: ContentHash,
    /// The source text.
    pub text: String,
}
