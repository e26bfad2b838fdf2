//! Log records.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::labels::Labels;
use crate::time::Timestamp;

/// Log severity, normalised from the many spellings in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// TRACE, FINEST.
    Trace,
    /// DEBUG, FINE.
    Debug,
    /// INFO.
    Info,
    /// NOTICE.
    Notice,
    /// WARN, WARNING.
    Warn,
    /// ERROR, ERR, SEVERE.
    Error,
    /// CRITICAL, CRIT, ALERT, EMERG.
    Critical,
    /// FATAL, PANIC.
    Fatal,
}

impl Severity {
    /// Parses a level word, case-insensitively (`E`, `warning`, `SEVERE`, `crit`, klog's `I`/`W`/`E`/`F`).
    ///
    /// ```
    /// use faultlens_core::Severity;
    /// assert_eq!(Severity::parse("warning"), Some(Severity::Warn));
    /// assert_eq!(Severity::parse("E"), Some(Severity::Error));
    /// assert_eq!(Severity::parse("banana"), None);
    /// ```
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() > 9 {
            return None;
        }
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" | "finest" | "finer" | "t" => Self::Trace,
            "debug" | "fine" | "dbg" | "d" => Self::Debug,
            "info" | "information" | "informational" | "i" => Self::Info,
            "notice" | "n" => Self::Notice,
            "warn" | "warning" | "w" => Self::Warn,
            "error" | "err" | "severe" | "e" => Self::Error,
            "critical" | "crit" | "alert" | "emerg" | "emergency" | "c" => Self::Critical,
            "fatal" | "panic" | "f" => Self::Fatal,
            _ => return None,
        })
    }

    /// Whether this is `Error` or worse.
    #[must_use]
    pub fn is_error(self) -> bool {
        self >= Self::Error
    }
}

/// One log line. The source, service and stream labels are shared between the lines of a
/// stream (`Arc`), so a million lines cost a million messages, not a million label maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogRecord {
    /// The bundle-relative source file.
    pub source: Arc<str>,
    /// 1-based line in the source file, or 1-based entry index for JSON bodies.
    pub line: u64,
    /// When the line was written, when known.
    pub timestamp: Option<Timestamp>,
    /// The service that wrote it, when known.
    pub service: Option<Arc<str>>,
    /// Severity, when known.
    pub level: Option<Severity>,
    /// Stream labels and parsed header fields (for example `Component`).
    pub labels: Arc<Labels>,
    /// The message (for raw logs, the `<Content>` part).
    pub message: String,
}

impl LogRecord {
    /// A record from its parts; the source is shared, the service and labels are wrapped.
    #[must_use]
    pub fn new(
        source: &Arc<str>,
        line: u64,
        timestamp: Option<Timestamp>,
        service: Option<&str>,
        level: Option<Severity>,
        labels: Labels,
        message: String,
    ) -> Self {
        Self {
            source: Arc::clone(source),
            line,
            timestamp,
            service: service.map(Arc::from),
            level,
            labels: Arc::new(labels),
            message,
        }
    }
}
