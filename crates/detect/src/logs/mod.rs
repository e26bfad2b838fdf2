//! Log template mining and log anomaly signals.
//!
//! - [`TemplateMiner`] gives every message a stable template id and a template with `<*>` for
//!   its variable parts, in one pass with bounded memory; its state serialises, reloads and
//!   merges across shards.

mod mask;
mod miner;

pub use miner::{ClusterId, MinerConfig, MinerStats, Template, TemplateId, TemplateMiner};
