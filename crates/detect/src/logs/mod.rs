//! Log template mining and log anomaly signals.
//!
//! [`log_signals`] finds, for an incident window, templates never seen before it, templates
//! whose rate jumped and error-severity surges, each with an `Evidence` item.
//!
//! [`TemplateMiner`] gives every message a stable template id and a template with `<*>` for its
//! variable parts, in one pass with bounded memory ([`MinerConfig::max_clusters`]); its state
//! serialises, reloads and merges across shards.
//!
//! Masking works at the smallest part of a token that holds a variable (`node-12` becomes
//! `node-<*>`, `(TID 3).` keeps its brackets), and renders templates in the style of the
//! corrected loghub labels (Khan et al., ICSE 2022). Messages that mask to the same text form a
//! cluster; clusters become templates by a deterministic consolidation (see [`TemplateMiner`]):
//! within a token count, split on columns that look like constants, wildcard what varies; then
//! templates of different lengths that share their constant words (a list of variable length,
//! an optional `(0.4 KB)`) are merged, and so are near-duplicate templates of one length found by
//! MinHash LSH ([`near_duplicates`], gaoya) whose differing columns look like variables.
//!
//! With the `similarity` feature, `TemplateIndex` finds similar templates with an HNSW index
//! (hnsw_rs) over a built-in hashed embedding (`embed`) or user-supplied vectors.
//!
//! Template ids are the hash of the template text, so they are stable across runs, shards and
//! processes; they change only when a template's text does (a masking rule changed in a new
//! version, or more lines showed a column to be variable).

mod lsh;
mod mask;
mod miner;
mod signals;
#[cfg(feature = "similarity")]
mod similar;

pub use lsh::near_duplicates;
pub use miner::{ClusterId, EVICTED, MinerConfig, MinerStats, Template, TemplateId, TemplateMiner};
pub use signals::{LogExample, LogSignal, LogSignals, SignalConfig, SignalKind, log_signals, signal_window};
#[cfg(feature = "similarity")]
pub use similar::{IndexConfig, SimilarTemplate, SimilarityError, TemplateIndex, cosine, embed};
