//! Alerts and incidents.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::labels::Labels;
use crate::time::{TimeRange, Timestamp};

/// Whether an alert is still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Firing or triggered.
    Firing,
    /// Acknowledged by a person, still open.
    Acknowledged,
    /// Silenced or inhibited.
    Suppressed,
    /// Resolved.
    Resolved,
}

/// One alert or paging incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// Id in the source system (fingerprint, incident id).
    pub id: String,
    /// Alert name or incident title.
    pub name: String,
    /// Current status.
    pub status: AlertStatus,
    /// Severity or urgency as the source spells it.
    pub severity: Option<String>,
    /// The service it concerns, when known.
    pub service: Option<String>,
    /// When it started firing.
    pub started_at: Timestamp,
    /// When it resolved, when it has.
    pub ended_at: Option<Timestamp>,
    /// Labels (Alertmanager) or derived fields.
    pub labels: Labels,
    /// Summary or description.
    pub summary: Option<String>,
}

/// The incident a bundle is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    /// Free-text id.
    pub id: String,
    /// Title, when given.
    pub title: Option<String>,
    /// When the alert fired.
    pub detected_at: Timestamp,
    /// The analysis window (default `detected_at - 2h .. detected_at + 30m`).
    pub window: TimeRange,
    /// Services the alert names.
    pub services: Vec<String>,
}

impl Incident {
    /// Default window before `detected_at`: two hours.
    pub const DEFAULT_LOOKBACK_MS: i64 = 2 * 3600 * 1000;
    /// Default window after `detected_at`: thirty minutes.
    pub const DEFAULT_LOOKAHEAD_MS: i64 = 30 * 60 * 1000;

    /// The default window around `detected_at`.
    #[must_use]
    pub fn default_window(detected_at: Timestamp) -> TimeRange {
        TimeRange {
            start: detected_at.add_millis(-Self::DEFAULT_LOOKBACK_MS),
            end: detected_at.add_millis(Self::DEFAULT_LOOKAHEAD_MS),
        }
    }
}
