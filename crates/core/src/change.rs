//! Change events: deploys, rollbacks, config and flag changes, scaling, infrastructure.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What kind of change an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new version rolled out.
    Deploy,
    /// A return to an earlier version.
    Rollback,
    /// A configuration change.
    Config,
    /// A feature-flag change.
    Flag,
    /// A replica-count or resource change.
    Scale,
    /// An infrastructure change (nodes, network, cloud resources).
    Infra,
}

impl ChangeKind {
    /// All kinds, in declaration order.
    pub const ALL: [Self; 6] = [Self::Deploy, Self::Rollback, Self::Config, Self::Flag, Self::Scale, Self::Infra];

    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Rollback => "rollback",
            Self::Config => "config",
            Self::Flag => "flag",
            Self::Scale => "scale",
            Self::Infra => "infra",
        }
    }
}

/// One change to the system, from any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeEvent {
    /// Stable id (`argocd:payments:42`).
    pub id: String,
    /// When it took effect.
    pub at: Timestamp,
    /// The service changed.
    pub service: String,
    /// What kind of change.
    pub kind: ChangeKind,
    /// Version or value before.
    pub from: Option<String>,
    /// Version or value after.
    pub to: Option<String>,
    /// The system that recorded it (`argocd`, `github`, `flux`, ...).
    pub source: Option<String>,
    /// Who made it.
    pub author: Option<String>,
    /// Free text.
    pub description: Option<String>,
}
